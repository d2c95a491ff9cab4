"""Diagnostics for method=tag (helperD). Usage: python tag_diag.py <auxrun overrides...>

Runs auxrun in-process with auxrun.methods.tag.lookahead wrapped: the original lookahead runs first
(so the recorded Z is the method's own, bit for bit), then, from the same parameters and optimizer
state and without touching either (autograd.grad only, eval mode, no RNG use), extra measurements:

  directions d: each auxiliary's gradient g_a (clipped as the method clips), 'zero' (g = 0) and
                'self' (the primary's own gradient on X_p, clipped over encoder + primary head);
  update rules: adam  - the method's AdamW lookahead from the optimizer's current moments;
                fresh - AdamW from an empty state (m = g, v = g^2 after bias correction: lr*g/|g|);
                sgd   - theta - lr * g;
  eval sets:    xp (the method's primary batch), x2 (another random primary train batch),
                tr (all primary train examples), dev (the primary's select_dev split);
  Z = 1 - L(theta')/L(theta) per (direction, rule, eval set); plus cos(g_a, g_p) per encoder block,
  gradient norms, and |delta_a - delta_0| / |delta_0| for the adam rule (how much of the lookahead
  step is the auxiliary's own gradient rather than the optimizer's momentum).

Writes <run dir>/tag_diag.json (one record per lookahead, and the pass's epoch history).
"""

from __future__ import annotations

import json
import math
import random
import sys

import torch
import torch.nn.functional as F
from torch.func import functional_call

import auxrun.methods.tag as tag
from auxrun.data.features import collate
from auxrun.training import params
from auxrun.training.trainer import MTLTrainer

import os

LIGHT = os.environ.get("DIAG_LIGHT") == "1"  # adam rule only, eval sets xp/tr/dev (what head_adapted needs)
ORIG = tag.lookahead
RECORDS: list[dict] = []
TRAINED: dict[str, int] = {}


def _batch(trainer, task, split, idx):
    data = trainer.pool.split(task, split)
    return trainer._to_device(collate(data, idx, trainer.pool.specs[task].objective, trainer.pad_id))


def _loss(trainer, model, theta, task, batch):
    with torch.no_grad(), trainer._autocast():
        if theta is None:
            out = model(task, batch)
        else:
            out = params.functional_forward(model, theta, task, batch)
    return float(out.losses.float().mean())


def _block(name: str) -> str:
    if ".embeddings." in name:
        return "emb"
    for i in range(12):
        if f".layer.{i}." in name:
            return f"L{i}"
    return "other"


def diag_lookahead(trainer, primary, auxiliaries, batches):
    look = ORIG(trainer, primary, auxiliaries, batches)
    model = trainer.model
    named = dict(model.named_parameters())
    enc = tag.encoder_names(model)
    opt = trainer.optimizer
    was = model.training
    model.eval()
    try:
        seed = trainer.cfg.seed
        step = trainer.step
        n_tr = len(trainer.pool.split(primary, "train"))
        tr_idx = list(trainer.batches[primary].indices)
        rng = random.Random(f"diag-{seed}-{step}")
        x2_idx = sorted(rng.sample(tr_idx, min(trainer.cfg.train.batch_size, len(tr_idx))))
        n_dev = len(trainer.pool.split(primary, "select_dev"))
        evals = {
            "xp": batches[primary],
            **({} if LIGHT else {"x2": _batch(trainer, primary, "train", x2_idx)}),
            "tr": _batch(trainer, primary, "train", tr_idx),
            "dev": _batch(trainer, primary, "select_dev", list(range(n_dev))),
        }
        base = {k: _loss(trainer, model, None, primary, b) for k, b in evals.items()}

        # gradients: primary (xp and dev), each auxiliary
        def grads(task, batch, names):
            with trainer._autocast():
                out = model(task, batch)
            gs = torch.autograd.grad(out.losses.float().mean(), [named[n] for n in names], allow_unused=True)
            return {n: torch.zeros_like(named[n]) if g is None else g for n, g in zip(names, gs)}

        pnames = enc + tag.head_names(model, primary)
        g_p_full = grads(primary, batches[primary], pnames)
        g_p = {n: g_p_full[n] for n in enc}
        g_pdev = grads(primary, evals["dev"], enc)
        dirs, raw = {}, {}
        norms = {}
        for a in auxiliaries:
            names = enc + tag.head_names(model, a)
            g = grads(a, batches[a], names)
            raw[a] = {n: g[n] for n in enc}
            norms[a] = float(tag._flat(g, names).norm())
            c = tag._clip(g, trainer.cfg.train.max_grad_norm)
            dirs[a] = {n: c[n] for n in enc}
        norms["primary"] = float(tag._flat(g_p_full, pnames).norm())
        norms["primary_enc"] = float(tag._flat(g_p, enc).norm())
        cp = tag._clip(g_p_full, trainer.cfg.train.max_grad_norm)
        dirs["self"] = {n: cp[n] for n in enc}
        dirs["zero"] = {n: torch.zeros_like(named[n]) for n in enc}

        # cosines, overall and per block, with the xp and the dev primary gradient
        blocks = sorted({_block(n) for n in enc})
        cos = {}
        for a in auxiliaries:
            row = {
                "all": tag._cosine(tag._flat(raw[a], enc), tag._flat(g_p, enc)),
                "all_dev": tag._cosine(tag._flat(raw[a], enc), tag._flat(g_pdev, enc)),
            }
            for b in blocks:
                ns = [n for n in enc if _block(n) == b]
                row[b] = tag._cosine(tag._flat(raw[a], ns), tag._flat(g_p, ns))
            cos[a] = row
        cos_p_dev = tag._cosine(tag._flat(g_p, enc), tag._flat(g_pdev, enc))

        group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
        lr = float(group_of[id(named[enc[0]])]["lr"])
        theta0 = {n: named[n] for n in enc}
        z, delta_ratio, z_thetas = {}, {}, {}
        adam_zero = None
        for d, g in dirs.items():
            rules = {"adam": tag.adamw_lookahead(opt, theta0, g)}
            if d != "zero" and not LIGHT:
                with torch.no_grad():
                    rules["sgd"] = {n: theta0[n] - lr * g[n] for n in enc}
                    rules["fresh"] = {n: theta0[n] - lr * g[n] / (g[n].abs() + 1e-8) for n in enc}
            if d == "zero":
                adam_zero = rules["adam"]
            z[d] = {}
            for r, th in rules.items():
                z[d][r] = {
                    k: (1.0 - _loss(trainer, model, th, primary, b) / base[k]) if base[k] > 0 else 0.0
                    for k, b in evals.items()
                }
            z[d]["_theta_adam"] = rules["adam"]
            z_thetas[d] = rules["adam"]
        for d in dirs:
            th = z[d].pop("_theta_adam")
            with torch.no_grad():
                num = math.sqrt(sum(float(((th[n] - adam_zero[n]) ** 2).sum()) for n in enc))
                den = math.sqrt(sum(float(((adam_zero[n] - theta0[n]) ** 2).sum()) for n in enc))
            delta_ratio[d] = num / den if den > 0 else float("nan")
        # head-adapted Z: the primary's head refit for k full-batch Adam steps (lr = backbone lr) on
        # the primary's train features at theta and at each theta'_a (encoder frozen), dev loss after
        adapt = head_adapted(trainer, model, primary, evals, {d: z_thetas[d] for d in z_thetas}, theta0)
        RECORDS.append(
            {
                "step": step,
                "lr": lr,
                "trained": dict(TRAINED),
                "z_method": look.z,
                "cos_method": look.cosine,
                "base": base,
                "z": z,
                "cos": cos,
                "cos_p_xp_dev": cos_p_dev,
                "norms": norms,
                "delta_ratio": delta_ratio,
                "n_train_primary": n_tr,
                "adapt": adapt,
            }
        )
    finally:
        model.train(was)
    return look


KS = (0, 6, 30, 100)


def _features(model, theta_enc, batch):
    inputs = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in batch}
    sub = {n[len("encoder."):]: v for n, v in theta_enc.items()}
    with torch.no_grad():
        if theta_enc is None:
            return model.encoder(**inputs).last_hidden_state
        return functional_call(model.encoder, sub, (), inputs, strict=False, tie_weights=False).last_hidden_state


def head_adapted(trainer, model, primary, evals, thetas, theta0):
    head = model.heads[primary]
    obj = head.objective
    W0, b0 = head.out.weight.detach(), head.out.bias.detach()
    lr = trainer.lr
    cands = {"base": theta0, **thetas}
    losses = {}
    for name, th in cands.items():
        h_tr = obj.head_input(_features(model, th, evals["tr"]))
        h_dev = obj.head_input(_features(model, th, evals["dev"]))
        y_tr, y_dev = evals["tr"]["labels"], evals["dev"]["labels"]
        W, b = W0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
        opt = torch.optim.Adam([W, b], lr=lr)
        out = {}
        for k in range(max(KS) + 1):
            if k in KS:
                with torch.no_grad():
                    out[k] = float(obj.per_example_loss(obj.shape_logits(F.linear(h_dev, W, b), None), y_dev).mean())
            if k == max(KS):
                break
            loss = obj.per_example_loss(obj.shape_logits(F.linear(h_tr, W, b), None), y_tr).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses[name] = out
    return {
        "loss": losses,
        "z": {d: {k: 1.0 - losses[d][k] / losses["base"][k] for k in KS} for d in thetas},
    }


_orig_train_batches = MTLTrainer.train_batches


def counting_train_batches(self, task, k=1):
    TRAINED[task] = TRAINED.get(task, 0) + k
    return _orig_train_batches(self, task, k)


_orig_fit = MTLTrainer.fit


def diag_fit(self):
    if self.stage != "tag_pass":
        return _orig_fit(self)
    RECORDS.clear()
    TRAINED.clear()
    out = _orig_fit(self)
    hist = [{k: v for k, v in row.items() if "primary" in k or k == "epoch" or "/loss" in k or "f1" in k or "accuracy" in k or k == "train_loss"} for row in self.history]
    if self.run_dir is not None:
        (self.run_dir / "tag_diag.json").write_text(json.dumps({"records": RECORDS, "history": hist}))
    return out


tag.lookahead = diag_lookahead
MTLTrainer.train_batches = counting_train_batches
MTLTrainer.fit = diag_fit

if __name__ == "__main__":
    from auxrun import cli

    sys.argv = ["auxrun", *sys.argv[1:]]
    cli.main()

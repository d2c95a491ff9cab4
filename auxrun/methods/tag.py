"""TAG, task affinity by lookahead (Fifty, Amid, Zhao, Yu, Anil and Finn 2021, "Efficiently
Identifying Task Groupings for Multi-Task Learning", NeurIPS; section 3, Eq. 1-3).

One MTL pass trains the primary and every candidate together (the trainer's size-proportional
schedule, ``method.epochs`` epochs, default ``train.epochs``). Every ``every`` optimizer steps
(default 10), from the current parameters theta and for each auxiliary a:

1. g_a: the gradient of a's mean loss on a mini-batch of a w.r.t. the shared encoder;
2. theta'_a: the optimizer's own update with g_a (AdamW from its current moments, bias corrections,
   learning rate and weight decay, as TAG's code applies its optimizer), on the encoder only: the
   primary's head is a task-specific parameter and stays (Eq. 2, theta_s);
3. Z(a -> p) = 1 - L_p(X_p, theta'_a) / L_p(X_p, theta) on one primary mini-batch X_p (Eq. 3).

theta'_a is never written into the model (``torch.func.functional_call``), so nothing has to be
restored. A task's score is Z averaged over the pass (the paper's "averaged over training"); it
selects the auxiliaries with Z > ``threshold`` (0: the update lowered the primary's loss), or the
``top_k`` highest when set. The same lookahead records cos(g_a, g_p) on the encoder, its mean over
the pass is ``scores_cosine`` in selection.json: a second selector (gradient cosine, as in Yu et
al. 2020 and the paper's baseline "cos") from the same run; ``scores_cosine_selected`` is what it
would keep under the same rule at threshold 0.

Departures from the paper and its code, and choices where it is silent:
- The paper trains every task on each step (one batch per task); auxrun trains one task per
  mini-batch (MT-DNN). The lookahead draws its own batch of each task (a function of seed and
  step), so it neither moves the training streams nor uses the torch RNG: the pass trains exactly
  what a plain MTL run with the same tasks and seed trains (tested).
- The lookahead runs in eval mode (no dropout): Z measures the update, not dropout noise.
- The gradient is clipped as the trainer's step on task a clips it (``train.max_grad_norm`` over
  the encoder and a's head) before the update; the cosine is of the unclipped gradients (clipping
  only scales them).
- The first lookahead is after ``every`` steps, not at step 0: the linear warm-up's learning rate
  is 0 there, so every Z would be exactly 0.
- Only the primary's row of the affinity matrix is computed (Z(a -> p) for each a), not the
  all-pairs matrix the paper's grouping needs: auxrun selects for one primary. Cost per lookahead:
  one forward-backward per task and one forward per auxiliary; bench/tag_overhead.py measures it
  against a plain MTL epoch (the issue's bound is 1.5x at every=10).
- Resume: the pass checkpoints after each epoch (``checkpoints/tag_pass.pt``) with the running
  sums, so an interrupted run continues from its last finished epoch.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from auxrun.config import MethodConfig
from auxrun.errors import ConfigError
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.selection import Selection
from auxrun.training.controller import Controller

if TYPE_CHECKING:
    from auxrun.training.controller import TrainerHooks


@dataclass
class TagConfig(MethodConfig):
    name: str = "tag"
    every: int = 10  # s: a lookahead every s optimizer steps (issue 24's default)
    epochs: int | None = None  # epochs of the MTL pass; None: train.epochs
    threshold: float = 0.0  # select Z > threshold
    top_k: int | None = None  # select the k highest Z instead of thresholding


@dataclass
class Lookahead:
    """One lookahead from theta: per auxiliary, Z(a -> primary) and cos(g_a, g_p)."""

    z: dict[str, float]
    cosine: dict[str, float]
    primary_loss: float


def adamw_lookahead(
    optimizer: torch.optim.Optimizer, named: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """theta' = what ``optimizer`` (AdamW) would make of the parameters ``named`` given ``grads``,
    from its current state (moments, step count, learning rate, weight decay), without changing the
    optimizer or the parameters: torch.optim.AdamW's update (amsgrad off), with foreach kernels
    over the tensors that share a parameter group and a step count."""
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    buckets: dict[tuple[int, float], list[str]] = {}
    for n, p in named.items():
        state = optimizer.state.get(p, {})
        step = float(state["step"]) if "step" in state else 0.0
        buckets.setdefault((id(group_of[id(p)]), step), []).append(n)
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for (_gid, step), names in buckets.items():
            group = group_of[id(named[names[0]])]
            lr, wd, eps = float(group["lr"]), float(group["weight_decay"]), float(group["eps"])
            b1, b2 = group["betas"]
            ps = [named[n] for n in names]
            gs = [grads[n].to(named[n].dtype) for n in names]
            if step > 0:
                states = [optimizer.state[p] for p in ps]
                m = torch._foreach_mul([s["exp_avg"] for s in states], b1)
                v = torch._foreach_mul([s["exp_avg_sq"] for s in states], b2)
            else:
                m = [torch.zeros_like(p) for p in ps]
                v = [torch.zeros_like(p) for p in ps]
            torch._foreach_add_(m, gs, alpha=1 - b1)
            torch._foreach_addcmul_(v, gs, gs, value=1 - b2)
            t = step + 1
            denom = torch._foreach_sqrt(v)
            torch._foreach_div_(denom, math.sqrt(1 - b2**t))
            torch._foreach_add_(denom, eps)
            new = torch._foreach_mul(ps, 1 - lr * wd)
            torch._foreach_addcdiv_(new, m, denom, value=-lr / (1 - b1**t))
            out.update(zip(names, new))
    return out


def _flat(grads: dict[str, torch.Tensor], names: list[str]) -> torch.Tensor:
    return torch.cat([grads[n].reshape(-1).float() for n in names])


def _clip(grads: dict[str, torch.Tensor], max_norm: float) -> dict[str, torch.Tensor]:
    """torch.nn.utils.clip_grad_norm_'s scaling, on a dict of gradients."""
    if max_norm <= 0 or not grads:
        return grads
    total = torch.linalg.vector_norm(_flat(grads, list(grads)))
    coef = float(torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return grads if coef == 1.0 else {n: g * coef for n, g in grads.items()}


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    na, nb = float(a.norm()), float(b.norm())
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else 0.0


def lookahead_batches(trainer: TrainerHooks, tasks: list[str], seed: int, step: int) -> dict[str, dict]:
    """One mini-batch of each task's training examples, a function of (seed, step, task)."""
    out = {}
    for t in tasks:
        indices = trainer.train_indices(t)
        rng = random.Random(f"tag-{seed}-{step}-{t}")
        idx = sorted(rng.sample(indices, min(trainer.batch_size, len(indices))))
        out[t] = trainer.batch(t, "train", idx)
    return out


def _grads(loss: torch.Tensor, named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """d loss / d each parameter (zeros where it does not reach)."""
    grads = torch.autograd.grad(loss, list(named.values()), allow_unused=True)
    return {n: torch.zeros_like(p) if g is None else g for (n, p), g in zip(named.items(), grads)}


def lookahead(
    trainer: TrainerHooks, primary: str, auxiliaries: list[str], batches: dict[str, dict]
) -> Lookahead:
    """Z(a -> primary) and cos(g_a, g_p) for each auxiliary from the model's current parameters
    (Eq. 3), in eval mode; the model, its optimizer and the RNG are left as they were."""
    shared = trainer.shared_parameters()  # theta_s of Eq. 2
    enc = list(shared)
    loss_p = trainer.forward(primary, batches[primary]).losses.float().mean()
    g_p_flat = _flat(_grads(loss_p, shared), enc)
    base = float(loss_p.detach())
    z, cos = {}, {}
    for a in auxiliaries:
        out_a = trainer.forward(a, batches[a])
        g_a = _grads(out_a.losses.float().mean(), {**shared, **trainer.head_parameters(a)})
        cos[a] = _cosine(_flat(g_a, enc), g_p_flat)
        clipped = _clip(g_a, trainer.max_grad_norm)
        theta = adamw_lookahead(trainer.optimizer, shared, clipped)
        with torch.no_grad():
            after = trainer.forward(primary, batches[primary], at=theta)
        z[a] = 1.0 - float(after.losses.float().mean()) / base if base > 0 else 0.0
    n_p = len(batches[primary]["input_ids"])
    n_a = sum(len(batches[a]["input_ids"]) for a in auxiliaries)
    trainer.ledger.count(forward=n_p * (1 + len(auxiliaries)) + n_a, backward=n_p + n_a)
    return Lookahead(z, cos, base)


class TagController(Controller):
    """Trains the default schedule and, every ``every`` steps, records one lookahead."""

    def __init__(self, cfg: TagConfig, primary: str, auxiliaries: list[str], seed: int):
        self.cfg, self.primary, self.auxiliaries, self.seed = cfg, primary, list(auxiliaries), seed
        self.z_sum = {a: 0.0 for a in auxiliaries}
        self.cos_sum = {a: 0.0 for a in auxiliaries}
        self.n = 0
        self._epoch = {"z": {a: 0.0 for a in auxiliaries}, "cos": {a: 0.0 for a in auxiliaries}, "n": 0}

    def on_epoch_start(self, trainer: TrainerHooks, epoch: int) -> None:
        self._epoch = {"z": dict.fromkeys(self.auxiliaries, 0.0), "cos": dict.fromkeys(self.auxiliaries, 0.0)}
        self._epoch["n"] = 0

    def choose_task(self, trainer: TrainerHooks, step: int, scheduled: str) -> str:
        if trainer.step > 0 and trainer.step % self.cfg.every == 0:
            with trainer.ledger.stage("select/tag_pass/lookahead"):
                batches = lookahead_batches(
                    trainer, [self.primary, *self.auxiliaries], self.seed, trainer.step
                )
                look = lookahead(trainer, self.primary, self.auxiliaries, batches)
            for a in self.auxiliaries:
                self.z_sum[a] += look.z[a]
                self.cos_sum[a] += look.cosine[a]
                self._epoch["z"][a] += look.z[a]
                self._epoch["cos"][a] += look.cosine[a]
            self.n += 1
            self._epoch["n"] += 1
        return scheduled

    def scores(self) -> tuple[dict[str, float], dict[str, float]]:
        n = max(1, self.n)
        return {a: v / n for a, v in self.z_sum.items()}, {a: v / n for a, v in self.cos_sum.items()}

    def epoch_record(self, trainer: TrainerHooks, epoch: int) -> dict[str, dict[str, float]]:
        n = max(1, self._epoch["n"])
        return {
            "tag_z": {a: v / n for a, v in self._epoch["z"].items()},
            "tag_cosine": {a: v / n for a, v in self._epoch["cos"].items()},
        }

    def state_dict(self) -> dict[str, Any]:
        return {"z_sum": dict(self.z_sum), "cos_sum": dict(self.cos_sum), "n": self.n}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.z_sum, self.cos_sum, self.n = dict(state["z_sum"]), dict(state["cos_sum"]), int(state["n"])


def pick(scores: dict[str, float], order: list[str], threshold: float, top_k: int | None) -> list[str]:
    """Candidates highest score first (ties: pool order); the top k, or those above the threshold."""
    ranked = sorted(order, key=lambda t: (-scores[t], order.index(t)))
    if top_k is not None:
        return ranked[:top_k]
    return [t for t in ranked if scores[t] > threshold]


@register("tag", TagConfig)
class Tag(Method):
    cfg: TagConfig

    @classmethod
    def validate_config(cls, cfg, specs) -> None:
        from auxrun.validate import _range

        m = cfg.method
        _range("method.every", m.every, 1)
        if m.epochs is not None and m.epochs < 1:
            raise ConfigError(f"method.epochs={m.epochs} is out of range; allowed: [1, inf] or null")
        if m.top_k is not None and m.top_k < 0:
            raise ConfigError(f"method.top_k={m.top_k} is out of range; allowed: [0, inf] or null")

    def select(self) -> Selection:
        ctx, pool = self.ctx, self.ctx.pool
        aux = list(pool.auxiliaries)
        controller = TagController(self.cfg, pool.primary, aux, ctx.cfg.seed)
        everything = Selection(method=self.name, primary=pool.primary, candidates=aux, selected_tasks=aux)
        with ctx.ledger.stage("select/tag_pass"):
            trainer = ctx.new_trainer(
                everything,
                "tag_pass",
                epochs=self.cfg.epochs,
                controller=controller,
                eval_splits=["select_dev"],
                best_split="select_dev",
                checkpoint=True,
                progress=not ctx.cfg.quiet,
            )
            if ctx.cfg.resume and trainer.load_checkpoint():
                ctx.ledger.note("select/tag_pass", f"resumed after epoch {trainer.start_epoch}")
            trainer.fit()
        z, cosine = controller.scores()
        selected = pick(z, aux, self.cfg.threshold, self.cfg.top_k)
        extra = {
            "ranking": pick(z, aux, float("-inf"), None),
            "scores_cosine": cosine,
            "scores_cosine_selected": pick(cosine, aux, self.cfg.threshold, self.cfg.top_k),
            "lookaheads": controller.n,
            "every": self.cfg.every,
            "threshold": self.cfg.threshold,
            "top_k": self.cfg.top_k,
            "tag_history": trainer.decisions,
        }
        return self.selection(selected, scores=z, extra=extra)

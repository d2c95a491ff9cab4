"""tag_diag.py plus, for a tagging primary, the fixed-head lookahead's effect per gold tag: the primary's
token cross-entropy on select_dev summed per gold class at theta and at theta'_a (AdamW lookahead of
each auxiliary and of g = 0). Writes <run dir>/tag_diag_tok.json. Usage as tag_diag.py."""

from __future__ import annotations

import json
import sys

import torch
import torch.nn.functional as F

import tag_diag as D
from auxrun.data.features import IGNORE
from auxrun.training import params
from auxrun.training.trainer import MTLTrainer

TOK: list[dict] = []
_inner = D.tag.lookahead  # tag_diag's wrapper


def tok_lookahead(trainer, primary, auxiliaries, batches):
    look = _inner(trainer, primary, auxiliaries, batches)
    spec = trainer.pool.specs[primary]
    if spec.objective != "sequence_labeling":
        return look
    model = trainer.model
    named = dict(model.named_parameters())
    enc = D.tag.encoder_names(model)
    was = model.training
    model.eval()
    try:
        n_dev = len(trainer.pool.split(primary, "select_dev"))
        dev = D._batch(trainer, primary, "select_dev", list(range(n_dev)))
        labels = dev["labels"]

        def per_class(theta):
            with torch.no_grad():
                out = model(primary, dev) if theta is None else params.functional_forward(model, theta, primary, dev)
                tok = F.cross_entropy(out.logits.float().transpose(1, 2), labels, reduction="none", ignore_index=IGNORE)
            res = {}
            for i, name in enumerate(spec.labels):
                m = labels == i
                res[name] = (float(tok[m].sum()), int(m.sum()))
            return res

        def grads(task, batch, names):
            out = model(task, batch)
            gs = torch.autograd.grad(out.losses.float().mean(), [named[n] for n in names], allow_unused=True)
            return {n: torch.zeros_like(named[n]) if g is None else g for n, g in zip(names, gs)}

        rec = {"step": trainer.step, "base": per_class(None)}
        theta0 = {n: named[n] for n in enc}
        for a in [*auxiliaries, "zero"]:
            if a == "zero":
                g = {n: torch.zeros_like(named[n]) for n in enc}
            else:
                names = enc + D.tag.head_names(model, a)
                g = D.tag._clip(grads(a, batches[a], names), trainer.cfg.train.max_grad_norm)
            rec[a] = per_class(D.tag.adamw_lookahead(trainer.optimizer, theta0, {n: g[n] for n in enc}))
        TOK.append(rec)
    finally:
        model.train(was)
    return look


D.tag.lookahead = tok_lookahead
_fit = MTLTrainer.fit


def fit(self):
    if self.stage == "tag_pass":
        TOK.clear()
    out = _fit(self)
    if self.stage == "tag_pass" and self.run_dir is not None:
        (self.run_dir / "tag_diag_tok.json").write_text(json.dumps(TOK))
    return out


MTLTrainer.fit = fit

if __name__ == "__main__":
    from auxrun import cli

    sys.argv = ["auxrun", *sys.argv[1:]]
    cli.main()

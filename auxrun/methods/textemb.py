"""TextEmb (Vu, Wang, Munkhdalai, Sordoni, Trischler, Mattarella-Micke, Maji and Iyyer 2020,
"Exploring and Predicting Transferability across NLP Tasks", EMNLP; section 5.1): training-free.

A task's embedding is the average, over its training examples, of the example's mean-pooled token
representations from the last layer of the (not fine-tuned) backbone; candidates are ranked by the
cosine similarity of their embedding to the primary's. The paper transfers from the top-ranked
source task, so ``top_k`` (default 1) selects the k most similar; ``threshold`` (a cosine) selects
every candidate at or above it instead.

Departures and choices where the paper is silent:
- The mean over tokens includes [CLS] and [SEP] (every token the attention mask keeps); pairs are
  one sequence ([CLS] a [SEP] b [SEP]) as the encoder reads them.
- A multiple-choice example contributes the mean of its choices' (context, choice) sequences.
- ``max_examples`` caps the examples read per task (a seeded random subset; null: all, the paper).
- It reads inputs only: two tasks on the same input distribution get the same embedding up to
  sampling noise, whatever their labels (``noise_floor`` in selection.json measures that noise:
  the cosine between two halves of the primary's own examples).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from auxrun.config import MethodConfig
from auxrun.data.features import EncodedSplit, collate
from auxrun.errors import ConfigError
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.selection import Selection


@dataclass
class TextEmbConfig(MethodConfig):
    name: str = "textemb"
    top_k: int = 1  # Vu et al. transfer from the top-ranked source task
    threshold: float | None = None  # a cosine: select every candidate at or above it instead
    max_examples: int | None = None  # per task; null: every training example (the paper)
    batch_size: int = 128  # of the forward passes; does not change the result


def example_indices(n: int, cap: int | None, seed: int, task: str) -> list[int]:
    if cap is None or cap >= n:
        return list(range(n))
    return sorted(random.Random(f"textemb-{seed}-{task}").sample(range(n), cap))


@torch.no_grad()
def mean_pooled(
    encoder: torch.nn.Module,
    split: EncodedSplit,
    objective: str,
    indices: list[int],
    pad_id: int,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """[N, D] per example: the mean of the last layer's token states over the attention mask (a
    multiple-choice example: the mean over its choices of each choice's mean)."""
    encoder.eval()
    rows = []
    for i in range(0, len(indices), batch_size):
        batch = collate(split, indices[i : i + batch_size], objective, pad_id)
        ids = batch["input_ids"]
        n_choices = ids.shape[1] if ids.dim() == 3 else None
        inputs = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in batch}
        inputs = {k: v.reshape(-1, v.shape[-1]).to(device) for k, v in inputs.items()}
        hidden = encoder(**inputs).last_hidden_state.float()
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        if n_choices is not None:
            pooled = pooled.view(-1, n_choices, pooled.shape[-1]).mean(1)
        rows.append(pooled.cpu().numpy().astype(np.float64))
    return np.concatenate(rows) if rows else np.zeros((0, 0))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else 0.0


def rank_and_pick(
    scores: dict[str, float], order: list[str], top_k: int | None, threshold: float | None
) -> tuple[list[str], list[str]]:
    """(ranking highest first, ties in pool order; the selection: at or above threshold, else top k)."""
    ranked = sorted(order, key=lambda t: (-scores[t], order.index(t)))
    if threshold is not None:
        return ranked, [t for t in ranked if scores[t] >= threshold]
    return ranked, ranked[: top_k or 0]


@register("textemb", TextEmbConfig)
class TextEmb(Method):
    cfg: TextEmbConfig

    @classmethod
    def validate_config(cls, cfg, specs) -> None:
        from auxrun.validate import _range

        m = cfg.method
        _range("method.top_k", m.top_k, 0)
        if m.max_examples is not None and m.max_examples < 2:
            raise ConfigError(
                f"method.max_examples={m.max_examples} is out of range; allowed: [2, inf] or null"
            )
        _range("method.batch_size", m.batch_size, 1)

    def select(self) -> Selection:
        ctx, pool = self.ctx, self.ctx.pool
        from auxrun.training.hardware import pick_device

        device = pick_device(ctx.cfg.hardware.device)
        encoder = ctx.new_model([pool.primary]).encoder.to(device)
        pad_id = ctx.pad_id
        pooled: dict[str, np.ndarray] = {}
        with ctx.ledger.stage("select/textemb"):
            for t in pool.tasks:
                split = pool.split(t, "train")
                idx = example_indices(len(split), self.cfg.max_examples, ctx.cfg.seed, t)
                pooled[t] = mean_pooled(
                    encoder, split, pool.specs[t].objective, idx, pad_id, self.cfg.batch_size, device
                )
                ctx.ledger.count(forward=len(idx))
        emb = {t: x.mean(0) for t, x in pooled.items()}
        scores = {a: cosine(emb[a], emb[pool.primary]) for a in pool.auxiliaries}
        ranked, selected = rank_and_pick(scores, pool.auxiliaries, self.cfg.top_k, self.cfg.threshold)
        p = pooled[pool.primary]
        half = len(p) // 2
        rng = np.random.default_rng(ctx.cfg.seed)
        perm = rng.permutation(len(p))
        floor = cosine(p[perm[:half]].mean(0), p[perm[half:]].mean(0)) if half else None
        extra = {
            "ranking": ranked,
            "top_k": self.cfg.top_k,
            "threshold": self.cfg.threshold,
            "examples": {t: len(x) for t, x in pooled.items()},
            "noise_floor": floor,  # cosine between two random halves of the primary's own examples
        }
        return self.selection(selected, scores=scores, extra=extra)

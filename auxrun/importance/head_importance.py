"""Per-example head importance from gate gradients, in one backward pass per batch.

Michel et al. (2019) define the importance of head h for a task as I_h = E_x |dL(x)/dxi_h|, where
xi_h is a gate multiplying head h's output (all ones, so the model is unchanged). The absolute value
is taken per example, so a batch-shared gate (whose gradient is the sum over the batch) is not
enough. The foundation's ``HeadGates`` gives each example its own gates ([B, L, H]); since example
b's loss depends only on its own gates, ``grad(sum_b L_b, gates)[b]`` is exactly dL_b/dxi, for the
whole batch after one backward pass. The paper's own code loops over examples one at a time.

Cost: weights have ``requires_grad`` off during the pass, so autograd computes no weight gradients
and stops at the first gate (embeddings and layer 0's attention get no backward at all); batches
are bucketed by length so little compute goes to padding. The model is in eval mode (no dropout),
so the importance is deterministic and equal to the per-example loop (tests/test_head_importance.py).

GradTS (paper 3.1, step 4) then normalises the matrix layer-wise and scales it to [0, 1] over the
whole matrix: ``normalize_importance``. The layer rule is Michel et al.'s: divide each layer's
scores by their l2 norm (their section 4, "we normalize the importance scores by layer using the
l2 norm"), which GradTS cites for step 4. Why it matters: Kendall's tau only sees ranks, and the
global min-max step is monotone, so the layer rule is the only part of the normalisation that
changes GradTS's output. Raw gradients grow towards the layers nearest the loss; without a layer
rule every matrix would rank the top layer's heads first and every pair of tasks would correlate.
The l2 rule removes each layer's overall scale and keeps the within-layer contrast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from auxrun.data.features import EncodedSplit, collate
from auxrun.models.mtl import MultiTaskModel

LAYER_NORMS = ("l2", "l1", "max", "none")


@dataclass
class HeadGradients:
    """The raw (unnormalised) head importance of one task's training split."""

    total: np.ndarray  # [L, H]: sum over examples of |dL(x)/dxi_h| (Michel et al.'s I_h times n)
    per_example: np.ndarray | None  # [N, L, H] in the split's index order, or None
    n_examples: int

    @property
    def mean(self) -> np.ndarray:
        return self.total / max(1, self.n_examples)


def length_buckets(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length and cut into batches: padding is at most a few tokens per batch."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@contextmanager
def frozen_weights(model: torch.nn.Module):
    """Weights need no gradient for a gate-gradient pass: autograd then skips them entirely."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def batch_head_gradients(model: MultiTaskModel, task: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """|dL(x)/dxi| for every example of one batch, [B, L, H], from one backward pass.

    Call with the model in eval mode and (for speed) inside ``frozen_weights``."""
    n = batch["input_ids"].shape[0]
    device = batch["input_ids"].device
    gates = model.gates.ones(batch=n, requires_grad=True, device=device)
    with torch.enable_grad(), model.gates.applied(gates):
        out = model(task, batch)
        (grad,) = torch.autograd.grad(out.losses.sum(), gates)
    return grad.abs()


def head_gradients(
    model: MultiTaskModel,
    task: str,
    split: EncodedSplit,
    objective: str,
    pad_id: int,
    batch_size: int = 32,
    per_example: bool = True,
    device: torch.device | str = "cpu",
    on_batch=None,
) -> HeadGradients:
    """Accumulate absolute per-example head gradients over a split, without updating anything.

    ``on_batch(n)`` is called after each batch (cost ledger, progress)."""
    was_training = model.training
    model.eval()  # no dropout: the importance is a deterministic function of the weights
    L, H = model.gates.shape
    total = torch.zeros(L, H, dtype=torch.float64)
    rows = torch.zeros(len(split), L, H, dtype=torch.float32) if per_example else None
    try:
        with frozen_weights(model):
            for idx in length_buckets(split.lengths(), batch_size):
                batch = {k: v.to(device) for k, v in collate(split, idx, objective, pad_id).items()}
                g = batch_head_gradients(model, task, batch).float().cpu()
                total += g.sum(0, dtype=torch.float64)
                if rows is not None:
                    rows[idx] = g
                if on_batch is not None:
                    on_batch(len(idx))
    finally:
        model.train(was_training)
    return HeadGradients(
        total=total.numpy(),
        per_example=None if rows is None else rows.numpy(),
        n_examples=len(split),
    )


def normalize_importance(matrix: np.ndarray, layer_norm: str = "l2", eps: float = 1e-12) -> np.ndarray:
    """GradTS 3.1 step 4: layer-wise normalisation, then min-max scaling to [0, 1] over the matrix.

    ``matrix`` is [L, H] or a stack [..., L, H] (each matrix normalised on its own). The layer rule
    (module docstring): divide each layer (row) by its l2 norm (Michel et al.), or l1 / max norm,
    or ``none``. A layer of all zeros stays zero; a constant matrix scales to all zeros."""
    m = np.asarray(matrix, dtype=np.float64)
    if layer_norm not in LAYER_NORMS:
        raise ValueError(f"layer_norm='{layer_norm}' is not one of {list(LAYER_NORMS)}")
    if layer_norm == "l2":
        m = m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), eps)
    elif layer_norm == "l1":
        m = m / np.maximum(np.abs(m).sum(-1, keepdims=True), eps)
    elif layer_norm == "max":
        m = m / np.maximum(np.abs(m).max(-1, keepdims=True), eps)
    lo = m.min(axis=(-2, -1), keepdims=True)
    hi = m.max(axis=(-2, -1), keepdims=True)
    return ((m - lo) / np.maximum(hi - lo, eps)).astype(np.float32)


def iter_loop_head_gradients(
    model: MultiTaskModel, task: str, split: EncodedSplit, objective: str, pad_id: int
) -> Iterator[torch.Tensor]:
    """Reference: one batch-size-1 backward per example (what the paper's code does), [L, H] each.
    Used by the tests (equality) and bench/head_importance.py (the baseline)."""
    model.eval()
    with frozen_weights(model):
        for i in range(len(split)):
            batch = collate(split, [i], objective, pad_id)
            gates = model.gates.ones(requires_grad=True)
            with torch.enable_grad(), model.gates.applied(gates):
                loss = model(task, batch).losses.sum()
                (grad,) = torch.autograd.grad(loss, gates)
            yield grad.abs()

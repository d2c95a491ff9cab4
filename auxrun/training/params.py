"""Parameter arithmetic for controllers that act on model updates (alpha-VIL, DIW).

A parameter set is a ``{name: tensor}`` dict over the model's trainable parameters, the names of
``model.named_parameters()``. Deltas may live on another device or in another dtype (``cpu`` /
``bf16`` to save accelerator memory); ``combine`` brings them back to the base's device and dtype.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def trainable(model: nn.Module) -> Params:
    """The live trainable parameters (no copies)."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def copy_params(model: nn.Module) -> Params:
    """A detached copy of the trainable parameters (theta)."""
    return {n: p.detach().clone() for n, p in trainable(model).items()}


def delta_since(
    model: nn.Module,
    base: Mapping[str, torch.Tensor],
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Params:
    """theta_now - base per parameter, optionally stored in ``dtype`` on ``device``."""
    out = {}
    for n, p in trainable(model).items():
        d = p.detach() - base[n]
        out[n] = d.to(device=device or d.device, dtype=dtype or d.dtype)
    return out


def combine(
    base: Mapping[str, torch.Tensor],
    deltas: Sequence[Mapping[str, torch.Tensor]],
    alphas: torch.Tensor | Sequence[float],
) -> Params:
    """base + sum_i alphas[i] * deltas[i]; differentiable in ``alphas`` when it is a tensor that
    requires grad. Deltas are cast to each base tensor's device and dtype."""
    out = {}
    for n, b in base.items():
        acc = b
        for a, d in zip(alphas, deltas):
            acc = acc + a * d[n].to(device=b.device, dtype=b.dtype)
        out[n] = acc
    return out


@torch.no_grad()
def load_params(model: nn.Module, params: Mapping[str, torch.Tensor]) -> None:
    """Write a parameter set into the model in place (optimizer references stay valid)."""
    for n, p in trainable(model).items():
        p.copy_(params[n].detach())


def functional_forward(model: nn.Module, params: Mapping[str, torch.Tensor], *args):
    """The model's forward at ``params`` (missing names: the model's own tensors), without writing
    them into the model: gradients flow to whatever ``params`` were computed from.

    ``tie_weights=False``: a module shared under two names (tied weights) is one object, so the
    value given for its first name reaches both; torch's default tying leaves the shared module's
    parameters replaced by the passed (non-leaf) tensors after the call (torch 2.13)."""
    return functional_call(model, dict(params), args, strict=False, tie_weights=False)


def nbytes(params: Mapping[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in params.values())

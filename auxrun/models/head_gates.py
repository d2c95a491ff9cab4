"""Attention-head gates as forward hooks on each layer's self-attention output.

transformers 5 removed ``head_mask``; a hook that scales the per-head slices of the self-attention
output does the same job (Michel et al., 2019's gate xi_h multiplies head h's output). Gates are
off by default (no hook, no cost). When attached, a gate tensor of shape ``[layers, heads]`` is
shared by the batch, and one of shape ``[batch, layers, heads]`` gives each example its own gates,
so ``grad`` of a summed loss w.r.t. the gates holds every example's head gradient after one backward.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import torch
from torch import nn

_LAYER_RE = re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.self$")


def find_self_attention(encoder: nn.Module) -> list[nn.Module]:
    """The self-attention module of each layer, in layer order (BERT, RoBERTa, MiniLM layouts)."""
    found = {}
    for name, module in encoder.named_modules():
        m = _LAYER_RE.search(name)
        if m:
            found[int(m.group(1))] = module
    if not found:
        raise ValueError(f"{type(encoder).__name__}: no '.layer.N.attention.self' modules to gate")
    return [found[i] for i in sorted(found)]


class HeadGates:
    def __init__(self, encoder: nn.Module):
        self.modules = find_self_attention(encoder)
        self.num_layers = len(self.modules)
        self.num_heads = int(encoder.config.num_attention_heads)
        self._handles: list = []

    @property
    def shape(self) -> tuple[int, int]:
        return self.num_layers, self.num_heads

    def ones(self, batch: int | None = None, requires_grad: bool = True, device=None) -> torch.Tensor:
        shape = self.shape if batch is None else (batch, *self.shape)
        return torch.ones(shape, device=device, requires_grad=requires_grad)

    @contextmanager
    def applied(self, gates: torch.Tensor):
        """Scale head outputs by ``gates`` ([L, H] or [B, L, H]) inside the block."""
        if tuple(gates.shape[-2:]) != self.shape:
            raise ValueError(
                f"gates of shape {tuple(gates.shape)}; expected [..., {self.num_layers}, {self.num_heads}]"
            )
        handles = [m.register_forward_hook(self._hook(gates, layer)) for layer, m in enumerate(self.modules)]
        try:
            yield gates
        finally:
            for h in handles:
                h.remove()

    def _hook(self, gates: torch.Tensor, layer: int):
        heads = self.num_heads

        def hook(module, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            b, s, hd = out.shape
            g = gates[..., layer, :]
            if g.dim() == 1:
                g = g.view(1, 1, heads, 1)
            else:
                if g.shape[0] != b:  # multiple choice flattens [B, C] into B*C rows
                    g = g.repeat_interleave(b // g.shape[0], dim=0)
                g = g.view(b, 1, heads, 1)
            out = (out.view(b, s, heads, hd // heads) * g.to(out.dtype)).view(b, s, hd)
            return (out, *output[1:]) if isinstance(output, tuple) else out

        return hook

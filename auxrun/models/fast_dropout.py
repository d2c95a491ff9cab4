"""A faster dropout for CPU training (``hardware.fast_dropout``), for hidden states and attention.

torch's CPU dropout draws its mask with ``bernoulli_`` (a float per element from MKL's generator,
then compared and converted), which on a 32x12x128x128 attention-probability tensor costs about
twice a uniform draw plus a compare. Here the mask comes from raw generator bits: ``random_`` over
the full 64-bit range fills half as many int64 words as there are elements (one 32-bit draw of the
Mersenne Twister per element, nothing converted), their int32 halves are compared with an integer
threshold, and the comparison is written straight into a float tensor and scaled. So the mask is
``scale`` where an element is kept and ``0`` where it is dropped; the output is ``x * mask`` and its
gradient ``grad * mask`` (plain autograd on a multiply, which saves only the mask). bench/dropout.py
keeps the variants tried (uniform floats with a compare, 8- and 16-bit draws with an exact
tie-break, a bool mask saved by a custom autograd Function, ``torch.where``) and their timings.

Distribution: an element is kept when its uniform 32-bit word is at least ``round(p * 2**32)``, so
the keep rate is ``1 - p`` to within 2**-33 (torch's own CPU dropout rounds p to float precision);
elements are independent; kept values are scaled by ``1 / (1 - p)``; eval mode and ``p = 0`` are the
identity; ``p = 1`` gives zeros. The bits come from torch's generator (the default one unless a
``generator`` is passed), so a torch seed fixes every mask; the stream differs from
``nn.Dropout``'s, so the same seed draws other (equally distributed) masks than torch does.

Attention: transformers' BERT calls the function registered under ``config._attn_implementation``
in its ``AttentionInterface``. ``apply_fast_dropout`` switches an ``sdpa`` encoder to
``auxrun_sdpa``: in training with attention dropout it computes ``softmax(Q K^T * scale + mask)``,
drops with the mask above and multiplies by V (what SDPA's CPU math path does whenever
``dropout_p > 0``, where the fused kernels do not apply); every other call (eval, dropout 0, causal,
grouped-query or biased attention) goes to transformers' own ``sdpa_attention_forward`` unchanged.
An ``eager`` encoder keeps its attention (torch dropout on the probabilities).
"""

from __future__ import annotations

import torch
from torch import nn

ATTN_NAME = "auxrun_sdpa"
_FULL = -(2**63)  # random_(from=-2**63, to=None): every int64 value equally likely (all 64 bits)


def keep_threshold(p: float) -> int:
    """The signed int32 threshold: a uniform int32 word is >= it with probability 1 - p (+- 2**-33)."""
    return round(p * 2**32) - 2**31


_scratch: dict[torch.device, torch.Tensor] = {}


def random_words(n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` uniform int32 words (the halves of ceil(n / 2) full-range int64 draws). They live in a
    scratch buffer per device, grown as needed and overwritten by the next call: a fresh 25 MB
    allocation a call costs its page faults again (about a quarter of the mask's time here)."""
    m = (n + 1) // 2
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if torch.compiler.is_compiling():
        words = torch.empty(m, dtype=torch.int64, device=dev)
    else:
        buf = _scratch.get(dev)
        if buf is None or buf.numel() < m:
            buf = _scratch[dev] = torch.empty(m, dtype=torch.int64, device=dev)
        words = buf[:m]
    words.random_(_FULL, None, generator=generator)
    return words.view(torch.int32)[:n]


def dropout_mask(
    shape,
    p: float,
    dtype=torch.float32,
    device=None,
    generator: torch.Generator | None = None,
    scaled: bool = True,
) -> torch.Tensor:
    """A ``shape`` tensor: ``1 / (1 - p)`` (1 when not ``scaled``) where an element is kept
    (probability 1 - p), else 0."""
    n = 1
    for s in shape:
        n *= int(s)
    words = random_words(n, device, generator).view(shape)
    mask = torch.empty(shape, dtype=dtype, device=device)
    torch.ge(words, keep_threshold(p), out=mask)
    return mask.mul_(1.0 / (1.0 - p)) if scaled else mask


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Dropout with the mask of ``dropout_mask``: ``x * mask``, gradient ``grad * mask``."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    if x.dtype in (torch.float32, torch.float64):
        return x * dropout_mask(x.shape, p, x.dtype, x.device)
    # bf16/fp16: 1 / (1 - p) held in the mask would be rounded to 8 or 11 bits; scale separately
    return x * dropout_mask(x.shape, p, x.dtype, x.device, scaled=False) * (1.0 / (1.0 - p))


class FastDropout(nn.Dropout):
    """``nn.Dropout`` (same ``p``, same place in the module tree, no state) with the fast mask."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return fast_dropout(input, self.p, self.training)


def fast_sdpa_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs,
):
    """transformers' attention-function signature; [B, H, L, D] in, ([B, L, H, D], None) out."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    causal = is_causal if is_causal is not None else getattr(module, "is_causal", False)
    plain = (
        dropout == 0.0
        or causal
        or getattr(module, "num_key_value_groups", 1) > 1
        or any(kwargs.get(k) is not None for k in ("position_bias", "cache", "softcap"))
    )
    if plain:
        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            is_causal=is_causal,
            **kwargs,
        )
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    scores = torch.matmul(query * scale, key.transpose(-1, -2))
    safe = False  # no fully masked row: plain softmax is SDPA's safe softmax
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:  # True: attend (SDPA's convention)
            safe = not bool(attention_mask.any(-1).all())
            scores.masked_fill_(~attention_mask, float("-inf"))  # in place: matmul's backward keeps no output
        else:
            safe = True
            scores = scores + attention_mask  # not in place: the mask may broadcast the other way
    probs = _safe_softmax(scores) if safe else torch.softmax(scores, -1)
    probs = fast_dropout(probs, dropout)
    out = torch.matmul(probs, value)
    return out.transpose(1, 2).contiguous(), None


def _safe_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over keys where a row with every key masked gives zeros, as SDPA's math path does
    (torch's ``_safe_softmax``; its extra passes cost about 8 ms a layer here, so only where a row
    may be fully masked)."""
    safe = getattr(torch, "_safe_softmax", None)
    if safe is not None:
        return safe(scores, -1)
    probs = torch.softmax(scores, -1)
    return torch.where(torch.isneginf(scores).all(-1, keepdim=True), 0.0, probs)


_registered = False


def register_attention() -> None:
    """Register ``auxrun_sdpa`` with transformers (attention function and SDPA's mask builder)."""
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTN_NAME, fast_sdpa_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTN_NAME, sdpa_mask)
    _registered = True


def apply_fast_dropout(encoder: nn.Module) -> int:
    """Swap the encoder's ``nn.Dropout`` modules for ``FastDropout`` (in place) and, when its attention
    is ``sdpa``, switch it to ``auxrun_sdpa``. Returns the number of modules swapped."""
    swapped = 0
    for parent in list(encoder.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                fast = FastDropout(child.p, child.inplace)
                fast.train(child.training)
                setattr(parent, name, fast)
                swapped += 1
    config = getattr(encoder, "config", None)
    if config is not None and getattr(config, "_attn_implementation", None) == "sdpa":
        register_attention()
        encoder.set_attn_implementation(ATTN_NAME)
    return swapped

"""Dropout mask variants on CPU, forward + backward, at MiniLM-L6's training shapes (batch 32 x 128).

Shapes: the attention probabilities (32 x 12 x 128 x 128, 6 a step) and the hidden states
(32 x 128 x 384, 13 a step: embeddings plus two per layer). Each variant computes ``dropout(x)`` and
the backward of a sum, timed alternately with the others, best of ``--repeats``. Variants:

- ``torch``: ``nn.functional.dropout`` (bernoulli_ mask), what nn.Dropout and SDPA's math path run;
- ``rand_ge``: a uniform float per element, ``>= p`` into a float mask, scaled (rate exact to 2**-24);
- ``bits32_float``: (auxrun's) 32 raw generator bits per element vs an int32 threshold, compared
  straight into a float mask, scaled; autograd saves that float mask; the bits in a reused buffer;
- ``bits32_fresh``: the same with the bits in a fresh allocation every call (its page faults);
- ``bits32_where``: the same bits into a bool mask, ``torch.where(mask, x, 0) * scale``;
- ``bits32_bool_fn``: the same bool mask saved by a custom ``autograd.Function`` (a quarter of the
  memory), forward and backward ``t.mul(mask).mul_(scale)``;
- ``bits16_tie``/``bits8_tie``: 16 or 8 bits per element against a threshold, the elements that hit
  the threshold exactly decided by one more uniform draw (``nonzero`` + index): exact rate, fewer bits;
- ``u8_inexact``: ``randint`` bytes against a byte threshold (p rounded to 1/256: not acceptable,
  timed only as the floor of a byte-per-element draw).

Then the attention function: transformers' ``sdpa`` (CPU math path with dropout) against
``auxrun_sdpa`` (auxrun/models/fast_dropout.py), with the scale in the GEMM (``baddbmm``) and with
SDPA's safe softmax on every call.
Last line: ``speedup <torch / fast>`` for one training step's dropouts (6 attention + 13 hidden
masks, forward and backward).

    python bench/dropout.py [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import subprocess
import time

import torch

from auxrun.models.fast_dropout import dropout_mask, fast_sdpa_attention, keep_threshold, random_words

P = 0.1
ATT = (32, 12, 128, 128)
HID = (32, 128, 384)


def v_torch(x):
    return torch.nn.functional.dropout(x, P, True)


def v_rand_ge(x):
    return x * torch.rand_like(x).ge_(P).mul_(1 / (1 - P))


def v_bits32_float(x):
    return x * dropout_mask(x.shape, P, x.dtype)


def v_bits32_fresh(x):  # as bits32_float, but the int64 words in a fresh allocation every call
    n = x.numel()
    words = torch.empty((n + 1) // 2, dtype=torch.int64).random_(-(2**63), None).view(torch.int32)[:n]
    mask = torch.empty_like(x)
    torch.ge(words.view(x.shape), keep_threshold(P), out=mask)
    return x * mask.mul_(1 / (1 - P))


def _bool_mask32(shape):
    return random_words(x_numel(shape)).view(shape) >= keep_threshold(P)


def x_numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def v_bits32_where(x):
    return torch.where(_bool_mask32(x.shape), x, 0.0) * (1 / (1 - P))


class _BoolMaskDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, mask, scale):
        ctx.save_for_backward(mask)
        ctx.scale = scale
        return x.mul(mask).mul_(scale)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad.mul(mask).mul_(ctx.scale), None, None


def v_bits32_bool_fn(x):
    return _BoolMaskDropout.apply(x, _bool_mask32(x.shape), 1 / (1 - P))


def _tie_mask(shape, bits: int):
    """Keep iff a uniform ``bits``-bit word w > t, or w == t and a uniform float >= the fraction of p
    left over: P(keep) = 1 - p up to the float's 2**-24 on the tie's 2**-bits share."""
    n = x_numel(shape)
    dtype = {8: torch.uint8, 16: torch.int16}[bits]
    words = torch.empty((n * bits + 63) // 64, dtype=torch.int64).random_(-(2**63), None).view(dtype)[:n]
    if bits == 16:  # signed: shift the threshold into int16's range
        level = P * 2**16
        t = int(level)
        frac = level - t
        tt = t - 2**15
    else:
        level = P * 2**8
        t = int(level)
        frac = level - t
        tt = t
    keep = words > tt
    ties = torch.nonzero(words == tt).squeeze(1)
    if ties.numel():
        keep[ties] = torch.rand(ties.numel()) >= frac
    return keep.view(shape)


def v_bits16_tie(x):
    return x * _tie_mask(x.shape, 16).to(x.dtype).mul_(1 / (1 - P))


def v_bits8_tie(x):
    return x * _tie_mask(x.shape, 8).to(x.dtype).mul_(1 / (1 - P))


def v_u8_inexact(x):
    m = torch.randint(0, 256, x.shape, dtype=torch.uint8) >= round(P * 256)
    return x * m.to(x.dtype).mul_(1 / (1 - P))


VARIANTS = {
    "torch": v_torch,
    "rand_ge": v_rand_ge,
    "bits32_float": v_bits32_float,
    "bits32_fresh": v_bits32_fresh,
    "bits32_where": v_bits32_where,
    "bits32_bool_fn": v_bits32_bool_fn,
    "bits16_tie": v_bits16_tie,
    "bits8_tie": v_bits8_tie,
    "u8_inexact": v_u8_inexact,
}


def fwd_bwd(fn, x):
    def step():
        x.grad = None
        fn(x).sum().backward()

    return step


class _Self(torch.nn.Module):
    is_causal = False


def attention_variants(b, h, length, d):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(b, h, length, d, generator=g).requires_grad_() for _ in range(3))
    module = _Self().train()
    scale = d**-0.5

    def sdpa():
        return sdpa_attention_forward(module, q, k, v, None, dropout=P, scaling=scale)[0]

    def fast():
        return fast_sdpa_attention(module, q, k, v, None, dropout=P, scaling=scale)[0]

    def fast_baddbmm():  # the scale folded into the GEMM (alpha) instead of scaling Q first
        q3, k3 = q.reshape(b * h, length, d), k.reshape(b * h, length, d)
        s = torch.baddbmm(torch.zeros(()), q3, k3.transpose(1, 2), beta=0.0, alpha=scale)
        probs = torch.softmax(s, -1)
        probs = probs * dropout_mask(probs.shape, P)
        return torch.bmm(probs, v.reshape(b * h, length, d)).view(b, h, length, d).transpose(1, 2)

    def fast_safe_softmax():  # SDPA's safe softmax always (auxrun_sdpa uses it only where a row may be all masked)
        s = torch.matmul(q * scale, k.transpose(-1, -2))
        probs = torch._safe_softmax(s, -1) * dropout_mask(s.shape, P)
        return torch.matmul(probs, v).transpose(1, 2).contiguous()

    def run(fn):
        def step():
            for t in (q, k, v):
                t.grad = None
            fn().sum().backward()

        return step

    return {
        "sdpa (torch math path)": run(sdpa),
        "auxrun_sdpa": run(fast),
        "auxrun_sdpa, baddbmm alpha": run(fast_baddbmm),
        "auxrun_sdpa, safe softmax": run(fast_safe_softmax),
    }


def best_times(fns: dict, repeats: int, inner: int = 3) -> dict[str, float]:
    best = {name: float("inf") for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / inner)
    return best


def load_avg() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"dropout p={P}, torch threads {args.threads}, forward + backward, best of {args.repeats}")
    print(f"load at start: {load_avg()}")
    per_shape = {}
    for label, shape in (("attention probs", ATT), ("hidden states", HID)):
        x = torch.randn(shape).requires_grad_()
        times = best_times({name: fwd_bwd(fn, x) for name, fn in VARIANTS.items()}, args.repeats)
        per_shape[label] = times
        print(f"\n{label} {'x'.join(map(str, shape))}:")
        for name, t in times.items():
            print(f"  {name:16s} {t * 1e3:7.2f} ms   {times['torch'] / t:5.2f}x torch")
    att = best_times(attention_variants(*ATT[:3], 32), args.repeats)
    print("\nattention, forward + backward (Q, K, V 32x12x128x32):")
    for name, t in att.items():
        print(f"  {name:28s} {t * 1e3:7.2f} ms   {att['sdpa (torch math path)'] / t:5.2f}x sdpa")
    print(f"\nload at end: {load_avg()}")
    torch_step = 6 * per_shape["attention probs"]["torch"] + 13 * per_shape["hidden states"]["torch"]
    fast_step = (
        6 * per_shape["attention probs"]["bits32_float"] + 13 * per_shape["hidden states"]["bits32_float"]
    )
    print(
        f"a step's dropouts (6 attention + 13 hidden): torch {torch_step * 1e3:.0f} ms, fast {fast_step * 1e3:.0f} ms"
    )
    print(f"speedup {torch_step / fast_step:.2f}")


if __name__ == "__main__":
    main()

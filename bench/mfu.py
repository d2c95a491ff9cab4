"""Model FLOP utilisation of auxrun's trainer: MiniLM-L6 training at fixed length 128, batch 32.

FLOPs per step count the matmuls of the forward and backward passes: per layer and token, the Q, K,
V and output projections (4 x 2·d²) and the feed-forward pair (2 x 2·d·f), plus attention's scores
and weighted values (2 x 2·L·d per token); the pooler and the task head; backward costs twice the
forward (input and weight gradients). Achieved FLOP/s = that / the measured step time of
``MTLTrainer.train_batches`` (collation, forward, backward, clipping, the fused AdamW step,
scheduler: everything a step does).

The peak is ``torch.mm`` timed in the same process at each GEMM shape of the model's linear layers
(forward, input-gradient and weight-gradient shapes); the best of them is the peak. Peak and steps
are timed alternately, best repeat of each, so machine load hits both alike. A hand-written loop
(model forward, loss, backward, step, no trainer) is timed the same way for reference. Then one
trainer step runs under ``torch.profiler`` and the per-op table says where the time goes. Last
line: ``mfu <achieved / peak>``.

    python bench/mfu.py [--steps 3] [--repeats 3] [--threads 1] [--override KEY=VALUE ...]

``--override`` adds Hydra overrides to the run's config, e.g. ``hardware.fast_dropout=false``; the
benchmark turns ``hardware.fast_dropout=true`` on unless an override sets it (it is opt-in in runs,
because it draws other masks than torch's), and the header says whether it is on.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from auxrun.data.features import EncodedSplit  # noqa: E402
from auxrun.hydra_setup import register_configs  # noqa: E402
from auxrun.models.fast_dropout import FastDropout  # noqa: E402
from auxrun.paths import CONF_DIR  # noqa: E402
from auxrun.run import build_context  # noqa: E402
from auxrun.selection import Selection  # noqa: E402
from auxrun.training.cost import CostLedger  # noqa: E402
from auxrun.validate import validate_run  # noqa: E402

B, L, TASK = 32, 128, "toy_sentiment"
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")


def build(threads: int, overrides: list[str]):
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = OmegaConf.to_object(
            compose(
                "config",
                overrides=[
                    "backbone=minilm_l6",
                    f"task_set.tasks=[{TASK}]",
                    "data.toy_scale=0.1",
                    f"train.batch_size={B}",
                    "quiet=true",
                    *overrides,
                ],
            )
        )
    specs = validate_run(cfg)
    ctx = build_context(cfg, Path(tempfile.mkdtemp()), specs, CostLedger())
    g = torch.Generator().manual_seed(0)
    n = 4 * B
    ids = [[101] + torch.randint(1000, 29000, (L - 2,), generator=g).tolist() + [102] for _ in range(n)]
    labels = torch.randint(0, 2, (n,), generator=g).tolist()
    ctx.pool.encoded[TASK]["train"] = EncodedSplit(TASK, "train", ids, [[0] * L] * n, labels, labels)
    torch.set_num_threads(threads)
    sel = Selection("mfu", TASK, [], [])
    return ctx, ctx.new_trainer(sel, "mfu", epochs=100, progress=False)


def step_flops(config, n_labels: int) -> float:
    d, f, nl = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    t = B * L
    per_layer = 2 * t * (4 * d * d + 2 * d * f) + 2 * 2 * B * L * L * d
    forward = nl * per_layer + 2 * B * d * d + 2 * B * d * n_labels  # + pooler and head
    return 3 * forward


def gemm_shapes(config) -> list[tuple[int, int, int]]:
    d, f, t = config.hidden_size, config.intermediate_size, B * L
    shapes = []
    for k, n in ((d, d), (d, f), (f, d)):  # a linear layer x[t,k] @ w[k,n]
        shapes += [(t, k, n), (t, n, k), (k, t, n)]  # forward, input grad, weight grad
    return shapes


def mm_peak(shapes, reps: int = 3) -> float:
    best = 0.0
    for m, k, n in shapes:
        a, b = torch.randn(m, k), torch.randn(k, n)
        torch.mm(a, b)
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start))
    return best


def time_steps(fn, steps: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def hand_loop(trainer):
    """The minimal loop: one fixed batch, forward, loss, backward, clip, step."""
    from auxrun.data.features import collate

    model, opt = trainer.model, trainer.optimizer
    split = trainer.pool.split(TASK, "train")
    batch = collate(split, list(range(B)), "classification", trainer.pad_id)

    def step():
        model.train()
        loss = model(TASK, batch).losses.mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def load_avg() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--override", action="extend", nargs="+", default=[], metavar="KEY=VALUE", help="more Hydra overrides"
    )
    args = ap.parse_args()
    if not any(o.startswith("hardware.fast_dropout=") for o in args.override):
        args.override.append("hardware.fast_dropout=true")
    ctx, trainer = build(args.threads, args.override)
    config = trainer.model.encoder.config
    flops = step_flops(config, 2)
    shapes = gemm_shapes(config)
    print(
        f"MiniLM-L6 ({config.num_hidden_layers} x {config.hidden_size}, attention "
        f"{config._attn_implementation}), batch {B} x {L} tokens, torch threads {args.threads}; "
        f"{flops / 1e9:.1f} GFLOP a step"
    )
    fast = sum(isinstance(m, FastDropout) for m in trainer.model.encoder.modules())
    print(
        f"fast dropout {'on' if fast else 'off'} (hardware.fast_dropout={ctx.cfg.hardware.fast_dropout}, "
        f"{fast} modules); overrides: {' '.join(args.override) or 'none'}"
    )
    print(f"load at start: {load_avg()}")
    peak = trainer_best = hand_best = 0.0
    hand = hand_loop(trainer)
    for r in range(args.repeats):
        p = mm_peak(shapes)
        t = time_steps(lambda: trainer.train_batches(TASK, 1), args.steps)
        h = time_steps(hand, args.steps)
        peak, trainer_best, hand_best = max(peak, p), max(trainer_best, flops / t), max(hand_best, flops / h)
        print(
            f"repeat {r + 1}: mm peak {p / 1e9:.1f} GFLOP/s, trainer {flops / t / 1e9:.1f} GFLOP/s "
            f"({t:.2f} s/step), hand loop {flops / h / 1e9:.1f} GFLOP/s"
        )
    print(f"load at end: {load_avg()}")

    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.train_batches(TASK, 1)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS)
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))
    print(
        f"profiled step: matmul ops {matmul / total:.1%} of op time, everything else {1 - matmul / total:.1%}"
    )
    print(
        f"best: peak {peak / 1e9:.1f}, trainer {trainer_best / 1e9:.1f}, hand loop {hand_best / 1e9:.1f} GFLOP/s"
    )
    print(f"hand loop mfu {hand_best / peak:.2f}")
    print(f"mfu {trainer_best / peak:.2f}")


if __name__ == "__main__":
    main()

"""Wall time of one TAG epoch (the MTL pass with a lookahead every ``every`` steps) against one
plain MTL epoch.

Same pool, data and model config, same process; each repeat builds a fresh trainer per kind and
times its epoch body (``controller.train_epoch``: the size-proportional schedule, plus for TAG the
lookaheads of auxrun/methods/tag.py), the kinds alternating so machine noise hits both alike; the
best of the repeats counts. The per-epoch evaluation is the same for both and not timed. Issue 24's
bound: at most 1.5x on the tiny backbone. Last line: ``tag <x>`` (the ratio to the plain epoch).

    python bench/tag_overhead.py [--backbone tiny] [--scale 1.0] [--repeats 3] [--every 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from auxrun.hydra_setup import register_configs  # noqa: E402
from auxrun.methods.tag import TagController  # noqa: E402
from auxrun.paths import CONF_DIR  # noqa: E402
from auxrun.run import build_context  # noqa: E402
from auxrun.selection import Selection  # noqa: E402
from auxrun.training.controller import Controller  # noqa: E402
from auxrun.training.cost import CostLedger  # noqa: E402
from auxrun.validate import validate_run  # noqa: E402


def make_ctx(backbone: str, scale: float, tasks: str, run_dir: Path, every: int, extra: list[str]):
    register_configs()
    overrides = [
        f"backbone={backbone}",
        "method=tag",
        f"method.every={every}",
        f"task_set.tasks=[{tasks}]",
        f"data.toy_scale={scale}",
        "quiet=true",
        *extra,
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = OmegaConf.to_object(compose("config", overrides=overrides))
    return build_context(cfg, run_dir, validate_run(cfg), CostLedger())


def epoch_seconds(ctx, controller: Controller) -> tuple[float, int]:
    pool = ctx.pool
    sel = Selection(
        method="bench", primary=pool.primary, candidates=pool.auxiliaries, selected_tasks=pool.auxiliaries
    )
    trainer = ctx.new_trainer(sel, "bench", epochs=1, controller=controller, progress=False)
    controller.on_train_start(trainer)
    controller.on_epoch_start(trainer, 0)
    torch.manual_seed(0)
    start = time.perf_counter()
    controller.train_epoch(trainer, 0)
    return time.perf_counter() - start, trainer.step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="tiny")
    ap.add_argument("--scale", type=float, default=1.0, help="data.toy_scale")
    ap.add_argument("--tasks", default="toy_sentiment,toy_rating,toy_topic,toy_noise")
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--extra", nargs="*", default=[], help="more overrides, e.g. train.batch_size=16")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ctx = make_ctx(
        args.backbone,
        args.scale,
        args.tasks,
        Path(tempfile.mkdtemp(prefix="bench-tag-")),
        args.every,
        args.extra,
    )
    pool = ctx.pool
    kinds = {
        "plain": lambda: Controller(),
        "tag": lambda: TagController(ctx.cfg.method, pool.primary, pool.auxiliaries, ctx.cfg.seed),
    }
    best = {k: float("inf") for k in kinds}
    steps = 0
    for r in range(args.repeats):
        for k, make in kinds.items():
            seconds, steps = epoch_seconds(ctx, make())
            best[k] = min(best[k], seconds)
        print(f"repeat {r + 1}: " + ", ".join(f"{k} {best[k]:.2f}s" for k in kinds), flush=True)
    sizes = {t: len(pool.split(t, "train")) for t in pool.tasks}
    print(
        f"backbone {args.backbone}, train examples {sizes}, {steps} steps, a lookahead every {args.every} "
        f"({len(pool.auxiliaries)} auxiliaries)"
    )
    print(f"tag {best['tag'] / best['plain']:.2f}")


if __name__ == "__main__":
    main()

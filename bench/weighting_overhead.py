"""Wall time of one alpha-VIL epoch and one DIW epoch against one plain MTL epoch.

Same pool, data and model config, same process; each repeat builds a fresh trainer per kind and
times its epoch body (``controller.train_epoch``: delta collection + alpha tuning for avil, the
single-task passes + weighted tries for diw, the size-proportional schedule for plain MTL), the
kinds alternating so machine noise hits all alike; the best of the repeats counts. alpha-VIL and
DIW run at rho = 1 (every example once, like the plain epoch). The per-epoch evaluation is the same
for all three and not timed. Last line: ``avil <x>, diw <y>`` (ratios to the plain epoch).

    python bench/weighting_overhead.py [--backbone tiny] [--scale 1.0] [--repeats 3]
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
from auxrun.methods.avil import AvilController  # noqa: E402
from auxrun.methods.diw import DiwController  # noqa: E402
from auxrun.paths import CONF_DIR  # noqa: E402
from auxrun.run import build_context  # noqa: E402
from auxrun.selection import Selection  # noqa: E402
from auxrun.training.controller import Controller  # noqa: E402
from auxrun.training.cost import CostLedger  # noqa: E402
from auxrun.validate import validate_run  # noqa: E402


def make_ctx(backbone: str, scale: float, tasks: str, run_dir: Path, method: str, extra: list[str]):
    register_configs()
    overrides = [
        f"backbone={backbone}",
        f"method={method}",
        f"task_set.tasks=[{tasks}]",
        f"data.toy_scale={scale}",
        "method.rho=1.0",
        "quiet=true",
        *extra,
    ]
    if method == "diw":
        overrides.append("method.patience=1")  # one weighted try: the least DIW can do per epoch
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = OmegaConf.to_object(compose("config", overrides=overrides))
    return build_context(cfg, run_dir, validate_run(cfg), CostLedger())


def epoch_seconds(ctx, controller: Controller) -> float:
    pool = ctx.pool
    sel = Selection(
        method="bench", primary=pool.primary, candidates=pool.auxiliaries, selected_tasks=pool.auxiliaries
    )
    trainer = ctx.new_trainer(sel, "bench", epochs=1, controller=controller, progress=False)
    controller.on_train_start(trainer)
    torch.manual_seed(0)
    start = time.perf_counter()
    controller.train_epoch(trainer, 0)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="tiny")
    ap.add_argument("--scale", type=float, default=1.0, help="data.toy_scale")
    ap.add_argument("--tasks", default="toy_sentiment,toy_rating,toy_topic,toy_noise")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--extra", nargs="*", default=[], help="more overrides, e.g. train.batch_size=16")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run_dir = Path(tempfile.mkdtemp(prefix="bench-weighting-"))
    ctxs = {
        m: make_ctx(args.backbone, args.scale, args.tasks, run_dir, m, args.extra) for m in ("avil", "diw")
    }
    primary, tasks = ctxs["avil"].pool.primary, [ctxs["avil"].pool.primary, *ctxs["avil"].pool.auxiliaries]
    kinds = {
        "plain": (ctxs["avil"], lambda: Controller()),
        "avil": (ctxs["avil"], lambda: AvilController(ctxs["avil"].cfg.method, primary, tasks)),
        "diw": (ctxs["diw"], lambda: DiwController(ctxs["diw"].cfg.method, primary, tasks)),
    }
    best = {k: float("inf") for k in kinds}
    for r in range(args.repeats):
        for k, (ctx, make) in kinds.items():
            best[k] = min(best[k], epoch_seconds(ctx, make()))
        print(f"repeat {r + 1}: " + ", ".join(f"{k} {best[k]:.2f}s" for k in kinds), flush=True)
    sizes = {t: len(ctxs["avil"].pool.split(t, "train")) for t in tasks}
    print(
        f"backbone {args.backbone}, train examples {sizes}, tuning split "
        f"{len(ctxs['avil'].pool.split(primary, 'select_dev'))} ({primary})"
    )
    print(f"avil {best['avil'] / best['plain']:.2f}, diw {best['diw'] / best['plain']:.2f}")


if __name__ == "__main__":
    main()

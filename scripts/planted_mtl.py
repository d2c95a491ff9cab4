"""Does MTL with the planted related auxiliary beat single-task training on the toy pool?

For each planted primary of a task set: single task, primary + related, + unrelated, + noise, the
primary's whole planted group (+group: the planted check's pool) and all tasks (no_sel), over
several seeds; prints a Markdown table of the primary's best dev score.

    python scripts/planted_mtl.py --seeds 1 2 3 --epochs 5
    python scripts/planted_mtl.py --task-set toy_planted --extra backbone=tiny_planted   # the planted check's pool
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]


def run(overrides: list[str], out: Path) -> dict:
    cmd = [sys.executable, "-m", "auxrun.cli", "quiet=true", f"hydra.run.dir={out}", *overrides]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run(cmd, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    return json.loads((out / "results.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task-set", default="toy")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--primaries", nargs="*", default=None, help="default: every planted primary")
    ap.add_argument("--variants", nargs="*", default=None, help="default: all (single_task +related ...)")
    ap.add_argument("--extra", nargs="*", default=[])
    args = ap.parse_args()
    ts = OmegaConf.load(REPO / "auxrun" / "conf" / "task_set" / f"{args.task_set}.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for primary in args.primaries or list(ts.planted):
            planted = ts.planted[primary]
            variants = {"single_task": ["method=single_task"]}
            for kind in ("related", "unrelated", "noise"):
                tasks = ",".join([primary, *planted[kind]])
                variants[f"+{kind}"] = ["method=no_sel", f"task_set.tasks=[{tasks}]"]
            variants["+group"] = ["method=no_sel", "task_set.planted_group=true"]  # the planted check's pool
            variants["no_sel (all)"] = ["method=no_sel"]
            for name, ov in variants.items():
                if args.variants and name not in args.variants:
                    continue
                scores, losses = [], []
                for seed in args.seeds:
                    out = Path(tmp) / f"{primary}-{name}-{seed}".replace(" ", "_").replace("(", "").replace(
                        ")", ""
                    )
                    res = run(
                        [
                            f"primary={primary}",
                            f"seed={seed}",
                            f"train.epochs={args.epochs}",
                            f"task_set={args.task_set}",
                            *ov,
                            *args.extra,
                        ],
                        out,
                    )
                    scores.append(res["best"]["dev"][res["main_metric"]])
                    losses.append(res["best"]["dev"].get("loss", float("nan")))
                mean = statistics.mean(scores)
                sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
                loss = statistics.mean(losses)
                rows.append((primary, name, mean, sd, loss))
                print(
                    f"{primary:15s} {name:14s} {mean:6.2f} ± {sd:4.2f} loss {loss:.3f} {scores}", flush=True
                )
    # the loss of the best epoch: a second readout where the metric saturates (toy_ner at 100)
    print("\n| primary | training tasks | dev main metric (mean ± sd) | dev loss (mean) |\n|---|---|---|---|")
    for primary, name, mean, sd, loss in rows:
        print(f"| {primary} | {name} | {mean:.2f} ± {sd:.2f} | {loss:.3f} |")


if __name__ == "__main__":
    main()

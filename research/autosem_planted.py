"""Does AUTOSEM recover the toy pool's planted structure? For each planted primary: the bandit's
utilities (stage 1), its selection, the GP's ratio (stage 2), and the primary's dev score after MTL
with autosem_p1's and autosem's picks. Prints a Markdown table.

    python research/autosem_planted.py --seeds 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]


def run(overrides: list[str], out: Path) -> tuple[dict, dict]:
    cmd = [sys.executable, "-m", "auxrun.cli", "quiet=true", f"hydra.run.dir={out}", *overrides]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run(cmd, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    return json.loads((out / "selection.json").read_text()), json.loads((out / "results.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--primaries", nargs="*", default=None)
    ap.add_argument("--extra", nargs="*", default=[])
    args = ap.parse_args()
    ts = OmegaConf.load(REPO / "conf" / "task_set" / "toy.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for primary in args.primaries or list(ts.planted):
            planted = ts.planted[primary]
            for seed in args.seeds:
                common = [f"primary={primary}", f"seed={seed}", *args.extra]
                s1, r1 = run(["method=autosem_p1", *common], Path(tmp) / f"{primary}-p1-{seed}")
                s2, r2 = run(["method=autosem", *common], Path(tmp) / f"{primary}-full-{seed}")
                util = {t: round(u, 2) for t, u in sorted(s1["utilities"].items(), key=lambda kv: -kv[1])}
                row = {
                    "primary": primary,
                    "seed": seed,
                    "related": list(planted.related),
                    "utilities": util,
                    "pulls": s1["bandit"]["pulls"],
                    "p1_selected": s1["selected_tasks"],
                    "p1_dev": r1["best"]["dev"][r1["main_metric"]],
                    "ratios": s2["ratios"],
                    "gp_best_select_dev": s2["gp_best_score"] if "gp_best_score" in s2 else None,
                    "autosem_dev": r2["best"]["dev"][r2["main_metric"]],
                    "cost_bwd": {k: v["examples_backward"] for k, v in r2["cost"].items()},
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(
        "\n| primary | seed | planted related | utilities (stage 1) | autosem_p1 picks | dev | autosem ratio | dev |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['primary']} | {r['seed']} | {', '.join(r['related'])} | "
            f"{', '.join(f'{t} {u}' for t, u in r['utilities'].items())} | {', '.join(r['p1_selected'])} | "
            f"{r['p1_dev']:.1f} | {':'.join(f'{t}={e}' for t, e in r['ratios'].items())} | {r['autosem_dev']:.1f} |"
        )


if __name__ == "__main__":
    main()

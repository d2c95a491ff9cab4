"""GradTS on the toy pool's planted structure (issue 5, item 7).

For each planted primary and seed: where GradTS ranks the related, unrelated and noise tasks (tau
and rank), what gradts_thres / gradts_trial / gradts_fg select, and the dev score of each against
single_task and no_sel. Head matrices are shared through one artifact cache, so each (task, seed)
matrix is computed once. Prints a Markdown table.

    python scripts/gradts_planted.py --seeds 1 2 --epochs 5            # everything
    python scripts/gradts_planted.py --seeds 1 2 3 --select-only       # taus and thres picks only
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


def run(overrides: list[str], out: Path, cache: Path) -> tuple[dict, dict | None]:
    cmd = [sys.executable, "-m", "auxrun.cli", "quiet=true", f"hydra.run.dir={out}", *overrides]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUXRUN_CACHE": str(cache)}
    subprocess.run(cmd, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    sel = json.loads((out / "selection.json").read_text())
    res = out / "results.json"
    return sel, (json.loads(res.read_text()) if res.is_file() else None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--select-only", action="store_true", help="taus and gradts_thres picks, no training")
    ap.add_argument("--cache", default=None, help="artifact cache (default: a temporary folder)")
    ap.add_argument("--extra", nargs="*", default=[])
    args = ap.parse_args()
    ts = OmegaConf.load(REPO / "auxrun" / "conf" / "task_set" / "toy.yaml")
    methods = ["gradts_thres"] if args.select_only else ["gradts_thres", "gradts_trial", "gradts_fg"]
    baselines = [] if args.select_only else ["single_task", "no_sel"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp) / "cache"
        for primary, planted in ts.planted.items():
            for seed in args.seeds:
                common = [f"primary={primary}", f"seed={seed}", f"train.epochs={args.epochs}", *args.extra]
                if args.select_only:
                    common.append("stage=select")
                row = {"primary": primary, "seed": seed, "scores": {}, "picks": {}}
                for method in methods + baselines:
                    out = Path(tmp) / f"{primary}-{method}-{seed}"
                    sel, res = run([f"method={method}", *common], out, cache)
                    if method == "gradts_thres":
                        ranking = sel["ranking"]
                        row["taus"] = {
                            kind: [
                                (t, round(sel["scores"][t], 2), ranking.index(t) + 1) for t in planted[kind]
                            ]
                            for kind in ("related", "unrelated", "noise")
                        }
                    if method.startswith("gradts"):
                        picks = sel["selected_tasks"]
                        if method == "gradts_fg":
                            picks = [
                                f"{t} {v['kept']}/{v['total']}" for t, v in sel["instances_kept"].items()
                            ]
                        row["picks"][method] = picks
                    if res is not None:
                        row["scores"][method] = res["best"]["dev"][res["main_metric"]]
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n| primary | seed | related (tau, rank) | unrelated | noise | thres | trial | fg (kept/total) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [
            "; ".join(f"{t} {tau:+.2f} #{k}" for t, tau, k in r["taus"][kind])
            for kind in ("related", "unrelated", "noise")
        ]
        picks = [
            ", ".join(r["picks"].get(m, ["-"])) or "(none)"
            for m in ("gradts_thres", "gradts_trial", "gradts_fg")
        ]
        print(f"| {r['primary']} | {r['seed']} | " + " | ".join(cells + picks) + " |")
    if not args.select_only:
        print(
            "\n| primary | single_task | no_sel | gradts_thres | gradts_trial | gradts_fg |\n|---|---|---|---|---|---|"
        )
        for primary in ts.planted:
            mine = [r for r in rows if r["primary"] == primary]
            cells = []
            for m in ["single_task", "no_sel", *methods]:
                v = [r["scores"][m] for r in mine]
                sd = statistics.stdev(v) if len(v) > 1 else 0.0
                cells.append(f"{statistics.mean(v):.1f} ± {sd:.1f}")
            print(f"| {primary} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

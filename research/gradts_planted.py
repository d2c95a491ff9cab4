"""GradTS and the trial rules on the toy pool's planted structure (issues 5, 9 and 15).

For each planted primary and seed: where GradTS ranks the related, unrelated and noise tasks (tau
and rank); what gradts_thres keeps; what gradts_trial keeps under ``trial_rule=paper`` and
``significant`` (one selection run records both rules' decisions on the same trials); with
``--heuristics`` what HEU-Size and HEU-Len (both rules) and HEU-Type pick. Unless ``--select-only``,
the primary's dev score after training on each distinct selection (the primary alone = single_task,
every candidate = no_sel, thres, trial under each rule; a task list trained once and reused).
Head matrices are shared through one artifact cache. Prints Markdown tables.

    python research/gradts_planted.py --seeds 1 2 3 --epochs 5 --heuristics
    python research/gradts_planted.py --seeds 1 --select-only --extra data.toy_scale=0.5
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
RULES = ("paper", "significant")


def run(overrides: list[str], out: Path, cache: Path) -> tuple[dict | None, dict | None]:
    cmd = [sys.executable, "-m", "auxrun.cli", "quiet=true", f"hydra.run.dir={out}", *overrides]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUXRUN_CACHE": str(cache)}
    subprocess.run(cmd, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sel, res = out / "selection.json", out / "results.json"
    return (
        json.loads(sel.read_text()) if sel.is_file() else None,
        json.loads(res.read_text()) if res.is_file() else None,
    )


def fmt(tasks: list[str]) -> str:
    return ", ".join(t.removeprefix("toy_") for t in tasks) or "(none)"


def trial_line(sel: dict) -> str:
    """Each trial's select_dev score, with the significant rule's p and decision."""
    out = []
    for t in sel["trials"][1:]:
        d = t["significant"]
        out.append(
            f"+{t['tasks'][-1].removeprefix('toy_')} {t['score']:.1f} (p {d['p']:.2f}{'*' if d['accepted'] else ''})"
        )
    return f"{sel['trials'][0]['score']:.1f}; " + "; ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--select-only", action="store_true", help="selections only, no final training")
    ap.add_argument("--heuristics", action="store_true", help="also HEU-Size/Len/Type picks")
    ap.add_argument(
        "--train",
        nargs="*",
        default=["single_task", "no_sel", "thres", "trial_paper", "trial_significant"],
        help="which selections get a final training run for the dev-score table",
    )
    ap.add_argument("--cache", default=None, help="artifact cache (default: a temporary folder)")
    ap.add_argument("--extra", nargs="*", default=[], help="overrides for every run")
    ap.add_argument("--gradts-extra", nargs="*", default=[], help="overrides for the gradts methods")
    ap.add_argument("--trial-extra", nargs="*", default=[], help="overrides for the trial methods")
    args = ap.parse_args()
    ts = OmegaConf.load(REPO / "conf" / "task_set" / "toy.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp) / "cache"
        for primary, planted in ts.planted.items():
            for seed in args.seeds:
                common = [f"primary={primary}", f"seed={seed}", f"train.epochs={args.epochs}", *args.extra]
                base = Path(tmp) / f"{primary}-{seed}"
                row: dict = {"primary": primary, "seed": seed, "picks": {}, "scores": {}}
                thres, _ = run(
                    ["method=gradts_thres", "stage=select", *common, *args.gradts_extra],
                    base / "thres",
                    cache,
                )
                ranking = thres["ranking"]
                row["taus"] = {
                    kind: [(t, round(thres["scores"][t], 2), ranking.index(t) + 1) for t in planted[kind]]
                    for kind in ("related", "unrelated", "noise")
                }
                row["picks"]["thres"] = thres["selected_tasks"]
                trial, _ = run(
                    [
                        "method=gradts_trial",
                        "stage=select",
                        "method.trial_rule=significant",
                        *common,
                        *args.trial_extra,
                    ],
                    base / "trial",
                    cache,
                )
                for rule in RULES:
                    row["picks"][f"trial_{rule}"] = trial["trial_selection_by_rule"][rule]
                row["trials"] = trial_line(trial)
                if args.heuristics:
                    for h in ("heu_size", "heu_len"):
                        sel, _ = run(
                            [
                                f"method={h}",
                                "stage=select",
                                "method.trial_rule=significant",
                                *common,
                                *args.trial_extra,
                            ],
                            base / h,
                            cache,
                        )
                        for rule in RULES:
                            row["picks"][f"{h}_{rule}"] = sel["trial_selection_by_rule"][rule]
                    sel, _ = run(["method=heu_type", "stage=select", *common], base / "heu_type", cache)
                    row["picks"]["heu_type"] = sel["selected_tasks"]
                if not args.select_only:
                    wanted = {
                        "single_task": [],
                        "no_sel": trial["candidates"],
                        "thres": row["picks"]["thres"],
                        **{f"trial_{r}": row["picks"][f"trial_{r}"] for r in RULES},
                    }
                    wanted = {k: v for k, v in wanted.items() if k in args.train}
                    done: dict[tuple, float] = {}
                    for name, tasks in wanted.items():
                        key = tuple(sorted(tasks))
                        if key not in done:
                            path = base / f"sel-{len(done)}.json"
                            path.write_text(json.dumps({**trial, "selected_tasks": tasks}))
                            _, res = run(
                                ["method=no_sel", "stage=train", f"selection={path}", *common],
                                base / f"train-{len(done)}",
                                cache,
                            )
                            done[key] = res["best"]["dev"][res["main_metric"]]
                        row["scores"][name] = done[key]
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(
        "\n| primary | seed | related (tau, rank) | unrelated | noise | thres | trial: paper | trial: significant | trials: alone; +task select_dev (p vs best accepted, * accepted) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [
            "; ".join(f"{t.removeprefix('toy_')} {tau:+.2f} #{k}" for t, tau, k in r["taus"][kind])
            for kind in ("related", "unrelated", "noise")
        ]
        cells += [fmt(r["picks"][m]) for m in ("thres", "trial_paper", "trial_significant")]
        print(f"| {r['primary']} | {r['seed']} | " + " | ".join(cells) + f" | {r['trials']} |")
    if args.heuristics:
        cols = ["heu_size_paper", "heu_size_significant", "heu_len_paper", "heu_len_significant", "heu_type"]
        print("\n| primary | seed | " + " | ".join(cols) + " |\n|---|---|" + "---|" * len(cols))
        for r in rows:
            print(f"| {r['primary']} | {r['seed']} | " + " | ".join(fmt(r["picks"][c]) for c in cols) + " |")
    if not args.select_only:
        cols = args.train
        print("\n| primary (dev, mean ± sd) | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
        for primary in ts.planted:
            mine = [r for r in rows if r["primary"] == primary]
            cells = []
            for m in cols:
                v = [r["scores"][m] for r in mine]
                sd = statistics.stdev(v) if len(v) > 1 else 0.0
                cells.append(f"{statistics.mean(v):.1f} ± {sd:.1f}")
            print(f"| {primary} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

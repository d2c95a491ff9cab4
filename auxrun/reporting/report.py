"""``auxrun-report DIR``: the results.json files under a folder (a sweep, or all of outputs/) as one
table: a row per (task set, primary, backbone), a column per method, cells the primary's main
metric on a split as mean ± sd over seeds, plus each method's mean selection and training cost.

    auxrun-report multirun/2026-11-22 --split dev --format md|csv|latex
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def collect(root: Path) -> list[dict[str, Any]]:
    runs = []
    for path in sorted(root.rglob("results.json")):
        try:
            res = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"auxrun-report: skipping {path}: {e}", file=sys.stderr)
            continue
        res["_path"] = str(path.parent)
        runs.append(res)
    return runs


def table(runs: list[dict[str, Any]], split: str) -> tuple[list[str], list[list[str]]]:
    cells: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    costs: dict[str, list[float]] = defaultdict(list)
    methods: list[str] = []
    for r in runs:
        value = r.get("best", {}).get(split, {}).get(r.get("main_metric"))
        if value is None:
            continue
        pool = r.get("pool")
        task_set = r.get("task_set", "?") + (f" ({len(pool)} tasks)" if pool else "")
        row = (task_set, r["primary"], r.get("backbone", "?"), r["main_metric"])
        cells[row][r["method"]].append(float(value))
        cost = r.get("cost", {})
        costs[r["method"]].append(sum(cost.get(s, {}).get("wall_s", 0.0) for s in ("select", "train")))
        if r["method"] not in methods:
            methods.append(r["method"])
    header = ["task_set", "primary", "backbone", "metric", *methods]
    rows = []
    for key in sorted(cells):
        rows.append([*key, *(_fmt(cells[key].get(m, [])) for m in methods)])
    rows.append(["", "mean wall time (s)", "", "", *(f"{statistics.mean(costs[m]):.1f}" for m in methods)])
    return header, rows


def _fmt(values: list[float]) -> str:
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} (n={len(values)})"


def render(header: list[str], rows: list[list[str]], fmt: str) -> str:
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows([header, *rows])
        return buf.getvalue()
    if fmt == "latex":
        lines = [
            "\\begin{tabular}{" + "l" * 4 + "r" * (len(header) - 4) + "}",
            "\\toprule",
            " & ".join(h.replace("_", "\\_") for h in header) + " \\\\",
            "\\midrule",
        ]
        lines += [" & ".join(c.replace("_", "\\_").replace("±", "$\\pm$") for c in r) + " \\\\" for r in rows]
        return "\n".join([*lines, "\\bottomrule", "\\end{tabular}"]) + "\n"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="auxrun-report", description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="a folder holding run folders (multirun/..., outputs/)")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--format", choices=["md", "csv", "latex"], default="md")
    args = ap.parse_args(argv)
    if not args.root.is_dir():
        ap.error(f"{args.root}: no such folder")
    runs = collect(args.root)
    if not runs:
        ap.error(f"{args.root}: no results.json below it")
    sys.stdout.write(render(*table(runs, args.split), args.format))


if __name__ == "__main__":
    main()

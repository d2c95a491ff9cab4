"""Plot a data-amount sweep (FastMTL Figures 3-5): the primary's dev main metric against N for
fastmtl (per discriminator loss; "w/o MTL" for td_multitask=false) and random_sampling, mean ± sd
over seeds, with single_task and no_sel as horizontal bands. Reads every results.json (and the
selection.json beside it) under SWEEP_DIR; writes SWEEP_DIR/figures/data_amount_<primary>.png and
SWEEP_DIR/data_amount.csv, and prints a Markdown table (rows N, columns methods).

    python scripts/plot_data_amount.py multirun/fastmtl_toy [--split dev]
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

SAMPLING = ("fastmtl", "random_sampling")


def series_name(res: dict, sel: dict) -> str:
    if res["method"] != "fastmtl":
        return res["method"]
    name = f"fastmtl ({sel.get('discriminator_loss', 'bce')})"
    return name + (" w/o MTL" if sel.get("td_multitask") is False else "")


def collect(root: Path, split: str) -> dict:
    """{(task_set, primary, backbone, metric): {series: {N or None: [scores]}}}"""
    data: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for path in sorted(root.rglob("results.json")):
        try:
            res = json.loads(path.read_text())
            sel_path = path.parent / "selection.json"
            sel = json.loads(sel_path.read_text()) if sel_path.is_file() else {}
        except (OSError, json.JSONDecodeError) as e:
            print(f"plot_data_amount: skipping {path}: {e}", file=sys.stderr)
            continue
        value = res.get("best", {}).get(split, {}).get(res.get("main_metric"))
        if value is None:
            continue
        key = (res.get("task_set", "?"), res["primary"], res.get("backbone", "?"), res["main_metric"])
        n = sel.get("n_samples") if res["method"] in SAMPLING else None
        data[key][series_name(res, sel)][n].append(float(value))
    return data


def _ms(v: list[float]) -> tuple[float, float]:
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def plot(key: tuple, series: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from auxrun.io import save_figure_atomic

    task_set, primary, backbone, metric = key
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    xs_all = sorted({n for s in series.values() for n in s if n is not None})
    for i, (name, points) in enumerate(sorted(series.items())):
        color = f"C{i % 10}"
        if None in points:  # a baseline: a horizontal band
            m, sd = _ms(points[None])
            ax.axhline(m, linestyle="--", color=color, label=name)
            if xs_all:
                ax.fill_between(xs_all, m - sd, m + sd, color=color, alpha=0.12)
            continue
        xs = sorted(points)
        ms = [_ms(points[x]) for x in xs]
        ax.errorbar(
            xs, [m for m, _ in ms], yerr=[s for _, s in ms], marker="o", capsize=3, color=color, label=name
        )
    if xs_all:
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs_all, [f"{x:,}" for x in xs_all], rotation=45 if len(xs_all) > 6 else 0)
        ax.minorticks_off()
    ax.set_xlabel("N (auxiliary examples)")
    ax.set_ylabel(f"{primary} dev {metric}")
    ax.set_title(f"{task_set}, {backbone}")
    ax.legend(frameon=False, fontsize=8)
    return save_figure_atomic(fig, out / "figures" / f"data_amount_{primary}.png")


def table(key: tuple, series: dict) -> tuple[list[str], list[list[str]]]:
    names = sorted(series)
    ns = sorted({n for s in series.values() for n in s if n is not None})
    header = ["N", *names]
    rows = []
    for n in ns:
        cells = []
        for name in names:
            pts = series[name].get(n) if None not in series[name] else None
            cells.append("" if not pts else "{:.2f} ± {:.2f}".format(*_ms(pts)))
        rows.append([str(n), *cells])
    base = [("{:.2f} ± {:.2f}".format(*_ms(series[x][None])) if None in series[x] else "") for x in names]
    rows.append(["baseline", *base])
    return header, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--split", default="dev")
    args = ap.parse_args()
    data = collect(args.sweep_dir, args.split)
    if not data:
        sys.exit(f"plot_data_amount: no results.json with a '{args.split}' score under {args.sweep_dir}")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["task_set", "primary", "backbone", "metric", "series", "n_samples", "mean", "sd", "n_seeds"])
    for key, series in data.items():
        path = plot(key, series, args.sweep_dir)
        header, rows = table(key, series)
        print(f"\n**{key[1]}** ({key[0]}, {key[2]}, dev {key[3]}): {path}\n")
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
        for name, points in series.items():
            for n, v in sorted(points.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
                m, sd = _ms(v)
                w.writerow([*key, name, "" if n is None else n, round(m, 4), round(sd, 4), len(v)])
    (args.sweep_dir / "data_amount.csv").write_text(buf.getvalue())


if __name__ == "__main__":
    main()

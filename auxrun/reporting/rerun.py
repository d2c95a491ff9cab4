"""``auxrun-report DIR --against RUNS.csv``: a rerun against the runs.csv an earlier report wrote (a
results page's ``docs/results/<page>/runs.csv``). Runs are paired by their folder below the report's
root, and must agree on primary, method and seed; each split's score is compared at the four decimals
runs.csv keeps. Whether a rerun reproduced a published page is then one command and one table."""

from __future__ import annotations

import csv
from pathlib import Path

from auxrun.reporting.report import render, run_label
from auxrun.reporting.runs import Run

NEEDED = ("run", "primary", "method", "seed", "main_metric")


class AgainstError(ValueError):
    """A file that is not a runs.csv written by auxrun-report."""


def read_runs_csv(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The split columns and the rows by run folder; AgainstError names the file and what is missing."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in NEEDED if c not in columns]
            if missing:
                raise AgainstError(
                    f"{path}: not a runs.csv written by auxrun-report (no column {', '.join(missing)}; "
                    f"expected {', '.join(NEEDED)}, the split scores and the costs)"
                )
            rows = {row["run"]: row for row in reader}
    except OSError as e:
        raise AgainstError(f"{path}: cannot read it ({e.strerror or e})") from e
    except (csv.Error, UnicodeDecodeError) as e:
        raise AgainstError(f"{path}: not a CSV file ({e})") from e
    first_cost = columns.index("cost_select_wall_s") if "cost_select_wall_s" in columns else len(columns)
    splits = columns[columns.index("main_metric") + 1 : first_cost]
    return splits, rows


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def against_section(runs: list[Run], root: Path, path: Path) -> list[str]:
    """Markdown lines: how many runs were paired and agree to four decimals per split, the largest
    difference, and every score that differs."""
    splits, earlier = read_runs_csv(path)
    paired: list[tuple[str, Run, dict[str, str]]] = []
    unpaired = 0
    for run in runs:
        if run.results is None:
            continue
        name = run_label(run, root)
        row = earlier.get(name)
        same_point = row is not None and (row["primary"], row["method"], row["seed"]) == (
            run.primary,
            run.method,
            str(run.seed),
        )
        if same_point:
            paired.append((name, run, row))
        else:
            unpaired += 1
    lines = [f"## Against an earlier run ({path})", ""]
    if not paired:
        return lines + [
            f"No finished run here has a row in {path.name} with the same folder, primary, method and seed.",
            "",
        ]
    summary: list[list[str]] = []
    differ: list[list[str]] = []
    metrics = sorted({run.main_metric or "" for _, run, _ in paired})
    for split in splits:
        for metric in metrics:
            compared = same = 0
            largest = 0.0
            for name, run, row in paired:
                before, now = _number(row.get(split)), run.score(split)
                if (run.main_metric or "") != metric or before is None or now is None:
                    continue
                compared += 1
                if f"{now:.4f}" == f"{before:.4f}":
                    same += 1
                else:
                    differ.append(
                        [name, split, metric, f"{before:.4f}", f"{now:.4f}", f"{now - before:+.4f}"]
                    )
                largest = max(largest, abs(now - before))
            if compared:
                summary.append([split, metric, str(compared), str(same), f"{largest:.4f}"])
    lines += [
        f"{len(paired)} finished runs here have a row in {path.name} with the same folder, primary, method "
        f"and seed ({unpaired} have none). A score is the same when both print alike at runs.csv's four "
        "decimals; the largest difference includes that rounding.",
        "",
        render(
            ["split", "metric", "runs compared", "the same to 4 decimals", "largest difference"],
            summary,
            "md",
        ),
    ]
    if differ:
        lines.append(render(["run", "split", "metric", "earlier", "now", "difference"], differ, "md"))
    return lines

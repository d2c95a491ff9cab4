"""``auxrun-report DIR --against RUNS.csv``: a rerun against the runs.csv an earlier report wrote (a
results page's ``docs/results/<page>/runs.csv``). Runs are paired by their folder below the report's
root, and must agree on primary, method and seed; each split's score is compared at the four decimals
runs.csv keeps, and where the earlier runs.csv has them, the selected auxiliaries and the ranking of the
candidates (a ``stage=select`` run has nothing else to compare). Whether a rerun reproduced a published
page is then one command and two tables."""

from __future__ import annotations

import csv
from pathlib import Path

from auxrun.reporting.report import ranking_label, render, run_label, selected_label
from auxrun.reporting.runs import Run

NEEDED = ("run", "primary", "method", "seed", "main_metric")
CHOICES = (
    ("selected", "selected auxiliaries", selected_label),
    ("ranking", "ranking of the candidates", ranking_label),
)


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


def against_section(
    runs: list[Run], root: Path, path: Path, read: tuple[list[str], dict[str, dict[str, str]]]
) -> list[str]:
    """Markdown lines: how many runs were paired and agree to four decimals per split, the largest
    difference and every score that differs; then what the runs selected (``choices_lines``).
    ``read``: ``read_runs_csv(path)``."""
    splits, earlier = read
    paired: list[tuple[str, Run, dict[str, str]]] = []
    unpaired = 0
    for run in runs:
        if run.results is None and not run.selection_only:
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
            f"No run here has a row in {path.name} with the same folder, primary, method and seed.",
            "",
        ]
    selection_only = sum(run.selection_only for _, run, _ in paired)
    only = f" ({selection_only} of them selection only)" if selection_only else ""
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
        f"{len(paired)} runs here{only} have a row in {path.name} with the same folder, primary, method "
        f"and seed ({unpaired} have none). A score is the same when both print alike at runs.csv's four "
        "decimals; the largest difference includes that rounding.",
        "",
    ]
    if summary:
        header = ["split", "metric", "runs compared", "the same to 4 decimals", "largest difference"]
        lines.append(render(header, summary, "md"))
    if differ:
        lines.append(render(["run", "split", "metric", "earlier", "now", "difference"], differ, "md"))
    return lines + choices_lines(paired, path)


def choices_lines(paired: list[tuple[str, Run, dict[str, str]]], path: Path) -> list[str]:
    """What each run selected and how it ranked the candidates, beside the earlier runs.csv's."""
    first = paired[0][2]
    if any(column not in first for column, _, _ in CHOICES):
        return [
            f"{path.name} has no `selected` and `ranking` columns (an older auxrun wrote it): selections not compared.",
            "",
        ]
    summary: list[list[str]] = []
    differ: list[list[str]] = []
    for column, what, label in CHOICES:
        compared = same = 0
        for name, run, row in paired:
            before, now = row[column], label(run)
            if not before and not now:
                continue
            compared += 1
            if before == now:
                same += 1
            else:
                differ.append([name, what, before or "-", now or "-"])
        if compared:
            summary.append([what, str(compared), str(same)])
    if not summary:
        return []
    lines = [render(["what", "runs compared", "the same"], summary, "md")]
    if differ:
        lines.append(render(["run", "what", "earlier", "now"], differ, "md"))
    return lines

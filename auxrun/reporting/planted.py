"""Planted score: on a pool with known roles (``task_set.planted``: per primary, its related,
unrelated and noise auxiliaries), how often each method selected a related task, how often it
selected a noise task, and how often its task scores put the related task above the noise task,
over primaries and seeds, beside what chance would give.

Chance of selecting a related task: a method that kept k of K candidates at random would include
one of the r related ones with probability 1 - C(K-r, k) / C(K, k) (averaged over the runs, since k
varies). Chance of ranking related above noise: 0.5. ``scores`` are read as "higher = more useful"
(GradTS taus, AUTOSEM utilities, weights, shares); a tie counts one half.
"""

from __future__ import annotations

from collections import defaultdict
from math import comb
from typing import Any

from auxrun.reporting.runs import Run


def chance_selected(n_candidates: int, n_selected: int, n_related: int) -> float:
    if n_candidates == 0 or n_related == 0:
        return 0.0
    return 1.0 - comb(n_candidates - n_related, n_selected) / comb(n_candidates, n_selected)


def run_planted(run: Run) -> dict[str, Any] | None:
    """This run's planted record, or None when it has no selection or no roles for its primary."""
    if run.method in ("single_task", "no_sel"):
        return None  # they select nothing or everything
    roles = run.planted.get(run.primary) if run.planted else None
    sel = run.selection
    if not roles or not sel:
        return None
    related, noise = list(roles.get("related", [])), list(roles.get("noise", []))
    candidates, selected = list(sel.get("candidates", [])), list(sel.get("selected_tasks", []))
    scores = run.task_scores()
    pairs = [(r, n) for r in related for n in noise if r in scores and n in scores]
    above = None
    if pairs:
        above = sum(
            1.0 if scores[r] > scores[n] else 0.5 if scores[r] == scores[n] else 0.0 for r, n in pairs
        )
        above /= len(pairs)
    return {
        "related_selected": any(t in selected for t in related),
        "noise_selected": any(t in selected for t in noise),
        "chance": chance_selected(
            len(candidates), len([t for t in selected if t in candidates]), len(related)
        ),
        "above": above,
    }


def planted_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Rows: method x (each primary, then all); columns as the module docstring says."""
    by: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        rec = run_planted(r)
        if rec is not None:
            by[r.method][r.primary].append(rec)
    header = [
        "method",
        "primary",
        "runs",
        "related selected",
        "chance",
        "noise selected",
        "related ranked above noise",
        "chance (rank)",
    ]
    rows = []
    for method in sorted(by):
        groups = dict(sorted(by[method].items()))
        groups["all"] = [rec for recs in by[method].values() for rec in recs]
        for primary, recs in groups.items():
            n = len(recs)
            ranked = [rec["above"] for rec in recs if rec["above"] is not None]
            rows.append(
                [
                    method,
                    primary,
                    str(n),
                    f"{sum(rec['related_selected'] for rec in recs)}/{n}",
                    f"{sum(rec['chance'] for rec in recs) / n:.2f}",
                    f"{sum(rec['noise_selected'] for rec in recs)}/{n}",
                    f"{sum(ranked) / len(ranked):.2f} ({len(ranked)})" if ranked else "no scores",
                    "0.50" if ranked else "",
                ]
            )
    return header, rows

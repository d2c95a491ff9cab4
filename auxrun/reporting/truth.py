"""Measured transfer as ground truth, and every selector scored against it (issue 14).

Truth runs are MTL runs of a primary alone (pool = [primary]) and of the primary with one auxiliary
(pool = [primary, aux]), same settings otherwise (``experiment=transfer_truth``). The gain of an
auxiliary is its pair cell against the primary-alone cell: the mean over shared seeds of the dev
difference, with the paired bootstrap over dev examples and, with 3+ seeds, the t-interval over seeds
(auxrun.reporting.cells.compare). It is marked helpful or harmful only where the intervals exclude 0,
otherwise neutral.

A selection run on the same primary (and task set and backbone) is then scored: Spearman and Kendall
between the method's task scores (``Run.task_scores``: selection.json ``scores``, else the final task
weights, else FastMTL's kept share of each task; read as higher = more useful) and the
mean gains over the candidates that have both; precision and recall of the selected set against the
helpful set; and, where nothing is helpful, whether it selected nothing. The cost column sets the
method's selection + training cost beside what the whole measurement for that primary cost.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from scipy import stats

from auxrun.reporting.cells import Cell, compare
from auxrun.reporting.runs import Run


def _key(run: Run) -> tuple:
    return (run.config.get("task_set.name"), run.config.get("backbone.name"), run.primary)


def _pool(run: Run) -> tuple:
    return tuple(run.config.get("task_set.tasks") or ())


def truth_gains(cells: list[Cell], n_resamples: int = 1000, seed: int = 0) -> dict[tuple, dict[str, Any]]:
    """{(task_set, backbone, primary): {aux: {"comparison", "label", "cost"}, "_alone": cell}} from
    the cells whose pool is the primary alone or the primary plus one auxiliary."""
    alone: dict[tuple, Cell] = {}
    pairs: dict[tuple, dict[str, Cell]] = defaultdict(dict)
    for c in cells:
        r = c.runs[0]
        pool = _pool(r)
        if r.method not in ("no_sel", "single_task") or not pool or pool[0] != r.primary:
            continue
        if len(pool) == 1:
            alone[_key(r)] = c
        elif len(pool) == 2 and r.method == "no_sel":
            pairs[_key(r)][pool[1]] = c
    truth: dict[tuple, dict[str, Any]] = {}
    for key, by_aux in pairs.items():
        if key not in alone:
            continue
        base = alone[key]
        table: dict[str, Any] = {}
        for aux, cell in sorted(by_aux.items()):
            comp = compare(cell, base, n_resamples, seed)
            if comp is None:
                continue
            label = "neutral" if comp.inside_noise else ("helpful" if comp.diff > 0 else "harmful")
            table[aux] = {"comparison": comp, "label": label}
        cost = [r.cost() for c in [base, *by_aux.values()] for r in c.runs if r.results is not None]
        seeds = max(1, len({r.seed for r in base.runs}))
        truth[key] = {"aux": table, "cost": sum(cost) / seeds, "alone": base}
    return truth


def truth_table(
    truth: dict[tuple, dict[str, Any]], planted: dict[str, Any]
) -> tuple[list[str], list[list[str]]]:
    header = [
        "task_set",
        "backbone",
        "primary",
        "auxiliary",
        "gain",
        "sd over seeds",
        "95% CI (bootstrap)",
        "95% CI (seeds)",
        "seeds",
        "measured",
        "planted",
    ]
    rows = []
    for (task_set, backbone, primary), t in sorted(truth.items(), key=lambda kv: tuple(map(str, kv[0]))):
        roles = {a: role for role, tasks in (planted.get(primary) or {}).items() for a in tasks}
        for aux, g in t["aux"].items():
            c = g["comparison"]
            rows.append(
                [
                    str(task_set),
                    str(backbone),
                    primary,
                    aux,
                    f"{c.diff:+.2f}",
                    "" if c.seed_sd is None else f"{c.seed_sd:.2f}",
                    f"[{c.ci_low:.2f}, {c.ci_high:.2f}]" if c.ci_low is not None else c.note,
                    f"[{c.seed_ci[0]:.2f}, {c.seed_ci[1]:.2f}]" if c.seed_ci else "",
                    ",".join(map(str, c.seeds)),
                    g["label"],
                    roles.get(aux, ""),
                ]
            )
    return header, rows


def score_selection(run: Run, truth: dict[str, Any]) -> dict[str, Any] | None:
    """One selection run against its primary's truth; None without a selection or shared candidates."""
    sel = run.selection
    if not sel:
        return None
    gains = {a: g["comparison"].diff for a, g in truth["aux"].items()}
    candidates = [a for a in sel.get("candidates", []) if a in gains]
    if not candidates:
        return None
    helpful = {a for a in candidates if truth["aux"][a]["label"] == "helpful"}
    selected = {a for a in sel.get("selected_tasks", []) if a in gains}
    scores = run.task_scores()
    scored = [a for a in candidates if isinstance(scores.get(a), int | float)]
    out: dict[str, Any] = {"spearman": None, "kendall": None}
    if len(scored) >= 3 and len({scores[a] for a in scored}) > 1 and len({gains[a] for a in scored}) > 1:
        xs, ys = [scores[a] for a in scored], [gains[a] for a in scored]
        out["spearman"] = float(stats.spearmanr(xs, ys).statistic)
        out["kendall"] = float(stats.kendalltau(xs, ys).statistic)
    out["precision"] = len(selected & helpful) / len(selected) if selected else None
    out["recall"] = len(selected & helpful) / len(helpful) if helpful else None
    out["nothing_helps"] = not helpful
    out["empty_correct"] = (not selected) if not helpful else None
    out["cost"] = run.cost()
    return out


def selector_table(runs: list[Run], truth: dict[tuple, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """A row per method: its scores against the measured truth, averaged over primaries and seeds."""
    by_method: dict[str, list[tuple[dict[str, Any], float]]] = defaultdict(list)
    for r in runs:
        if r.method in ("no_sel", "single_task") or _key(r) not in truth:
            continue
        pool = _pool(r)
        if len(pool) <= 2:  # a truth run itself
            continue
        rec = score_selection(r, truth[_key(r)])
        if rec is not None:
            by_method[r.method].append((rec, truth[_key(r)]["cost"]))

    def mean(name: str, recs) -> str:
        vals = [rec[name] for rec, _ in recs if rec[name] is not None]
        return f"{statistics.mean(vals):.2f} ({len(vals)})" if vals else "–"

    header = [
        "method",
        "runs",
        "Spearman",
        "Kendall",
        "precision",
        "recall",
        "selects nothing when nothing helps",
        "cost (backprop examples)",
        "cost / measurement",
    ]
    rows = []
    for method, recs in sorted(by_method.items()):
        empties = [rec["empty_correct"] for rec, _ in recs if rec["empty_correct"] is not None]
        cost = statistics.mean(rec["cost"] for rec, _ in recs)
        measured = statistics.mean(c for _, c in recs)
        rows.append(
            [
                method,
                str(len(recs)),
                mean("spearman", recs),
                mean("kendall", recs),
                mean("precision", recs),
                mean("recall", recs),
                f"{sum(empties)}/{len(empties)}" if empties else "– (something helps)",
                f"{cost:.0f}",
                f"{cost / measured:.2f}" if measured else "",
            ]
        )
    return header, rows

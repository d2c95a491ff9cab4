"""Planted score: on a pool with known roles (``task_set.planted``: per primary, its related,
unrelated and noise auxiliaries), how often each method selected a related task, how often it
selected a noise task, and how often its task scores put the related task above the noise task,
over primaries and seeds, beside what chance would give. This is the planted check's one rule:
``auxrun -m experiment=toy_planted`` runs it, ``auxrun-report DIR --experiment toy_planted`` reads it.

Chance of selecting a related task: a method that kept k of K candidates at random would include
one of the r related ones with probability 1 - C(K-r, k) / C(K, k) (averaged over the runs, since k
varies). Chance of ranking related above noise: 0.5. Task scores are ``Run.task_scores`` (higher =
more useful: GradTS's taus, AUTOSEM's utilities, FastMTL's mean discriminator score, alpha-VIL's and
DIW's final weights); a tie counts one half. The p-value is the one-sided binomial tail of at least
that many runs ranking related above noise when each does so with probability 0.5 (a half from a
tie rounded down: the cautious reading). Runs on one primary whose task scores are identical (a
method that reads inputs only, like TextEmb, gives every seed the same scores) are one trial, not
several: the p-value counts each distinct set of scores once, and the table says how many there were.
"""

from __future__ import annotations

import math
from collections import defaultdict
from math import comb
from typing import Any

from auxrun.methods.registry import decides_while_training, is_baseline
from auxrun.reporting.runs import Run


def chance_selected(n_candidates: int, n_selected: int, n_related: int) -> float:
    if n_candidates == 0 or n_related == 0:
        return 0.0
    return 1.0 - comb(n_candidates - n_related, n_selected) / comb(n_candidates, n_selected)


def binom_tail(k: int, n: int, p: float = 0.5) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the chance a random ranking does at least this well."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(max(k, 0), n + 1))


def ranked_above(scores: dict[str, float], related: list[str], noise: list[str]) -> float | None:
    """The share of (related, noise) pairs the scores put related above noise, a tie one half;
    None when no pair is scored."""
    pairs = [(r, n) for r in related for n in noise if r in scores and n in scores]
    if not pairs:
        return None
    return sum(
        1.0 if scores[r] > scores[n] else 0.5 if scores[r] == scores[n] else 0.0 for r, n in pairs
    ) / len(pairs)


def run_planted(run: Run) -> dict[str, Any] | None:
    """This run's planted record, or None when it has no selection or no roles for its primary, is a
    baseline (it selects nothing or everything), or decides while training and has not finished."""
    if is_baseline(run.method):
        return None
    if decides_while_training(run.method) and run.results is None:
        return None  # avil, diw: the answer is the final weights (a stage=select run has none)
    roles = run.planted.get(run.primary) if run.planted else None
    sel = run.selection
    if not roles or not sel:
        return None
    related, noise = list(roles.get("related", [])), list(roles.get("noise", []))
    candidates, selected = list(sel.get("candidates", [])), list(sel.get("selected_tasks", []))
    return {
        "related_selected": any(t in selected for t in related),
        "noise_selected": any(t in selected for t in noise),
        "chance": chance_selected(
            len(candidates), len([t for t in selected if t in candidates]), len(related)
        ),
        "above": ranked_above(run.task_scores(), related, noise),
        "scores": tuple(sorted(run.task_scores().items())),
    }


def _distinct(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per distinct set of task scores (runs without scores each count)."""
    seen: set = set()
    out = []
    for rec in recs:
        if rec["scores"] and rec["scores"] in seen:
            continue
        seen.add(rec["scores"])
        out.append(rec)
    return out


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
        "p (rank)",
    ]
    rows = []
    for method in sorted(by):
        groups = dict(sorted(by[method].items()))
        distinct = {primary: _distinct(recs) for primary, recs in groups.items()}
        groups["all"] = [rec for recs in by[method].values() for rec in recs]
        distinct["all"] = [rec for primary in by[method] for rec in distinct[primary]]
        for primary, recs in groups.items():
            n = len(recs)
            ranked = [rec["above"] for rec in recs if rec["above"] is not None]
            trials = [rec["above"] for rec in distinct[primary] if rec["above"] is not None]
            p = binom_tail(math.floor(sum(trials)), len(trials)) if trials else None
            counted = f"{len(ranked)}" + (f", {len(trials)} distinct" if len(trials) < len(ranked) else "")
            rows.append(
                [
                    method,
                    primary,
                    str(n),
                    f"{sum(rec['related_selected'] for rec in recs)}/{n}",
                    f"{sum(rec['chance'] for rec in recs) / n:.2f}",
                    f"{sum(rec['noise_selected'] for rec in recs)}/{n}",
                    f"{sum(ranked) / len(ranked):.2f} ({counted})" if ranked else "no scores",
                    "0.50" if ranked else "",
                    f"{p:.2g}" if p is not None else "",
                ]
            )
    return header, rows

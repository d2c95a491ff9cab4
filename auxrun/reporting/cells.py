"""Runs grouped into table cells, and each cell tested against the baselines on the same primary.

A cell is every run whose resolved config is the same except for the seed (auxrun/reporting/runs.py
``varying_keys``); it holds the primary's main metric on a split as mean, sd and n, with the seeds
present. For each method, ``compare`` runs a paired bootstrap over the dev examples against the
baselines' cells with the same settings (``Method.baseline``: single_task and no_sel) (the seeds both ran, scored on the same
resamples and averaged; auxrun.eval.bootstrap.paired_bootstrap_seeds) and, with 3+ shared seeds, a
t-interval over the per-seed differences. A gain is "inside the noise" when either interval holds 0.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from auxrun.eval.bootstrap import paired_bootstrap_seeds
from auxrun.eval.metrics import LOWER_IS_BETTER
from auxrun.methods.registry import baselines
from auxrun.reporting.runs import Run, varying_keys


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """Student's t interval of the mean of ``values`` (None under two values)."""
    if len(values) < 2:
        return None
    mean, n = statistics.mean(values), len(values)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * statistics.stdev(values) / math.sqrt(n)
    return mean - half, mean + half


@dataclass
class Comparison:
    baseline: str
    diff: float  # mean over shared seeds of ours - baseline (oriented: > 0 is better)
    ci_low: float | None  # paired bootstrap over dev examples
    ci_high: float | None
    p: float | None
    seeds: list[Any]
    seed_sd: float | None = None  # sd of the per-seed differences
    seed_ci: tuple[float, float] | None = None  # t-interval over seeds (3+ seeds)
    note: str = ""

    @property
    def inside_noise(self) -> bool:
        intervals = [(self.ci_low, self.ci_high)] if self.ci_low is not None else []
        intervals += [self.seed_ci] if self.seed_ci else []
        return not intervals or any(lo <= 0 <= hi for lo, hi in intervals)

    @property
    def verdict(self) -> str:
        if self.inside_noise:
            return "inside the noise"
        return "better" if self.diff > 0 else "worse"


@dataclass
class Cell:
    group: dict[str, Any]  # the grouping keys' values (method.name, primary and every varying key)
    runs: list[Run]
    split: str
    metric: str | None
    values: list[float]
    seeds: list[Any]
    comparisons: dict[str, Comparison] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return str(self.group.get("method.name"))

    @property
    def primary(self) -> str:
        return str(self.group.get("primary"))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.mean(self.values) if self.values else None

    @property
    def sd(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    def fmt(self) -> str:
        if not self.values:
            return ""
        if self.n == 1:
            return f"{self.mean:.2f} (n=1)"
        return f"{self.mean:.2f} ± {self.sd:.2f} (n={self.n})"

    def context(self) -> tuple:
        """The group without the method and its own keys: what a baseline must share."""
        return tuple(
            (k, v) for k, v in self.group.items() if k != "method.name" and not k.startswith("method.")
        )


def group_keys(runs: list[Run]) -> list[str]:
    return ["method.name", "primary", *(k for k in varying_keys(runs) if k != "primary")]


def make_cells(runs: list[Run], split: str = "dev") -> tuple[list[str], list[Cell]]:
    finished = [r for r in runs if r.results is not None]
    keys = group_keys(finished)
    cells: dict[tuple, Cell] = {}
    for r in finished:
        group = {k: r.config.get(k) for k in keys}
        if any(k.startswith("method.") and k not in r.config for k in keys):
            group = {k: v for k, v in group.items() if not (k.startswith("method.") and k not in r.config)}
        ident = tuple(sorted((k, repr(v)) for k, v in group.items()))
        cell = cells.setdefault(ident, Cell(group, [], split, r.main_metric, [], []))
        cell.runs.append(r)
        value = r.score(split)
        if value is not None:
            cell.values.append(value)
            cell.seeds.append(r.seed)
    ordered = sorted(cells.values(), key=lambda c: tuple(repr(v) for v in c.group.values()))
    return keys, ordered


def _by_seed(cell: Cell) -> dict[Any, Run]:
    return {r.seed: r for r in cell.runs if r.results is not None}


def compare(cell: Cell, base: Cell, n_resamples: int = 1000, seed: int = 0) -> Comparison | None:
    """Cell against a baseline cell on the same primary and settings; None without shared seeds."""
    ours, theirs = _by_seed(cell), _by_seed(base)
    shared = sorted(set(ours) & set(theirs), key=repr)
    metric = cell.metric
    if not shared or metric is None:
        return None
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    per_seed = [sign * (ours[s].score(cell.split) - theirs[s].score(cell.split)) for s in shared]
    comp = Comparison(base.method, statistics.mean(per_seed), None, None, None, shared)
    if len(per_seed) > 1:
        comp.seed_sd = statistics.stdev(per_seed)
    if len(per_seed) >= 3:
        comp.seed_ci = t_interval(per_seed)
    pairs, gold = [], None
    for s in shared:
        a, b = ours[s].predictions(cell.split), theirs[s].predictions(cell.split)
        if a is None or b is None:
            comp.note = "no saved dev predictions: no bootstrap"
            return comp
        if a["uids"] != b["uids"] or (gold is not None and a["gold"] != gold):
            comp.note = "runs scored different examples: no bootstrap"
            return comp
        gold = a["gold"]
        pairs.append((a["predictions"], b["predictions"]))
    r = paired_bootstrap_seeds(metric, gold, pairs, n_resamples=n_resamples, seed=seed)
    comp.ci_low, comp.ci_high, comp.p = r.ci_low, r.ci_high, r.p
    return comp


def add_comparisons(cells: list[Cell], n_resamples: int = 1000, seed: int = 0) -> None:
    index = {(c.method, c.context()): c for c in cells}
    refs = baselines()
    for cell in cells:
        # a baseline against those ranked before it (no_sel against single_task), a selector against all
        against = refs[: refs.index(cell.method)] if cell.method in refs else refs
        for name in against:
            base = index.get((name, cell.context()))
            if base is None or base is cell:
                continue
            comp = compare(cell, base, n_resamples, seed)
            if comp is not None:
                cell.comparisons[name] = comp

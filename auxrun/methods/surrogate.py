"""Surrogate task modelling (Li, Nguyen and Zhang 2023, "Identification of Negative Transfers in
Multitask Learning Using Surrogate Models", TMLR; section 3, Algorithm 1).

1. Sample ``n_subsets`` distinct subsets S_1..S_n of the candidates, each of size ``subset_size``
   (k; their code: 3), uniformly without replacement.
2. For each, train the primary with S_i (an MTL run of ``train.epochs``, the run's seed) and record
   f(S_i): the primary's mean loss on select_dev at the run's best select_dev epoch (``target:
   metric`` uses minus the main metric instead).
3. Fit f(S) ~ theta_0 + sum_{a in S} theta_a by least squares on the subset indicators.
4. Select the auxiliaries with theta_a < -gamma (their coefficient lowers the primary's loss by more
   than gamma). ``scores`` are -theta_a (higher = more useful).

Default gamma = 0: every auxiliary whose fitted effect lowers the loss. The paper thresholds the
relevance scores with a tuned gamma; auxrun has no per-dataset tuning split for it, and 0 is the
threshold the linear model itself names (the sign of the effect). A pool-specific value belongs in
a setting file.

Departures and choices where the paper is silent:
- The primary trained alone (the empty subset) is one more sample. With subsets of one size k the
  indicators always sum to k, so theta_0 and the mean of the thetas cannot be told apart, and a
  threshold on theta_a would be a threshold on theta_a minus their mean; the anchor makes each
  theta_a the effect of adding a to the primary, which is what -gamma is compared with.
- n is capped at the number of distinct k-subsets; with k >= the number of candidates there is
  one subset and no coefficient can be fitted (an error naming the fix: a smaller k).
- The least squares is numpy's minimum-norm solution; where the design does not determine a
  coefficient (too few subsets) ``rank`` in selection.json is below 1 + #candidates and the
  undetermined coefficients are reported as fitted (minimum norm), with ``underdetermined: true``.
- Each subset's training is its own unit: its result goes to ``<run>/surrogate/<digest>.json`` when
  it finishes, and ``resume=true`` skips the subsets already there (a killed run loses at most the
  subset in progress). Subsets of one run train one after another.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Any

import numpy as np

from auxrun.config import MethodConfig
from auxrun.errors import ConfigError
from auxrun.eval.metrics import LOWER_IS_BETTER
from auxrun.io import read_json, read_or_set_aside, write_json_atomic
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.selection import Selection

log = logging.getLogger("auxrun")

TARGETS = ("loss", "metric")


@dataclass
class SurrogateConfig(MethodConfig):
    name: str = "surrogate"
    subset_size: int = 3  # k; Li et al.'s code samples subsets of 3 source tasks
    n_subsets: int = 20  # n; capped at C(#candidates, k)
    gamma: float = 0.0  # select theta_a < -gamma (see the module docstring)
    target: str = "loss"  # loss (the paper) | metric (minus the main metric)
    anchor: bool = True  # also train the primary alone (the empty subset)
    epochs: int | None = None  # of each subset's training; None: train.epochs


def sample_subsets(candidates: list[str], k: int, n: int, seed: int) -> list[list[str]]:
    """n distinct k-subsets (each in pool order), uniformly without replacement, seeded."""
    total = comb(len(candidates), k)
    n = min(n, total)
    rng = random.Random(f"surrogate-{seed}-{k}")
    if total <= 10 * n or total < 10_000:
        every = [list(c) for c in combinations(candidates, k)]
        return [every[i] for i in sorted(rng.sample(range(total), n))]
    seen: set[tuple[str, ...]] = set()
    out: list[list[str]] = []
    while len(out) < n:
        pick = tuple(sorted(rng.sample(candidates, k), key=candidates.index))
        if pick not in seen:
            seen.add(pick)
            out.append(list(pick))
    return out


@dataclass
class SurrogateFit:
    intercept: float
    coefficients: dict[str, float]
    r2: float
    rank: int
    residuals: list[float]

    @property
    def underdetermined(self) -> bool:
        return self.rank < len(self.coefficients) + 1


def fit_surrogate(subsets: list[list[str]], values: list[float], candidates: list[str]) -> SurrogateFit:
    """Least squares of values on [1, indicator(a in S) for a in candidates] (Algorithm 1, step 3)."""
    x = np.zeros((len(subsets), 1 + len(candidates)))
    x[:, 0] = 1.0
    col = {a: i + 1 for i, a in enumerate(candidates)}
    for r, s in enumerate(subsets):
        for a in s:
            x[r, col[a]] = 1.0
    y = np.asarray(values, dtype=np.float64)
    theta, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    fitted = x @ theta
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - fitted) ** 2).sum()) / ss if ss > 0 else 1.0
    return SurrogateFit(
        intercept=float(theta[0]),
        coefficients={a: float(theta[col[a]]) for a in candidates},
        r2=r2,
        rank=int(rank),
        residuals=[float(v) for v in y - fitted],
    )


def select_by_gamma(coefficients: dict[str, float], order: list[str], gamma: float) -> list[str]:
    """Auxiliaries with theta_a < -gamma, most negative first (ties: pool order)."""
    ranked = sorted(order, key=lambda t: (coefficients[t], order.index(t)))
    return [t for t in ranked if coefficients[t] < -gamma]


class SubsetRunner:
    """Trains the primary with one subset and records f(S) under ``<run>/surrogate/``; a finished
    subset is read back instead of trained again when the run resumes."""

    def __init__(self, method: Method):
        self.method, self.ctx, self.cfg = method, method.ctx, method.cfg
        self.folder = self.ctx.run_dir / "surrogate"

    def path(self, subset: list[str]):
        digest = hashlib.sha1("|".join(subset).encode()).hexdigest()[:12]
        return self.folder / f"subset{len(subset)}_{digest}.json"

    def __call__(self, subset: list[str]) -> dict[str, Any]:
        ctx, pool = self.ctx, self.ctx.pool
        path = self.path(subset)
        saved = read_or_set_aside(path, read_json, "this subset is trained again") if ctx.cfg.resume else None
        if saved is not None:
            if saved.get("tasks") == subset and saved.get("seed") == ctx.cfg.seed:
                ctx.ledger.note("select/subsets", f"[{', '.join(subset)}]: reused from {path.name}")
                return saved
        sel = Selection(
            method=self.method.name, primary=pool.primary, candidates=pool.auxiliaries, selected_tasks=subset
        )
        with ctx.ledger.stage("select/subsets"):
            trainer = ctx.new_trainer(
                sel,
                f"subset_{len(subset)}",
                epochs=self.cfg.epochs,
                eval_splits=["select_dev"],
                best_split="select_dev",
                progress=False,
            )
            summary = trainer.fit()
        main = pool.specs[pool.primary].main_metric
        best = summary["best"].get("select_dev", {})
        rec = {
            "tasks": list(subset),
            "seed": ctx.cfg.seed,
            "loss": float(best.get("loss", float("nan"))),
            "metric": float(best.get(main, float("nan"))),
            "main_metric": main,
            "best_epoch": summary["best_epoch"],
        }
        write_json_atomic(path, rec)
        log.info(
            "surrogate [%s]: select_dev loss %.4f, %s %.2f",
            ", ".join(subset),
            rec["loss"],
            main,
            rec["metric"],
        )
        return rec


def target_value(rec: dict[str, Any], target: str) -> float:
    if target == "loss":
        return rec["loss"]
    return rec["metric"] if rec["main_metric"] in LOWER_IS_BETTER else -rec["metric"]


@register("surrogate", SurrogateConfig)
class Surrogate(Method):
    cfg: SurrogateConfig

    @classmethod
    def validate_config(cls, cfg, specs) -> None:
        from auxrun.validate import _range

        m = cfg.method
        _range("method.subset_size", m.subset_size, 1)
        _range("method.n_subsets", m.n_subsets, 1)
        if m.target not in TARGETS:
            raise ConfigError(f"method.target='{m.target}' is not one of {list(TARGETS)}")
        if m.epochs is not None and m.epochs < 1:
            raise ConfigError(f"method.epochs={m.epochs} is out of range; allowed: [1, inf] or null")

    def select(self) -> Selection:
        ctx, pool = self.ctx, self.ctx.pool
        aux = list(pool.auxiliaries)
        k = self.cfg.subset_size
        if k > len(aux) or (k == len(aux) and (len(aux) > 1 or not self.cfg.anchor)):
            raise ConfigError(
                f"method.subset_size={k} with {len(aux)} candidates leaves one subset: no coefficient can be "
                f"fitted; set method.subset_size below {len(aux)}"
            )
        subsets = sample_subsets(aux, k, self.cfg.n_subsets, ctx.cfg.seed)
        units = ([[]] if self.cfg.anchor else []) + subsets
        records = [SubsetRunner(self)(s) for s in units]
        values = [target_value(r, self.cfg.target) for r in records]
        fit = fit_surrogate([r["tasks"] for r in records], values, aux)
        selected = select_by_gamma(fit.coefficients, aux, self.cfg.gamma)
        extra = {
            "ranking": select_by_gamma(fit.coefficients, aux, float("-inf")),
            "coefficients": fit.coefficients,
            "intercept": fit.intercept,
            "r2": fit.r2,
            "rank": fit.rank,
            "underdetermined": fit.underdetermined,
            "gamma": self.cfg.gamma,
            "target": self.cfg.target,
            "subset_size": k,
            "subsets": records,
        }
        return self.selection(selected, scores={a: -c for a, c in fit.coefficients.items()}, extra=extra)

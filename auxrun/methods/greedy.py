"""Rank-then-trial: greedy prefix trials over a ranked candidate list, shared by GradTS-trial and
GradTS-fg (GradTS 3.3, "Task-level Trial-based") and the HEU-Size / HEU-Len baselines (GradTS 5.3).

A method ranks the candidates (``RankThenTrial.rank``); this module does the rest. It scores the
primary alone (the empty prefix), then adds one task at a time, one MTL trial per prefix, each
scored by the primary's main metric on ``select_dev``. The trials stop at the first prefix that
scores worse than the one before it (the paper: "stops adding new tasks when the evaluation score
starts to decrease ... finalizes the auxiliary task set with the tasks chosen at the previous step"),
or after ``max_tasks`` auxiliaries. Which prefix is kept is ``method.trial_rule``:

- ``paper`` (default): the prefix before the first drop. Scores are non-decreasing up to there, so
  this is also the best prefix evaluated; ties go to the longer prefix, as the paper stops only on a
  decrease. The result may be empty (the first auxiliary already hurts).
- ``significant`` (auxrun's, issue 15): a trial is accepted only when its gain over the best
  accepted prefix so far (at first the primary alone) clears a one-sided paired bootstrap over the
  select_dev examples (``auxrun.eval.bootstrap``; p < 1 - ``trial_level``, ``trial_resamples``
  resamples, seed ``trial_bootstrap_seed``). The kept prefix is the last accepted one, so when no
  trial clears the noise the answer is the primary alone. The trials run are the same as under
  ``paper`` (same stopping point), so one run records the decisions of both rules.

``trial_seeds: k`` trains every trial with k seeds (run seed + 10007 i) and compares seed means; the
bootstrap then resamples examples once per draw and averages the metric over the k seeds' predictions
on that sample (for k = 1 exactly ``paired_bootstrap``). The cost ledger has one sub-stage per seed
(``select/trials/seed<i>``), so the price of k shows; the bootstraps' own time is
``select/trials/bootstrap``. Every trial's score, per-seed scores and, for each
rule, the reference it was compared with, the gain, its bootstrap interval, p and the decision go to
``selection.json`` (``trials``), also under ``paper``, so a reader sees which decisions were within
noise. A select_dev smaller than ``MIN_SELECT_DEV`` for the primary's metric gets a warning
(docs/methods/gradts.md, "How big must select_dev be").

Choices where the papers are silent: the stop rule is the paper's for both rules (``significant``
may accept a trial that dropped against its predecessor if it beats the best accepted prefix
significantly, and then stops there). The recorded interval is the two-sided ``trial_level``
percentile interval of the bootstrap differences; the decision uses the one-sided p.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from auxrun.config import MethodConfig, RunConfig
from auxrun.errors import ConfigError
from auxrun.eval.bootstrap import BootstrapResult, paired_bootstrap, resample_indices
from auxrun.eval.metrics import LOWER_IS_BETTER, METRICS
from auxrun.io import read_json, read_or_set_aside, write_json_atomic
from auxrun.methods.base import Method
from auxrun.selection import Selection

log = logging.getLogger("auxrun")

TRIAL_RULES = ("paper", "significant")
SEED_STRIDE = 10007  # trial seed i of a run with seed s: s + i * SEED_STRIDE (i = 0 is the run's own)

# Below these select_dev sizes (examples; sentences for tagging) a trial cannot tell a gain of a few
# points from noise (docs/methods/gradts.md, "How big must select_dev be"): auxrun warns. F1 and
# MCC rest on the positive class only, so they need about twice what accuracy needs.
MIN_SELECT_DEV = {
    "accuracy": 100,
    "f1": 200,
    "f1_macro": 200,
    "f1_weighted": 200,
    "mcc": 200,
    "pearson": 100,
    "spearman": 100,
    "mse": 100,
    "seqeval_f1": 100,
    "token_accuracy": 100,
    "token_f1_micro": 100,
}


@dataclass
class TrialConfig(MethodConfig):
    """The trial keys every rank-then-trial method has."""

    trial_epochs: int | None = None  # epochs of each MTL trial; None: train.epochs, as the paper
    max_tasks: int | None = None  # stop after this many auxiliaries; None: the paper's rule only
    trial_rule: str = "paper"  # paper | significant (issue 15)
    trial_level: float = 0.95  # significant: accept when the one-sided bootstrap p < 1 - level
    trial_resamples: int = 1000  # bootstrap resamples per comparison
    trial_bootstrap_seed: int = 0  # the bootstrap's resampling seed
    trial_seeds: int = 1  # seeds per trial; > 1 compares seed means


def validate_trial_config(m: Any) -> None:
    for key in ("trial_epochs", "max_tasks"):
        v = getattr(m, key, None)
        if v is not None and v < 1:
            raise ConfigError(f"method.{key}={v} is out of range; allowed: [1, inf] or null")
    if m.trial_rule not in TRIAL_RULES:
        raise ConfigError(f"method.trial_rule='{m.trial_rule}' is not one of {list(TRIAL_RULES)}")
    if not 0.5 <= m.trial_level < 1.0:
        raise ConfigError(f"method.trial_level={m.trial_level} is out of range; allowed: [0.5, 1)")
    if m.trial_resamples < 100:
        raise ConfigError(f"method.trial_resamples={m.trial_resamples} is out of range; allowed: [100, inf]")
    if m.trial_seeds < 1:
        raise ConfigError(f"method.trial_seeds={m.trial_seeds} is out of range; allowed: [1, inf]")


# ---- the greedy search (pure: a score function in, decisions out) ----------------------------------


@dataclass
class TrialRun:
    """One prefix's trial: the select_dev score (mean over seeds) and each seed's predictions."""

    score: float
    seed_scores: list[float] = field(default_factory=list)
    predictions: list[list] = field(default_factory=list)  # per seed, the primary's select_dev predictions


@dataclass
class Trial:
    tasks: list[str]
    score: float
    seed_scores: list[float] = field(default_factory=list)
    predictions: list[list] = field(default_factory=list, repr=False)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)  # rule -> record

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tasks": list(self.tasks), "score": self.score}
        if len(self.seed_scores) > 1:
            out["seed_scores"] = list(self.seed_scores)
        return {**out, **self.decisions}


@dataclass
class GreedyResult:
    selected: list[str]  # under the rule asked for
    trials: list[Trial] = field(default_factory=list)
    stopped_at: int | None = None  # the prefix length whose score dropped; None: every prefix tried
    rule: str = "paper"
    by_rule: dict[str, list[str]] = field(default_factory=dict)  # what each rule keeps

    def history(self) -> list[dict]:
        return [t.record() for t in self.trials]

    def extra(self) -> dict[str, Any]:
        """The selection.json records of the trials."""
        return {
            "trials": self.history(),
            "trial_stopped_at": self.stopped_at,
            "trial_rule": self.rule,
            "trial_selection_by_rule": self.by_rule,
        }


Compare = Callable[[Trial, Trial], BootstrapResult]


def _oriented(metric: str, a: float, b: float) -> float:
    return b - a if metric in LOWER_IS_BETTER else a - b


def _decision(reference: Trial, gain: float, test: BootstrapResult | None, accepted: bool) -> dict:
    rec: dict[str, Any] = {"reference": list(reference.tasks), "gain": gain}
    if test is not None:
        rec.update(ci=[test.ci_low, test.ci_high], p=test.p)
    rec["accepted"] = accepted
    return rec


def greedy_prefix_trials(
    ranked: list[str],
    score_fn: Callable[[list[str]], float | TrialRun],
    metric: str = "accuracy",
    max_tasks: int | None = None,
    rule: str = "paper",
    compare: Compare | None = None,
    level: float = 0.95,
) -> GreedyResult:
    """``score_fn(prefix)`` trains the primary plus ``prefix`` and returns its select_dev score (or a
    TrialRun with the predictions); ``metric`` decides the direction (auxrun.eval.metrics.better).
    ``compare(a, b)`` bootstraps a's gain over b; without it only ``paper`` can decide."""
    if rule not in TRIAL_RULES:
        raise ValueError(f"rule '{rule}' is not one of {list(TRIAL_RULES)}")
    if rule == "significant" and compare is None:
        raise ValueError("trial_rule 'significant' needs a bootstrap comparison (predictions)")

    def run(prefix: list[str]) -> Trial:
        r = score_fn(prefix)
        if not isinstance(r, TrialRun):
            r = TrialRun(float(r), [float(r)])
        return Trial(list(prefix), float(r.score), list(r.seed_scores), list(r.predictions))

    limit = len(ranked) if max_tasks is None else min(max_tasks, len(ranked))
    base = run([])
    base.decisions = {rule_: {"accepted": True} for rule_ in (TRIAL_RULES if compare else ["paper"])}
    trials, best_sig, paper_sel, stopped = [base], base, [], None
    for k in range(1, limit + 1):
        trial = run(list(ranked[:k]))
        prev = trials[-1]
        trials.append(trial)
        drop = _oriented(metric, trial.score, prev.score) < 0
        test = compare(trial, prev) if compare is not None else None
        trial.decisions["paper"] = _decision(prev, _oriented(metric, trial.score, prev.score), test, not drop)
        if compare is not None:
            test = test if best_sig is prev else compare(trial, best_sig)
            ok = test.significant(1 - level)
            trial.decisions["significant"] = _decision(
                best_sig, _oriented(metric, trial.score, best_sig.score), test, ok
            )
            if ok:
                best_sig = trial
        if drop:
            stopped = k
            break
        paper_sel = trial.tasks
    by_rule = {"paper": list(paper_sel)}
    if compare is not None:
        by_rule["significant"] = list(best_sig.tasks)
    return GreedyResult(selected=by_rule[rule], trials=trials, stopped_at=stopped, rule=rule, by_rule=by_rule)


def bootstrap_seed_means(
    metric: str,
    gold: Sequence,
    preds_a: Sequence[Sequence],
    preds_b: Sequence[Sequence],
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> BootstrapResult:
    """One-sided paired bootstrap of A's gain over B when each was trained with several seeds: each
    resample draws examples once and scores every seed's predictions on them; the difference is of
    the seed means. With one seed each, exactly ``paired_bootstrap(..., alternative="greater")``."""
    if len(preds_a) == 1 and len(preds_b) == 1:
        return paired_bootstrap(metric, gold, preds_a[0], preds_b[0], n_resamples, seed, level, "greater")
    fn, sign = METRICS[metric], (-1.0 if metric in LOWER_IS_BETTER else 1.0)
    gold = list(gold)
    if len(gold) == 0 or any(len(p) != len(gold) for p in [*preds_a, *preds_b]):
        raise ValueError("bootstrap_seed_means needs non-empty predictions as long as gold")

    def diff(idx) -> float:
        g = [gold[i] for i in idx]
        a = np.mean([fn(g, [p[i] for i in idx]) for p in preds_a])
        b = np.mean([fn(g, [p[i] for i in idx]) for p in preds_b])
        return float(sign * (a - b))

    gain = diff(range(len(gold)))
    diffs = np.array([diff(idx) for idx in resample_indices(len(gold), n_resamples, seed)])
    tail = (1 - level) / 2
    lo, hi = np.quantile(diffs, [tail, 1 - tail])
    return BootstrapResult(
        gain, float(lo), float(hi), float(np.mean(diffs <= 0)), len(gold), n_resamples, level
    )


# ---- running trials inside a run ------------------------------------------------------------------


def select_dev_warning(
    metric: str, n: int, rule: str = "paper", decided: str = "trial decisions"
) -> str | None:
    need = MIN_SELECT_DEV.get(metric, 200)
    if n >= need:
        return None
    advice = (
        "; method.trial_rule=significant keeps a task only when its gain clears a bootstrap test"
        if rule == "paper"
        else ""
    )
    return (
        f"select_dev has {n} examples, fewer than {need} for {metric}: {decided} on it are mostly "
        f"noise (docs/methods/gradts.md, 'How big must select_dev be'){advice}"
    )


class TrialRunner:
    """Trains and scores prefixes for one run: k seeds per prefix, each finished trial saved under
    ``<run>/trials/`` so ``resume=true`` skips it, and the bootstrap comparison of two trials."""

    def __init__(self, method_name: str, ctx: Any, cfg: TrialConfig):
        self.name, self.ctx, self.cfg = method_name, ctx, cfg
        self.pool = ctx.pool
        self.metric = self.pool.specs[self.pool.primary].main_metric
        self.gold = list(self.pool.split(self.pool.primary, "select_dev").gold)
        self.folder = ctx.run_dir / "trials"
        self.seeds = [ctx.cfg.seed + i * SEED_STRIDE for i in range(cfg.trial_seeds)]

    def _path(self, prefix: list[str]):
        digest = hashlib.sha1("|".join(prefix).encode()).hexdigest()[:12]
        return self.folder / f"prefix{len(prefix)}_{digest}.json"

    def __call__(self, prefix: list[str]) -> TrialRun:
        path = self._path(prefix)
        saved = read_or_set_aside(path, read_json, "this trial runs again") if self.ctx.cfg.resume else None
        if saved is None or saved.get("tasks") != prefix or saved.get("seeds") != self.seeds:
            sel = Selection(
                method=self.name,
                primary=self.pool.primary,
                candidates=self.pool.auxiliaries,
                selected_tasks=list(prefix),
            )
            scores, preds = [], []
            for i, seed in enumerate(self.seeds):
                with self.ctx.ledger.stage(f"select/trials/seed{i}"):
                    run = self.ctx.trial(
                        sel, stage=f"trial_{len(prefix)}", epochs=self.cfg.trial_epochs, seed=seed
                    )
                scores.append(run.score)
                preds.append(run.predictions)
            saved = {"tasks": list(prefix), "seeds": self.seeds, "scores": scores, "predictions": preds}
            write_json_atomic(path, saved)
        score = float(np.mean(saved["scores"]))
        log.info("%s trial %d: [%s] select_dev %.2f", self.name, len(prefix), ", ".join(prefix), score)
        return TrialRun(score, [float(s) for s in saved["scores"]], saved["predictions"])

    def compare(self, a: Trial, b: Trial) -> BootstrapResult:
        with self.ctx.ledger.stage("select/trials/bootstrap"):
            return bootstrap_seed_means(
                self.metric,
                self.gold,
                a.predictions,
                b.predictions,
                self.cfg.trial_resamples,
                self.cfg.trial_bootstrap_seed,
                self.cfg.trial_level,
            )

    def run(self, ranked: list[str]) -> GreedyResult:
        warning = select_dev_warning(self.metric, len(self.gold), self.cfg.trial_rule)
        if warning:
            log.warning("%s: %s", self.name, warning)
        with self.ctx.ledger.stage("select/trials"):
            result = greedy_prefix_trials(
                ranked,
                self,
                metric=self.metric,
                max_tasks=self.cfg.max_tasks,
                rule=self.cfg.trial_rule,
                compare=self.compare,
                level=self.cfg.trial_level,
            )
        self.warning = warning
        return result

    def extra(self, result: GreedyResult) -> dict[str, Any]:
        c = self.cfg
        return {
            **result.extra(),
            "trial_settings": {
                "level": c.trial_level,
                "resamples": c.trial_resamples,
                "bootstrap_seed": c.trial_bootstrap_seed,
                "seeds": self.seeds,
                "select_dev_examples": len(self.gold),
                "metric": self.metric,
            },
            "trial_warning": self.warning,
        }


def run_trials(method: Method, ranked: list[str]) -> tuple[GreedyResult, dict[str, Any]]:
    """The greedy trials of ``method`` (its cfg a TrialConfig) over ``ranked``: the result and its
    selection.json records."""
    runner = TrialRunner(method.name, method.ctx, method.cfg)
    result = runner.run(ranked)
    return result, runner.extra(result)


class RankThenTrial(Method):
    """A method that ranks the candidates and lets the greedy trials pick the prefix; subclasses
    implement ``rank`` (candidates best first, their scores, and any records for selection.json)."""

    cfg: TrialConfig

    @classmethod
    def validate_config(cls, cfg: RunConfig, specs) -> None:
        validate_trial_config(cfg.method)

    def rank(self) -> tuple[list[str], dict[str, float], dict[str, Any]]:
        raise NotImplementedError

    def select(self) -> Selection:
        ranked, scores, extra = self.rank()
        result, records = run_trials(self, ranked)
        return self.selection(result.selected, scores=scores, extra={"ranking": ranked, **records, **extra})

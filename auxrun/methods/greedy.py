"""Greedy prefix trials (GradTS 3.3, "Task-level Trial-based"; reused by the HEU baselines, 5.3).

Given candidates in rank order, score the primary alone (the empty prefix), then add one task at a
time, one MTL trial per prefix; stop at the first prefix that scores worse than the one before it,
and keep the prefix before the drop ("finalizes the auxiliary task set with the tasks chosen at the
previous step"). Scores are non-decreasing up to that point, so this is also the best prefix
evaluated (ties go to the longer one, as the paper only stops on a decrease). The result may be
empty: when the first auxiliary already hurts, the primary alone is the right answer.

Not a Method itself (no ``register``): the registry imports it like any module in this package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from auxrun.eval.metrics import better


@dataclass
class Trial:
    tasks: list[str]
    score: float


@dataclass
class GreedyResult:
    selected: list[str]
    trials: list[Trial] = field(default_factory=list)
    stopped_at: int | None = None  # the prefix length whose score dropped; None: every prefix tried

    def history(self) -> list[dict]:
        return [asdict(t) for t in self.trials]


def greedy_prefix_trials(
    ranked: list[str],
    score_fn: Callable[[list[str]], float],
    metric: str = "accuracy",
    max_tasks: int | None = None,
) -> GreedyResult:
    """``score_fn(prefix)`` trains the primary plus ``prefix`` and returns its select_dev score;
    ``metric`` decides the direction (auxrun.eval.metrics.better)."""
    limit = len(ranked) if max_tasks is None else min(max_tasks, len(ranked))
    trials = [Trial([], float(score_fn([])))]
    for k in range(1, limit + 1):
        prefix = list(ranked[:k])
        trial = Trial(prefix, float(score_fn(prefix)))
        trials.append(trial)
        prev = trials[-2].score
        if trial.score != prev and not better(metric, trial.score, prev):  # the first drop
            return GreedyResult(selected=list(ranked[: k - 1]), trials=trials, stopped_at=k)
    return GreedyResult(selected=list(ranked[:limit]), trials=trials, stopped_at=None)

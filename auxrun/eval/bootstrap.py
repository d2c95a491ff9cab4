"""Paired bootstrap over evaluation examples: is system A's score on a split really different from B's?

Both systems are scored on the same resampled examples (Koehn 2004; Berg-Kirkpatrick et al. 2012):
draw n example indices with replacement, score A and B on that sample with the task's metric,
record the difference. The interval is the percentile interval of the differences; the p-value is
the share of resamples on which the difference does not favour A (one-sided, ``greater``) or twice
the smaller tail (``two-sided``). Differences are oriented so that a positive gain means A is better,
also for metrics where lower is better (mse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from auxrun.eval.metrics import LOWER_IS_BETTER, METRICS


@dataclass
class BootstrapResult:
    gain: float  # metric(A) - metric(B) on the full split, oriented: > 0 means A is better
    ci_low: float
    ci_high: float
    p: float
    n_examples: int
    n_resamples: int
    level: float

    def significant(self, alpha: float | None = None) -> bool:
        """A's gain clears the noise: p below ``alpha`` (default 1 - level)."""
        return self.p < (1 - self.level if alpha is None else alpha)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def resample_indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """[n_resamples, n] example indices drawn with replacement; a function of (n, n_resamples, seed)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def paired_bootstrap(
    metric: str,
    gold: Sequence,
    pred_a: Sequence,
    pred_b: Sequence,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    alternative: str = "two-sided",
) -> BootstrapResult:
    return paired_bootstrap_seeds(metric, gold, [(pred_a, pred_b)], n_resamples, seed, level, alternative)


def paired_bootstrap_seeds(
    metric: str,
    gold: Sequence,
    pairs: Sequence[tuple[Sequence, Sequence]],
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    alternative: str = "two-sided",
) -> BootstrapResult:
    """The paired bootstrap of A against B over the examples, where each system ran with several seeds:
    ``pairs`` holds (A's predictions, B's predictions) for each seed both ran with. Every resample
    draws one set of example indices and scores each pair on it; the statistic is the mean over seeds
    of metric(A) - metric(B), so the interval covers example sampling with the seeds averaged."""
    if not pairs:
        raise ValueError("paired bootstrap needs at least one pair of predictions")
    if alternative not in ("two-sided", "greater"):
        raise ValueError(f"alternative='{alternative}' is not one of ['two-sided', 'greater']")
    gold = list(gold)
    for pred_a, pred_b in pairs:
        if not (len(gold) == len(pred_a) == len(pred_b)) or len(gold) == 0:
            raise ValueError(
                f"paired bootstrap needs equal, non-empty lengths: {len(gold)}, {len(pred_a)}, {len(pred_b)}"
            )
    fn = METRICS[metric]
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    pairs = [(list(a), list(b)) for a, b in pairs]
    gain = float(np.mean([sign * (fn(gold, a) - fn(gold, b)) for a, b in pairs]))
    diffs = np.empty(n_resamples)
    for r, idx in enumerate(resample_indices(len(gold), n_resamples, seed)):
        g = [gold[i] for i in idx]
        diffs[r] = np.mean(
            [sign * (fn(g, [a[i] for i in idx]) - fn(g, [b[i] for i in idx])) for a, b in pairs]
        )
    tail = (1 - level) / 2
    lo, hi = np.quantile(diffs, [tail, 1 - tail])
    not_better = float(np.mean(diffs <= 0))
    if alternative == "greater":
        p = not_better
    else:
        p = min(1.0, 2 * min(not_better, float(np.mean(diffs >= 0))))
    return BootstrapResult(gain, float(lo), float(hi), p, len(gold), n_resamples, level)

"""Task metrics, computed by scikit-learn, scipy and seqeval (never re-implemented here).

Every metric takes (y_true, y_pred) as the task's native values: class ids for classification and
multiple choice, floats for regression, lists of tag strings per sentence for sequence labelling.
Values are reported on a 0-100 scale, as the papers' tables are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats
from sklearn import metrics as skm

MetricFn = Callable[[Sequence, Sequence], float]


def _flat(tags: Sequence[Sequence[str]]) -> list[str]:
    return [t for sent in tags for t in sent]


def _seqeval_f1(y_true, y_pred) -> float:
    from seqeval.metrics import f1_score

    return float(f1_score([list(s) for s in y_true], [list(s) for s in y_pred])) * 100


def _corr(fn) -> MetricFn:
    def metric(y_true, y_pred) -> float:
        y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
        if np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
            return 0.0  # undefined for a constant input; 0 rather than NaN so best-epoch logic works
        return float(fn(y_true, y_pred)[0]) * 100

    return metric


METRICS: dict[str, MetricFn] = {
    "accuracy": lambda t, p: float(skm.accuracy_score(t, p)) * 100,
    # binary F1 with the positive class id 1 (labels[1] in the task file)
    "f1": lambda t, p: float(skm.f1_score(t, p, average="binary", pos_label=1, zero_division=0)) * 100,
    "f1_macro": lambda t, p: float(skm.f1_score(t, p, average="macro", zero_division=0)) * 100,
    "f1_weighted": lambda t, p: float(skm.f1_score(t, p, average="weighted", zero_division=0)) * 100,
    "mcc": lambda t, p: float(skm.matthews_corrcoef(t, p)) * 100,
    "pearson": _corr(stats.pearsonr),
    "spearman": _corr(stats.spearmanr),
    "seqeval_f1": _seqeval_f1,
    "token_accuracy": lambda t, p: float(skm.accuracy_score(_flat(t), _flat(p))) * 100,
    "token_f1_micro": lambda t, p: float(skm.f1_score(_flat(t), _flat(p), average="micro")) * 100,
    "mse": lambda t, p: float(skm.mean_squared_error(t, p)),
}

# Metrics where lower is better (best-epoch selection flips them).
LOWER_IS_BETTER = {"mse"}


def compute_metrics(names: Sequence[str], y_true: Sequence, y_pred: Sequence) -> dict[str, float]:
    return {name: METRICS[name](y_true, y_pred) for name in names}


def better(metric: str, a: float, b: float | None) -> bool:
    """True when score a improves on b (b None: nothing yet)."""
    if b is None:
        return True
    return a < b if metric in LOWER_IS_BETTER else a > b

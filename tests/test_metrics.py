"""Metrics against values worked out by hand and against scipy/seqeval directly."""

import math

import numpy as np
import pytest
from scipy import stats

from auxrun.eval.metrics import METRICS, better, compute_metrics

Y_TRUE = [1, 0, 1, 1, 0, 0, 1, 0]
Y_PRED = [1, 0, 0, 1, 1, 0, 1, 0]  # tp=3 fn=1 fp=1 tn=3


def test_classification_by_hand():
    m = compute_metrics(["accuracy", "f1", "mcc"], Y_TRUE, Y_PRED)
    assert m["accuracy"] == pytest.approx(75.0)
    assert m["f1"] == pytest.approx(100 * 2 * 3 / (2 * 3 + 1 + 1))
    mcc = (3 * 3 - 1 * 1) / math.sqrt(4 * 4 * 4 * 4)
    assert m["mcc"] == pytest.approx(100 * mcc)


def test_multiclass_f1_averages_by_hand():
    t = [0, 0, 1, 1, 2, 2]
    p = [0, 1, 1, 1, 2, 0]
    # per-class F1: c0 p=1/2 r=1/2 -> .5; c1 p=2/3 r=1 -> .8; c2 p=1 r=1/2 -> 2/3
    per = [0.5, 0.8, 2 / 3]
    assert METRICS["f1_macro"](t, p) == pytest.approx(100 * sum(per) / 3)
    assert METRICS["f1_weighted"](t, p) == pytest.approx(100 * sum(per) / 3)  # equal supports


def test_correlations_match_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = x + rng.normal(size=50)
    assert METRICS["pearson"](x, y) == pytest.approx(100 * stats.pearsonr(x, y)[0])
    assert METRICS["spearman"](x, y) == pytest.approx(100 * stats.spearmanr(x, y)[0])
    assert METRICS["pearson"](x, np.ones(50)) == 0.0  # constant predictions: defined as 0, not NaN


def test_entity_f1_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC", "I-LOC"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["O", "B-LOC", "O"]]
    # gold entities: PER(0-1), LOC(3), LOC(1-2); predicted: PER(0-1) correct, LOC(1) wrong span
    precision, recall = 1 / 2, 1 / 3
    assert METRICS["seqeval_f1"](gold, pred) == pytest.approx(
        100 * 2 * precision * recall / (precision + recall)
    )
    assert METRICS["token_accuracy"](gold, pred) == pytest.approx(100 * 5 / 7)


def test_better_respects_direction():
    assert better("accuracy", 2.0, 1.0) and not better("accuracy", 1.0, 2.0)
    assert better("mse", 1.0, 2.0) and better("accuracy", 0.0, None)

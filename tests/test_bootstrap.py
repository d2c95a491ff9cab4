"""The paired bootstrap against cases with known answers and a direct computation."""

import numpy as np
import pytest

from auxrun.eval.bootstrap import paired_bootstrap, resample_indices


def test_identical_systems_have_no_gain():
    gold = [0, 1, 1, 0, 1, 0, 0, 1]
    r = paired_bootstrap("accuracy", gold, gold[::-1], gold[::-1], n_resamples=200)
    assert (r.gain, r.ci_low, r.ci_high, r.p) == (0.0, 0.0, 0.0, 1.0)
    assert not r.significant()


def test_always_right_against_always_wrong():
    gold = [i % 2 for i in range(40)]
    wrong = [1 - g for g in gold]
    r = paired_bootstrap("accuracy", gold, gold, wrong, n_resamples=300, alternative="greater")
    assert r.gain == 100.0 and r.ci_low == r.ci_high == 100.0 and r.p == 0.0 and r.significant()
    flipped = paired_bootstrap("accuracy", gold, wrong, gold, n_resamples=300, alternative="greater")
    assert flipped.gain == -100.0 and flipped.p == 1.0


def test_equals_a_hand_computation_on_fixed_predictions():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 2, 60).tolist()
    a = [g if rng.random() < 0.8 else 1 - g for g in gold]
    b = [g if rng.random() < 0.7 else 1 - g for g in gold]
    r = paired_bootstrap("accuracy", gold, a, b, n_resamples=500, seed=11, alternative="greater")
    # by hand: per-example correctness differences averaged over the same resamples
    d = (np.array(a) == np.array(gold)).astype(float) - (np.array(b) == np.array(gold)).astype(float)
    diffs = 100 * d[resample_indices(60, 500, 11)].mean(axis=1)
    assert r.gain == pytest.approx(100 * d.mean())
    assert r.p == pytest.approx(np.mean(diffs <= 0))
    assert (r.ci_low, r.ci_high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])))


def test_lower_is_better_metrics_are_oriented():
    gold = [1.0, 2.0, 3.0, 4.0]
    r = paired_bootstrap("mse", gold, gold, [0.0, 0.0, 0.0, 0.0], n_resamples=100)
    assert r.gain > 0  # A (exact) beats B on mse


def test_same_seed_same_result_and_bad_lengths_rejected():
    gold, a, b = [0, 1, 1, 0, 1], [0, 1, 0, 0, 1], [1, 1, 0, 0, 0]
    assert paired_bootstrap("f1", gold, a, b, seed=5) == paired_bootstrap("f1", gold, a, b, seed=5)
    with pytest.raises(ValueError, match="equal"):
        paired_bootstrap("accuracy", gold, a, b[:-1])

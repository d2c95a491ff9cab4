"""Rank-then-trial (auxrun/methods/greedy.py): the paper rule as before, the significant rule against
hand computations of the bootstrap, seed means, and the run-time select_dev warning."""

from __future__ import annotations

import random

import numpy as np
import pytest

from auxrun.eval.bootstrap import paired_bootstrap, resample_indices
from auxrun.eval.metrics import better
from auxrun.methods.greedy import (
    TrialRun,
    bootstrap_seed_means,
    greedy_prefix_trials,
    select_dev_warning,
)


def legacy_rule(ranked, scores, metric, max_tasks=None):
    """The rule as it was before trial_rule existed (auxrun 761d51d), written out as a reference."""
    limit = len(ranked) if max_tasks is None else min(max_tasks, len(ranked))
    prev = scores[()]
    for k in range(1, limit + 1):
        s = scores[tuple(ranked[:k])]
        if s != prev and not better(metric, s, prev):
            return list(ranked[: k - 1]), k
        prev = s
    return list(ranked[:limit]), None


@pytest.mark.parametrize("metric", ["accuracy", "mse"])
def test_paper_rule_selects_exactly_what_the_old_rule_did(metric):
    rng = random.Random(7)
    for _ in range(300):
        ranked = [f"t{i}" for i in range(rng.randint(0, 5))]
        scores = {tuple(ranked[:k]): float(rng.choice([50, 55, 60, 60, 65])) for k in range(len(ranked) + 1)}
        max_tasks = rng.choice([None, 1, 2, 3])
        r = greedy_prefix_trials(ranked, lambda p, s=scores: s[tuple(p)], metric=metric, max_tasks=max_tasks)
        assert (r.selected, r.stopped_at) == legacy_rule(ranked, scores, metric, max_tasks)
        assert r.by_rule == {"paper": r.selected}


def correct(gold, hits):
    """Predictions that are right exactly on the examples in ``hits`` (binary labels)."""
    return [g if i in hits else 1 - g for i, g in enumerate(gold)]


def test_bootstrap_decision_equals_a_hand_computation():
    gold = [i % 2 for i in range(10)]
    alone = correct(gold, set(range(10)) - {0, 1, 2, 3, 4})  # wrong on 0-4
    one_better = correct(gold, set(range(10)) - {0, 1, 2, 3})  # wrong on 0-3: +10 points
    all_right = correct(gold, set(range(10)))
    n, seed = 400, 3
    idx = resample_indices(10, n, seed)
    # A is never worse than B on any example, so A's resampled gain is <= 0 exactly when none of
    # the examples only A gets right is drawn: p = share of resamples without them.
    for a, only_a in ((one_better, {4}), (all_right, {0, 1, 2, 3, 4})):
        hand_p = float(np.mean([not (set(row) & only_a) for row in idx.tolist()]))
        res = bootstrap_seed_means("accuracy", gold, [a], [alone], n, seed, 0.95)
        assert res.p == pytest.approx(hand_p) and res.gain == pytest.approx(10.0 * len(only_a))
    # (9/10)^10 = 0.35 of resamples miss example 4: not significant; (1/2)^10 = 0.001 miss all five
    assert bootstrap_seed_means("accuracy", gold, [one_better], [alone], n, seed).p > 0.2
    assert bootstrap_seed_means("accuracy", gold, [all_right], [alone], n, seed).p < 0.01

    def run(preds):
        return TrialRun(float(np.mean([p == g for p, g in zip(preds, gold)]) * 100), [], [preds])

    table = {(): run(alone), ("a",): run(one_better), ("a", "b"): run(all_right)}

    def compare(x, y):
        return bootstrap_seed_means("accuracy", gold, x.predictions, y.predictions, n, seed, 0.95)

    r = greedy_prefix_trials(["a", "b"], lambda p: table[tuple(p)], rule="significant", compare=compare)
    assert r.by_rule == {"paper": ["a", "b"], "significant": ["a", "b"]} and r.selected == ["a", "b"]
    t1, t2 = r.history()[1:]
    assert not t1["significant"]["accepted"] and t1["paper"]["accepted"]  # +10 points: within noise
    assert t2["significant"]["reference"] == []  # compared with the best *accepted* prefix, alone
    assert t2["significant"]["accepted"] and t2["significant"]["gain"] == pytest.approx(50.0)
    assert t2["paper"]["reference"] == ["a"] and t2["paper"]["gain"] == pytest.approx(40.0)
    lo, hi = t2["significant"]["ci"]
    assert lo <= 50.0 <= hi and t2["significant"]["p"] < 0.05
    # with only the within-noise step available, significant keeps nothing while paper keeps it
    r = greedy_prefix_trials(["a"], lambda p: table[tuple(p)], rule="significant", compare=compare)
    assert r.selected == [] and r.by_rule["paper"] == ["a"]


def test_seed_means_reduce_to_paired_bootstrap_and_average_seeds():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 60).tolist()
    a1, a2, b1, b2 = (rng.integers(0, 2, 60).tolist() for _ in range(4))
    one = bootstrap_seed_means("f1", gold, [a1], [b1], 300, 5, 0.9)
    ref = paired_bootstrap("f1", gold, a1, b1, 300, 5, 0.9, alternative="greater")
    assert one == ref
    same = bootstrap_seed_means("f1", gold, [a1, a1], [b1, b1], 300, 5, 0.9)
    assert (same.gain, same.p, same.ci_low, same.ci_high) == pytest.approx(
        (ref.gain, ref.p, ref.ci_low, ref.ci_high)
    )
    two = bootstrap_seed_means("accuracy", gold, [a1, a2], [b1, b2], 300, 5, 0.9)
    acc = [np.mean(np.equal(p, gold)) * 100 for p in (a1, a2, b1, b2)]
    assert two.gain == pytest.approx((acc[0] + acc[1]) / 2 - (acc[2] + acc[3]) / 2)
    # by hand: each resample's difference of seed-mean accuracies
    diffs = []
    for idx in resample_indices(60, 300, 5):
        m = [np.mean(np.equal(np.asarray(p)[idx], np.asarray(gold)[idx])) * 100 for p in (a1, a2, b1, b2)]
        diffs.append((m[0] + m[1]) / 2 - (m[2] + m[3]) / 2)
    assert two.p == pytest.approx(np.mean(np.asarray(diffs) <= 1e-12))


def test_mse_gains_are_oriented_and_significant_needs_predictions():
    gold = [0.0, 1.0, 2.0, 3.0] * 5
    worse = [g + 1.0 for g in gold]
    table = {(): TrialRun(1.0, [1.0], [worse]), ("a",): TrialRun(0.0, [0.0], [list(gold)])}

    def compare(x, y):
        return bootstrap_seed_means("mse", gold, x.predictions, y.predictions, 200, 0)

    r = greedy_prefix_trials(
        ["a"], lambda p: table[tuple(p)], metric="mse", rule="significant", compare=compare
    )
    assert r.selected == ["a"] and r.history()[1]["significant"]["gain"] == 1.0
    with pytest.raises(ValueError, match="significant"):
        greedy_prefix_trials(["a"], lambda p: 1.0, rule="significant")


def test_select_dev_warning_names_size_and_metric():
    assert "199 examples, fewer than 200 for f1" in select_dev_warning("f1", 199)
    assert select_dev_warning("f1", 200) is None
    assert select_dev_warning("accuracy", 150) is None and select_dev_warning("accuracy", 30)
    # under the paper's rule it names the rule that tests each gain; under that rule it does not
    assert "method.trial_rule=significant" in select_dev_warning("f1", 50, "paper")
    assert "trial_rule" not in select_dev_warning("f1", 50, "significant")


# The significant rule end to end on the tiny backbone (heu_size: the trials are the same machinery
# as gradts_trial without the head-importance stage). Half-size toy pool (select_dev: 15 primary
# examples), 4 epochs: enough for the planted related task to clear the bootstrap (README numbers).
SIG = [
    "data.toy_scale=0.5",
    "train.epochs=4",
    "train.batch_size=16",
    "stage=select",
    "method=heu_size",
    "method.trial_rule=significant",
    "method.trial_resamples=200",
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_significant_selects_nothing_from_noise(tmp_path, seed):
    from tests.conftest import run_auxrun

    sel = run_auxrun([*SIG, "task_set.tasks=[toy_pair,toy_noise,toy_tagnoise]", f"seed={seed}"], tmp_path)
    assert sel["selected_tasks"] == [] and sel["trial_selection_by_rule"]["significant"] == []
    assert not any(t["significant"]["accepted"] for t in sel["trials"][1:])


def test_significant_keeps_the_planted_related_task(tmp_path):
    from tests.conftest import run_auxrun

    sel = run_auxrun([*SIG, "task_set.tasks=[toy_sentiment,toy_rating,toy_noise]", "seed=1"], tmp_path)
    assert sel["ranking"][0] == "toy_rating"  # equal sizes: the pool's order
    assert sel["selected_tasks"][:1] == ["toy_rating"] and "toy_noise" not in sel["selected_tasks"]
    first = sel["trials"][1]["significant"]
    assert first["accepted"] and first["p"] < 0.05 and first["ci"][0] > 0


def test_trial_keys_are_validated_in_one_line():
    from auxrun.errors import ConfigError
    from auxrun.validate import validate_run
    from tests.conftest import compose

    for method in ("gradts_trial", "gradts_fg", "heu_size", "heu_len"):
        assert compose([f"method={method}"]).method.trial_rule == "paper"
    with pytest.raises(
        ConfigError, match=r"method.trial_rule='strict' is not one of \['paper', 'significant'\]"
    ):
        validate_run(compose(["method=heu_len", "method.trial_rule=strict"]))
    with pytest.raises(ConfigError, match=r"method.trial_seeds=0 is out of range"):
        validate_run(compose(["method=gradts_trial", "method.trial_seeds=0"]))
    with pytest.raises(ConfigError, match=r"method.trial_level=1.0 is out of range"):
        validate_run(compose(["method=heu_size", "method.trial_level=1.0"]))


def test_trial_seeds_average_scores_and_show_in_the_ledger(tmp_path):
    from tests.conftest import run_auxrun

    args = ["task_set.tasks=[toy_sentiment,toy_rating]", "data.toy_scale=0.3", "train.epochs=1"]
    args += ["method=heu_size", "method.trial_seeds=2", "method.trial_resamples=100", "stage=select"]
    sel = run_auxrun(args, tmp_path)
    assert sel["trial_settings"]["seeds"] == [42, 42 + 10007]
    for t in sel["trials"]:
        assert len(t["seed_scores"]) == 2 and t["score"] == pytest.approx(np.mean(t["seed_scores"]))
    cost = sel["cost"]
    assert (
        cost["select/trials/seed0"]["examples_backward"]
        == cost["select/trials/seed1"]["examples_backward"]
        > 0
    )
    assert len(list((tmp_path / "trials").glob("*.json"))) == len(sel["trials"])

"""GradTS: greedy trials, the fg filter, the head-importance cache, and the three methods end to end."""

import json

import numpy as np
import pytest

from auxrun.errors import ConfigError
from auxrun.importance.correlation import kendall_tau_b_many
from auxrun.methods.gradts import filter_instances
from auxrun.methods.greedy import greedy_prefix_trials
from auxrun.selection import Selection
from tests.conftest import FAST, compose, run_auxrun


def scripted(scores: dict[tuple, float]):
    calls = []

    def score(prefix):
        calls.append(tuple(prefix))
        return scores[tuple(prefix)]

    return score, calls


def test_greedy_stops_at_the_first_drop_and_keeps_the_prefix_before_it():
    score, calls = scripted({(): 50, ("a",): 60, ("a", "b"): 55, ("a", "b", "c"): 90})
    r = greedy_prefix_trials(["a", "b", "c"], score)
    assert r.selected == ["a"] and r.stopped_at == 2
    assert calls == [(), ("a",), ("a", "b")]  # ("a","b","c") is never trained, although it would win
    assert [t["score"] for t in r.history()] == [50, 60, 55]


def test_greedy_may_select_nothing_and_continues_on_ties():
    score, _ = scripted({(): 70, ("a",): 60})
    assert greedy_prefix_trials(["a", "b"], score).selected == []  # every auxiliary hurts: none
    score, _ = scripted({(): 70, ("a",): 70, ("a", "b"): 75})
    r = greedy_prefix_trials(["a", "b"], score)
    assert r.selected == ["a", "b"] and r.stopped_at is None
    score, _ = scripted({(): 0.5, ("a",): 0.4, ("a", "b"): 0.6})  # mse: lower is better
    assert greedy_prefix_trials(["a", "b"], score, metric="mse").selected == ["a"]
    score, calls = scripted({(): 1, ("a",): 2, ("a", "b"): 3})
    assert greedy_prefix_trials(["a", "b", "c"], score, max_tasks=2).selected == ["a", "b"]
    assert len(calls) == 3


def test_fg_filter_keeps_exactly_the_instances_at_or_above_the_threshold():
    taus = np.array([0.42, 0.4199999, 0.9, -0.5, 0.42000001, 0.1])
    assert filter_instances(taus, 0.42) == [0, 2, 4]
    assert filter_instances(taus, 1.0) == []
    # through the real tau: instances ranked like the primary (tau 1), half-way, reversed (tau -1)
    primary = np.array([[0.0, 0.2], [0.6, 1.0]])
    rows = np.stack([primary * 3, np.array([[0.0, 0.6], [0.2, 1.0]]), -primary])
    taus = kendall_tau_b_many(rows, primary)
    np.testing.assert_allclose(taus, [1.0, 4 / 6, -1.0])
    assert filter_instances(taus, 0.42) == [0, 1] and filter_instances(taus, 0.7) == [0]


def test_bad_thresholds_are_one_line_config_errors():
    from auxrun.validate import validate_run

    with pytest.raises(ConfigError, match=r"method.threshold=1.5 is out of range; allowed: \[-1, 1\]"):
        validate_run(compose(["method=gradts_thres", "method.threshold=1.5"]))
    with pytest.raises(ConfigError, match="method.layer_norm='l3' is not one of"):
        validate_run(compose(["method=gradts_fg", "method.layer_norm=l3"]))
    cfg = compose(["method=gradts_fg"])
    assert (cfg.method.warmup_epochs, cfg.method.instance_threshold) == (3, 0.42)
    assert compose(["method=gradts_thres"]).method.threshold == 0.47


TOY3 = [*FAST, "method.warmup_epochs=1", "train.epochs=1"]  # the end-to-end tests' settings too
POOL3 = "task_set.tasks=[toy_sentiment,toy_rating,toy_noise]"


def _notes(sel_dir):
    return json.loads((sel_dir / "selection.json").read_text())["head_importance"]


def test_cache_is_reused_across_primaries_and_pools_and_missed_when_data_changes(tmp_path):
    # the session cache: the end-to-end tests below hit what this test computes, and vice versa
    run_auxrun(["method=gradts_thres", POOL3, *TOY3, "stage=select"], tmp_path / "a")
    a = _notes(tmp_path / "a")
    # another primary, the pool grown by one task: only the new task's matrix is computed
    grown = "task_set.tasks=[toy_sentiment,toy_rating,toy_noise,toy_pair]"
    res = run_auxrun(["method=gradts_thres", grown, "primary=toy_pair", *TOY3], tmp_path / "b")
    b = _notes(tmp_path / "b")
    assert {t: v["cache"] for t, v in b.items()} == {
        "toy_sentiment": "hit",
        "toy_rating": "hit",
        "toy_noise": "hit",
        "toy_pair": "miss",
    }
    assert a["toy_rating"]["matrix"] == b["toy_rating"]["matrix"]
    # the ledger says which were reused and which computed
    log = res["cost_notes"]["select/head_importance"]
    assert sorted(line.split(":")[0] for line in log if "reused" in line) == [
        "toy_noise",
        "toy_rating",
        "toy_sentiment",
    ]
    assert [line.split(":")[0] for line in log if "computed" in line] == ["toy_pair"]
    costs = res["cost"]
    assert costs["select/head_importance/toy_rating"]["examples_backward"] == 0
    assert costs["select/head_importance/toy_pair"]["examples_backward"] > 0
    # different training data (fewer examples): every matrix is computed again
    run_auxrun(
        ["method=gradts_thres", POOL3, *TOY3, "stage=select", "train.max_train_examples=40"], tmp_path / "d"
    )
    assert {v["cache"] for v in _notes(tmp_path / "d").values()} == {"miss"}
    # auxrun's fast dropout draws other masks, so the probes differ: a separate cache entry
    run_auxrun(
        ["method=gradts_thres", POOL3, *TOY3, "stage=select", "hardware.fast_dropout=true"], tmp_path / "e"
    )
    assert {v["cache"] for v in _notes(tmp_path / "e").values()} == {"miss"}


@pytest.mark.parametrize("method", ["gradts_thres", "gradts_trial", "gradts_fg"])
def test_gradts_methods_end_to_end_on_toy(tmp_path, method):
    extra = ["method.instance_threshold=0.0"] if method == "gradts_fg" else []
    res = run_auxrun([f"method={method}", POOL3, *TOY3, *extra], tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert set(sel["scores"]) == {"toy_rating", "toy_noise"}
    assert all(-1 <= v <= 1 for v in sel["scores"].values())
    assert sorted(sel["ranking"], key=lambda t: -sel["scores"][t]) == sel["ranking"]
    assert res["training_tasks"] == ["toy_sentiment", *sel["selected_tasks"]]
    figs = sel["figures"]
    assert "figures/task_correlation.png" in figs and len(figs) == 4
    assert all((tmp_path / f).stat().st_size > 1000 for f in figs)
    if method == "gradts_thres":
        assert sel["selected_tasks"] == [t for t in sel["ranking"] if sel["scores"][t] >= 0.47]
    else:
        trials = sel["trials"]
        assert trials[0]["tasks"] == [] and [t["tasks"] for t in trials[1:]] == [
            sel["ranking"][:k] for k in range(1, len(trials))
        ]
    if method == "gradts_fg":
        loaded = Selection.load(tmp_path / "selection.json")
        for t in sel["trial_selection"]:
            kept = sel["instances_kept"][t]
            assert kept["total"] == 405 and 0 <= kept["kept"] <= 405  # 450 at scale .3, minus 10%
            if kept["kept"]:
                assert sel["instances"][t]["kept"] == kept["kept"] == len(loaded.instance_indices[t])
                assert sel["instance_files"][t]["kept"] == f"selection_instances/{t}.kept.npy"
                taus = loaded.instance_scores[t]
                assert loaded.scored_indices[t].tolist() == list(range(405)) and taus.dtype == np.float32
                assert (
                    loaded.instance_indices[t] == np.flatnonzero(taus >= sel["instance_threshold"]).tolist()
                )
        assert "instance_indices" not in sel  # arrays live in .npy files, not in the JSON
        assert res["cost"]["train"]["examples_backward"] == sum(v["kept"] for v in sel["instances"].values())


def test_fp16_instance_cache_keeps_the_taus():
    """fg's cache stores per-instance matrices scaled to max 1 in fp16 (half the bytes of fp32, a
    quarter of fp64); the taus fg thresholds move by at most a few thousandths."""
    from auxrun.importance.head_importance import normalize_importance
    from auxrun.methods.gradts import instances_fp16

    rng = np.random.default_rng(0)
    raw = rng.gamma(2.0, 1.0, size=(200, 12, 12)) * 10.0 ** rng.uniform(-6, 2, size=(200, 1, 1))
    primary = normalize_importance(rng.gamma(2.0, 1.0, size=(12, 12)))
    small = instances_fp16(raw)
    assert small.dtype == np.float16 and small.nbytes == raw.astype(np.float32).nbytes // 2
    assert np.allclose(small.max(axis=(1, 2)), 1.0)
    exact = kendall_tau_b_many(normalize_importance(raw), primary)
    approx = kendall_tau_b_many(normalize_importance(small.astype(np.float32)), primary)
    assert np.max(np.abs(exact - approx)) < 0.01

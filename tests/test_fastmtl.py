"""FastMTL similarity sampling and its random-sampling baseline: the pools, the top N, the seeded
draw, the .npy storage, the fine-tuning stage, and both methods end to end (toy; GLUE fixtures)."""

import csv
import json

import numpy as np
import pytest

from auxrun.errors import ConfigError
from auxrun.methods.fastmtl import stage1_subsets, top_n, unused_indices
from auxrun.methods.random_sampling import random_draw
from auxrun.selection import Selection
from tests.conftest import FAST, REPO, compose, run_auxrun

SMALL = [*FAST, "method.td_examples=100", "train.finetune_primary_epochs=2"]
TD = ["method.td_epochs=1"]  # fastmtl only


def test_top_n_is_exact_and_breaks_ties_by_pool_order_then_index():
    scored = {
        "b": (np.array([7, 3, 9]), np.array([0.5, 0.9, 0.5], dtype=np.float32)),
        "a": (np.array([4, 1]), np.array([0.5, 0.7], dtype=np.float32)),
        "c": (np.array([], dtype=np.int64), np.array([], dtype=np.float32)),
    }
    order = ["a", "b", "c"]
    # ranked: b3 .9, a1 .7, then the .5 ties: a4 (a before b), b7, b9 (lower index first)
    assert top_n(scored, order, 3) == {"a": [1, 4], "b": [3], "c": []}
    assert top_n(scored, order, 4) == {"a": [1, 4], "b": [3, 7], "c": []}
    assert top_n(scored, order, 99) == {"a": [1, 4], "b": [3, 7, 9], "c": []}
    assert top_n(scored, ["b", "a", "c"], 3) == {"b": [3, 7], "a": [1], "c": []}  # b now wins the tie
    rng = np.random.default_rng(0)  # against a brute-force sort on many ties
    big = {t: (rng.permutation(50), rng.integers(0, 4, 50).astype(np.float32)) for t in order}
    flat = sorted((-s, order.index(t), i) for t in order for i, s in zip(*big[t]))
    want = {t: sorted(int(i) for _, k, i in flat[:37] if order[k] == t) for t in order}
    assert top_n(big, order, 37) == want and sum(map(len, want.values())) == 37


def test_stage1_subsets_and_unused_pool():
    subsets = stage1_subsets({"p": 30, "a": 1000}, 500, seed=3)
    assert subsets["p"] == list(range(30)) and len(subsets["a"]) == 500  # min(500, |D_p|)
    assert subsets == stage1_subsets({"p": 30, "a": 1000}, 500, seed=3)
    assert subsets["a"] != stage1_subsets({"p": 30, "a": 1000}, 500, seed=4)["a"]
    rest = unused_indices(1000, subsets["a"])
    assert len(rest) == 500 and not set(rest.tolist()) & set(subsets["a"])


def test_random_sampling_is_seeded_and_uniform_over_the_union():
    unused = {"a": np.arange(100), "b": np.arange(300)}
    one = random_draw(unused, ["a", "b"], 200, seed=1)
    assert one == random_draw(unused, ["a", "b"], 200, seed=1)
    assert one != random_draw(unused, ["a", "b"], 200, seed=2)
    assert len(one["a"]) + len(one["b"]) == 200 and len(set(one["b"])) == len(one["b"])
    shares = [len(random_draw(unused, ["a", "b"], 200, seed=s)["a"]) for s in range(200)]
    assert np.mean(shares) == pytest.approx(50, abs=1.5)  # hypergeometric mean 200 * 100 / 400
    assert random_draw(unused, ["a", "b"], 1000, seed=1) == {"a": list(range(100)), "b": list(range(300))}


def test_selection_arrays_round_trip_through_npy(tmp_path):
    sel = Selection(
        method="m",
        primary="p",
        candidates=["a"],
        selected_tasks=["a"],
        instance_indices={"a": [2, 5]},
        scored_indices={"a": np.array([2, 5, 7])},
        instance_scores={"a": np.array([0.9, 0.8, 0.1])},
    )
    sel.save(tmp_path / "selection.json")
    d = json.loads((tmp_path / "selection.json").read_text())
    assert (
        "instance_indices" not in d
        and d["instance_files"]["a"]["scores"] == "selection_instances/a.scores.npy"
    )
    back = Selection.load(tmp_path / "selection.json")
    assert back.instance_indices == {"a": [2, 5]} and back.scored_indices["a"].tolist() == [2, 5, 7]
    assert back.instance_scores["a"].dtype == np.float32
    np.testing.assert_allclose(back.instance_scores["a"], [0.9, 0.8, 0.1], rtol=1e-6)


def test_bad_settings_fail_before_compute():
    from auxrun.validate import validate_run

    with pytest.raises(ConfigError, match=r"method.discriminator_loss='mse' is not one of \['bce', 'ce'\]"):
        validate_run(compose(["method=fastmtl", "method.discriminator_loss=mse"]))
    with pytest.raises(ConfigError, match=r"method.n_samples=0 is out of range; allowed: \[1, inf\]"):
        validate_run(compose(["method=random_sampling", "method.n_samples=0"]))
    assert compose(["method=fastmtl"]).train.finetune_primary_epochs == 5  # Appendix A's stage 3
    assert compose(["method=fastmtl", "train.finetune_primary_epochs=0"]).train.finetune_primary_epochs == 0
    assert compose(["method=no_sel"]).train.finetune_primary_epochs == 0


def _read(run_dir):
    sel = json.loads((run_dir / "selection.json").read_text())
    return sel, Selection.load(run_dir / "selection.json")


def test_fastmtl_end_to_end_on_toy(tmp_path):
    res = run_auxrun(
        ["method=fastmtl", "primary=toy_sentiment", "method.n_samples=300", *SMALL, *TD], tmp_path
    )
    sel, loaded = _read(tmp_path)
    subsets = stage1_subsets({t: sel["instances"][t]["total"] for t in sel["selected_tasks"]}, 100, 42)
    assert sel["n_samples"] == 300 and sel["n_kept"] == 300
    assert sum(v["kept"] for t, v in sel["instances"].items() if t != "toy_sentiment") == 300
    assert sum(sel["share"].values()) == pytest.approx(1.0, abs=1e-3)
    for t in sel["selected_tasks"]:
        scored = set(loaded.scored_indices[t].tolist())
        assert not scored & set(subsets[t])  # stage-1 examples are never ranked
        assert scored | set(subsets[t]) == set(range(sel["instances"][t]["total"]))  # all the others are
        assert set(loaded.instance_indices[t]) <= scored
    # the kept examples are exactly the 300 best scores over the union
    scores = np.concatenate([loaded.instance_scores[t] for t in loaded.scored_indices])
    kept_scores = np.concatenate(
        [
            loaded.instance_scores[t][np.isin(loaded.scored_indices[t], loaded.instance_indices[t])]
            for t in sel["selected_tasks"]
        ]
    )
    assert kept_scores.min() >= np.sort(scores)[-300] and 0 <= scores.min() and scores.max() <= 1
    assert (tmp_path / sel["figures"][0]).stat().st_size > 1000
    # the ledger separates stage 1 (training, ranking), stage 2 and stage 3
    cost = res["cost"]
    assert {"select/td_mtdnn", "select/ranking", "train", "finetune"} <= set(cost)
    assert cost["select/ranking"]["examples_backward"] == 0
    assert cost["select/ranking"]["examples_forward"] == sum(len(v) for v in loaded.scored_indices.values())
    assert cost["train"]["examples_backward"] == 2 * (81 + 300)  # 2 epochs of primary + N
    assert cost["finetune"]["examples_backward"] == 2 * 81
    assert res["mtl"]["epochs"] == 2 and res["training_tasks"][0] == "toy_sentiment"


def test_finetuning_reports_its_best_dev_epoch(tmp_path):
    res = run_auxrun(
        [
            "method=random_sampling",
            "primary=toy_pair",
            "method.n_samples=200",
            *SMALL,
            "train.finetune_primary_epochs=4",
        ],
        tmp_path,
    )
    rows = list(csv.DictReader((tmp_path / "metrics_finetune.csv").open()))
    assert len(rows) == 4
    dev = [float(r["dev/toy_pair/accuracy"]) for r in rows]
    best = dev.index(max(dev))  # the first of equal bests, as the trainer keeps
    assert res["best_epoch"] == best + 1 and res["best"]["dev"]["accuracy"] == max(dev)
    assert "mtl" in res and res["mtl"]["best_epoch"] in (1, 2)
    sel, loaded = _read(tmp_path)
    assert sel["n_kept"] == 200 and "instance_scores" not in sel and not loaded.instance_scores
    assert res["cost"]["select/sampling"]["examples_forward"] == 0  # no model in the selection


def test_random_sampling_and_fastmtl_share_the_pool(tmp_path):
    args = ["primary=toy_sentiment", "method.n_samples=150", *SMALL, "stage=select"]
    run_auxrun(["method=fastmtl", *args, *TD], tmp_path / "f")
    run_auxrun(["method=random_sampling", *args], tmp_path / "r")
    (sf, f), (sr, r) = _read(tmp_path / "f"), _read(tmp_path / "r")
    assert sf["n_unused"] == sr["n_unused"] and sf["stage1_examples"] == sr["stage1_examples"]
    assert sf["share_random_expected"] == sr["share_random_expected"]
    for t in r.instance_indices:
        assert set(r.instance_indices[t]) <= set(f.scored_indices[t].tolist())
    # scores, higher = more useful: fastmtl's mean discriminator score of each auxiliary's scored
    # examples; random_sampling's share of each task's pool it drew (its chance line)
    assert set(sf["scores"]) == {
        t for t, idx in f.scored_indices.items() if len(idx)
    }  # an unscored task: none
    assert set(sr["scores"]) == set(sf["scores"])  # the same pool: the tasks with unused examples
    for t, v in sf["scores"].items():
        assert v == pytest.approx(float(f.instance_scores[t].astype(np.float64).mean()))
    for t, v in sr["scores"].items():
        assert v == pytest.approx(sr["fraction_of_task"][t], abs=1e-4)


def test_fastmtl_on_glue_fixtures_with_the_tiny_backbone(tmp_path):
    fixtures = REPO / "tests" / "fixtures" / "data"
    res = run_auxrun(
        [
            "method=fastmtl",
            "task_set=fastmtl8",
            "backbone=tiny",
            "primary=rte",
            f"data.root={fixtures}",
            "method.td_examples=1",
            "method.n_samples=3",
            "method.td_epochs=1",
            "method.discriminator_loss=ce",
            "train.epochs=1",
            "train.finetune_primary_epochs=1",
        ],
        tmp_path,
    )
    sel, loaded = _read(tmp_path)
    assert sel["n_kept"] == 3 and sel["stage1_examples"]["rte"] == 1 and sel["discriminator_loss"] == "ce"
    assert set(sel["stage1_examples"].values()) == {1} and len(sel["stage1_examples"]) == 8
    assert sel["n_unused"] == sum(len(v) for v in loaded.scored_indices.values()) >= 3
    assert res["main_metric"] == "accuracy" and (tmp_path / "predictions" / "RTE.tsv").is_file()


def test_run_interrupted_in_fine_tuning_resumes_to_the_same_results(tmp_path, monkeypatch):
    from auxrun.training.trainer import MTLTrainer

    args = ["method=no_sel", "task_set.tasks=[toy_pair,toy_topic]", "primary=toy_pair", *FAST]
    args += ["train.finetune_primary_epochs=2"]
    full = run_auxrun(args, tmp_path / "full")
    original = MTLTrainer.save_checkpoint

    def crash_in_fine_tuning(self):
        original(self)
        if self.stage == "finetune":
            raise KeyboardInterrupt

    monkeypatch.setattr(MTLTrainer, "save_checkpoint", crash_in_fine_tuning)
    with pytest.raises(KeyboardInterrupt):
        run_auxrun(args, tmp_path / "cut")
    monkeypatch.setattr(MTLTrainer, "save_checkpoint", original)
    resumed = run_auxrun(["resume=true", *args], tmp_path / "cut")
    assert resumed["best"] == full["best"] and resumed["best_epoch"] == full["best_epoch"]
    assert resumed["mtl"] == full["mtl"]
    assert (tmp_path / "cut" / "metrics_finetune.csv").read_text() == (
        tmp_path / "full" / "metrics_finetune.csv"
    ).read_text()

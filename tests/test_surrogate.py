"""Surrogate task modelling (auxrun/methods/surrogate.py): the fit recovers planted coefficients,
the subsets are sampled as said, and a run resumes subset by subset."""

import json
from itertools import combinations

import numpy as np
import pytest

from tests.conftest import FAST, run_auxrun


def test_fit_recovers_planted_linear_coefficients():
    from auxrun.methods.surrogate import fit_surrogate, sample_subsets, select_by_gamma

    cands = [f"t{i}" for i in range(7)]
    planted = {"t0": -0.30, "t1": -0.05, "t2": 0.0, "t3": 0.12, "t4": -0.20, "t5": 0.25, "t6": 0.02}
    subsets = [[]] + sample_subsets(cands, 3, 30, seed=0)
    rng = np.random.default_rng(0)
    values = [1.5 + sum(planted[a] for a in s) + 0.005 * rng.normal() for s in subsets]
    fit = fit_surrogate(subsets, values, cands)
    assert fit.intercept == pytest.approx(1.5, abs=0.02)
    for a in cands:
        assert fit.coefficients[a] == pytest.approx(planted[a], abs=0.02)
    assert fit.r2 > 0.99 and not fit.underdetermined
    assert select_by_gamma(fit.coefficients, cands, 0.1) == ["t0", "t4"]
    assert select_by_gamma(fit.coefficients, cands, 0.0)[:3] == ["t0", "t4", "t1"]


def test_exact_without_noise_and_rank_deficiency_is_reported():
    from auxrun.methods.surrogate import fit_surrogate

    cands = ["a", "b", "c"]
    planted = {"a": -1.0, "b": 0.5, "c": 2.0}
    subsets = [[]] + [list(s) for s in combinations(cands, 2)]
    fit = fit_surrogate(subsets, [3.0 + sum(planted[t] for t in s) for s in subsets], cands)
    assert fit.coefficients == pytest.approx(planted) and fit.intercept == pytest.approx(3.0)
    # without the primary-alone anchor, fixed-size subsets cannot separate the intercept
    no_anchor = fit_surrogate(subsets[1:], [3.0 + sum(planted[t] for t in s) for s in subsets[1:]], cands)
    assert no_anchor.underdetermined


def test_subsets_are_distinct_sized_seeded_and_capped():
    from auxrun.methods.surrogate import sample_subsets

    cands = list("abcdef")
    s = sample_subsets(cands, 3, 12, seed=4)
    assert len(s) == 12 and len({tuple(x) for x in s}) == 12 and all(len(x) == 3 for x in s)
    assert all(x == sorted(x, key=cands.index) for x in s)
    assert s == sample_subsets(cands, 3, 12, seed=4) and s != sample_subsets(cands, 3, 12, seed=5)
    assert len(sample_subsets(cands, 3, 100, seed=0)) == 20  # C(6, 3)


def test_surrogate_end_to_end_resumes_subset_by_subset(tmp_path):
    args = [
        "method=surrogate",
        "method.subset_size=1",
        "method.n_subsets=2",
        "task_set.tasks=[toy_sentiment,toy_rating,toy_noise]",
        "primary=toy_sentiment",
        *FAST,
        "train.epochs=1",
        "stage=select",
    ]
    res = run_auxrun(args, tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert [r["tasks"] for r in sel["subsets"]] == [[], ["toy_rating"], ["toy_noise"]]
    assert sel["rank"] == 3 and sel["r2"] == pytest.approx(1.0)
    base = sel["subsets"][0]["loss"]
    for r in sel["subsets"][1:]:  # k = 1 with the anchor: each coefficient is the measured effect
        assert sel["coefficients"][r["tasks"][0]] == pytest.approx(r["loss"] - base, abs=1e-9)
        assert sel["scores"][r["tasks"][0]] == pytest.approx(base - r["loss"], abs=1e-9)
    assert sel["selected_tasks"] == [t for t in sel["ranking"] if sel["coefficients"][t] < 0]
    assert res["selected_tasks"] == sel["selected_tasks"]
    # a restarted run skips the finished subsets: drop one record and the selection, resume
    records = sorted((tmp_path / "surrogate").glob("*.json"))
    assert len(records) == 3
    kept = {p: p.stat().st_mtime_ns for p in (records[0], records[2])}
    records[1].unlink()
    (tmp_path / "selection.json").unlink()
    run_auxrun(["resume=true", *args], tmp_path)
    again = json.loads((tmp_path / "selection.json").read_text())
    assert again["scores"] == pytest.approx(sel["scores"])
    assert (
        records[1].is_file() and {p: p.stat().st_mtime_ns for p in kept} == kept
    )  # only the lost one retrained
    one = sel["cost"]["select/subsets"]["examples_backward"]  # three subsets' training before, one now
    assert again["cost"]["select/subsets"]["examples_backward"] < one


def test_too_large_subsets_are_a_config_error(tmp_path):
    from auxrun.errors import ConfigError

    with pytest.raises(ConfigError, match="subset_size"):
        run_auxrun(
            [
                "method=surrogate",
                "method.subset_size=2",
                "task_set.tasks=[toy_sentiment,toy_rating,toy_noise]",
                "primary=toy_sentiment",
                *FAST,
                "stage=select",
            ],
            tmp_path,
        )

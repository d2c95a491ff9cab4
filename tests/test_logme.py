"""LogME (auxrun/methods/logme.py): the fixed point against a direct evidence maximisation, the
features per objective, and an end-to-end run that shares GradTS's fine-tuning cache."""

import json
import math

import numpy as np
import pytest

from tests.conftest import FAST, run_auxrun


def evidence(f: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """Log evidence per example, straight from the definition (D x D matrices, no eigenbasis)."""
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    res = float(((f @ m - y) ** 2).sum())
    ev = (
        n / 2 * math.log(beta)
        + d / 2 * math.log(alpha)
        - n / 2 * math.log(2 * math.pi)
        - beta / 2 * res
        - alpha / 2 * float(m @ m)
        - 0.5 * np.linalg.slogdet(a)[1]
    )
    return ev / n


def grid_max(f: np.ndarray, y: np.ndarray) -> float:
    """Brute force: the best evidence over a log grid of (alpha, beta), refined once around the best."""
    best = (-np.inf, 1.0, 1.0)
    for a in np.logspace(-4, 4, 81):
        for b in np.logspace(-4, 4, 81):
            best = max(best, (evidence(f, y, a, b), a, b))
    _, a0, b0 = best
    for a in a0 * np.logspace(-0.1, 0.1, 41):
        for b in b0 * np.logspace(-0.1, 0.1, 41):
            best = max(best, (evidence(f, y, a, b), a, b))
    return best[0]


def _data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, d))
    return f, rng


def test_regression_logme_is_the_evidence_maximum():
    from auxrun.methods.logme import logme

    f, rng = _data()
    y = f @ rng.normal(size=f.shape[1]) + 0.3 * rng.normal(size=len(f))
    got = logme(f, y)
    ref = grid_max(f, y)
    assert got >= ref - 1e-9  # the fixed point is at least as good as any grid point
    assert got == pytest.approx(ref, abs=1e-4)


def test_classification_logme_is_the_mean_over_one_hot_classes():
    from auxrun.methods.logme import logme, one_hot

    f, rng = _data(n=90, d=5, seed=1)
    labels = np.argmax(f[:, :3] + 0.5 * rng.normal(size=(90, 3)), axis=1)
    y = one_hot(labels, 3)
    ref = np.mean([grid_max(f, y[:, k]) for k in range(3)])
    assert logme(f, y) == pytest.approx(ref, abs=1e-4)


def test_more_dimensions_than_examples_and_informative_features_score_higher():
    from auxrun.methods.logme import logme, one_hot

    f, rng = _data(n=20, d=30, seed=2)
    y = f[:, 0] + 0.1 * rng.normal(size=20)
    assert logme(f, y) == pytest.approx(grid_max(f, y), abs=1e-4)
    g, rng = _data(n=200, d=5, seed=3)  # features that carry the labels score above features that do not
    labels = (g[:, 0] > 0).astype(int)
    assert logme(g, one_hot(labels, 2)) > logme(rng.normal(size=g.shape), one_hot(labels, 2))


def test_tagging_features_are_one_row_per_labelled_word():
    import torch

    from auxrun.data.features import IGNORE, EncodedSplit
    from auxrun.methods.logme import head_features
    from tests.conftest import small_mtl_model

    enc = small_mtl_model(dropout=0.0).encoder
    ids = [[2, 7, 8, 9, 3], [2, 11, 12, 3]]
    labels = [[IGNORE, 0, IGNORE, 1, IGNORE], [IGNORE, 1, 0, IGNORE]]
    split = EncodedSplit("tag", "train", ids, [[0] * len(x) for x in ids], labels, labels)
    f, y = head_features(enc, split, "sequence_labeling", 2, pad_id=0)
    assert f.shape == (4, 32) and y.tolist() == [[1, 0], [0, 1], [0, 1], [1, 0]]
    with torch.no_grad():
        alone = enc(input_ids=torch.tensor([ids[0]])).last_hidden_state[0]
    assert np.allclose(f[0], alone[1].numpy(), atol=1e-5) and np.allclose(f[1], alone[3].numpy(), atol=1e-5)


def test_logme_end_to_end_shares_gradts_fine_tuning(tmp_path):
    pool = [
        "task_set.tasks=[toy_sentiment,toy_rating,toy_noise]",
        "primary=toy_sentiment",
        *FAST,
        "stage=select",
        f"cache_dir={tmp_path / 'cache'}",  # its own empty cache: other tests fine-tune the same tasks
    ]
    res = run_auxrun(["method=logme", "method.warmup_epochs=1", *pool], tmp_path / "logme")
    sel = json.loads((tmp_path / "logme" / "selection.json").read_text())
    assert set(sel["scores"]) == {"toy_rating", "toy_noise"} and len(sel["selected_tasks"]) == 1
    assert sel["selected_tasks"] == sel["ranking"][:1]
    assert sel["finetune_cache"] == {"toy_rating": "miss", "toy_noise": "miss"}
    assert all(np.isfinite(v) for v in sel["scores"].values()) and np.isfinite(sel["scores_pretrained"])
    assert res["cost"]["select/logme"]["examples_forward"] == 3 * sel["feature_rows"]  # one row an example
    assert res["cost"]["select/logme"]["examples_backward"] == 0
    # GradTS with the same fine-tuning reuses the auxiliaries' probes LogME ran (only the primary's is new)
    run_auxrun(["method=gradts_thres", "method.warmup_epochs=1", *pool], tmp_path / "gradts")
    notes = json.loads((tmp_path / "gradts" / "selection.json").read_text())["head_importance"]
    assert {t: v["cache"] for t, v in notes.items()} == {
        "toy_sentiment": "miss",
        "toy_rating": "hit",
        "toy_noise": "hit",
    }
    # and LogME again is all hits, with the same scores
    run_auxrun(["method=logme", "method.warmup_epochs=1", *pool], tmp_path / "again")
    again = json.loads((tmp_path / "again" / "selection.json").read_text())
    assert set(again["finetune_cache"].values()) == {"hit"} and again["scores"] == sel["scores"]
    # a hit is not free on an empty cache: the ledger carries what each reused fine-tuning cost when
    # it was computed, so the first run's back-propagations equal the rerun's reused ones, task by task
    for task in ("toy_rating", "toy_noise"):
        first, rerun = (
            sel["cost"][f"select/head_importance/{task}"],
            again["cost"][f"select/head_importance/{task}"],
        )
        assert first["examples_backward"] > 0 and first["examples_backward_reused"] == 0
        assert (
            rerun["examples_backward"] == 0
            and rerun["examples_backward_reused"] == first["examples_backward"]
        )
        gradts = json.loads((tmp_path / "gradts" / "selection.json").read_text())["cost"]
        assert (
            gradts[f"select/head_importance/{task}"]["examples_backward_reused"] == first["examples_backward"]
        )

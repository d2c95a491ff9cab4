"""Head importance: batched per-example gates equal the per-example loop; normalisation; Kendall's
tau; the artifact cache's keys and atomic writes."""

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau

from auxrun.cache import ArtifactCache, canonical_json, split_fingerprint
from auxrun.data.features import EncodedSplit
from auxrun.importance.correlation import correlation_matrix, kendall_tau, kendall_tau_b_many
from auxrun.importance.head_importance import (
    head_gradients,
    iter_loop_head_gradients,
    length_buckets,
    normalize_importance,
)
from tests.conftest import head_specs, small_mtl_model

SPECS = head_specs()


@pytest.fixture(scope="module")
def model():
    return small_mtl_model("sdpa")  # what the tiny backbone uses


def make_split(task: str, n: int = 11, seed: int = 0) -> EncodedSplit:
    rng = np.random.default_rng(seed)
    ids, types, labels = [], [], []
    for _ in range(n):
        length = int(rng.integers(4, 15))  # varied lengths: batches are padded
        ids.append([2, *rng.integers(5, 50, length - 2).tolist(), 3])
        types.append([0] * length)
        if task == "cls":
            labels.append(int(rng.integers(0, 3)))
        elif task == "reg":
            labels.append(float(rng.random() * 5))
        else:
            labels.append([-100, *rng.integers(0, 2, length - 2).tolist(), -100])
    return EncodedSplit(task, "train", ids, types, labels, list(labels))


@pytest.mark.parametrize("task", ["cls", "reg", "tag"])
def test_batched_gates_equal_the_per_example_loop(model, task):
    split = make_split(task)
    obj = SPECS[task].objective
    model.train()  # head_gradients must switch dropout off itself, and restore the mode
    batched = head_gradients(model, task, split, obj, pad_id=0, batch_size=4)
    assert model.training
    loop = torch.stack(list(iter_loop_head_gradients(model, task, split, obj, pad_id=0))).numpy()
    assert batched.per_example.shape == (len(split), 3, 4)
    np.testing.assert_allclose(batched.per_example, loop, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(batched.mean, loop.mean(0), rtol=1e-4, atol=1e-7)
    assert all(p.requires_grad for p in model.parameters())  # weights unfrozen afterwards
    assert all(p.grad is None for p in model.parameters())  # and no weight gradient was computed


def test_length_buckets_cover_every_index_once_sorted_by_length():
    lengths = [5, 3, 9, 3, 7, 1, 8]
    batches = length_buckets(lengths, 3)
    assert sorted(i for b in batches for i in b) == list(range(7))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths) and [len(b) for b in batches] == [3, 3, 1]


def test_normalisation_is_layer_l2_then_global_min_max():
    m = np.array([[3.0, 4.0, 0.0], [10.0, 10.0, 5.0]])
    out = normalize_importance(m, "l2")
    layer = m / np.linalg.norm(m, axis=1, keepdims=True)  # Michel et al.: l2 norm per layer
    expected = (layer - layer.min()) / (layer.max() - layer.min())
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)
    # the layer rule: a layer's overall scale does not matter, only its shape
    scaled = m * np.array([[7.0], [0.01]])
    np.testing.assert_allclose(normalize_importance(scaled, "l2"), out, rtol=1e-5)
    # a stack is normalised matrix by matrix
    stack = np.stack([m, scaled * 3, m[::-1]])
    for a, b in zip(normalize_importance(stack, "l2"), stack):
        np.testing.assert_allclose(a, normalize_importance(b, "l2"), rtol=1e-6)
    rng = np.random.default_rng(1)
    for rule in ("l2", "l1", "max", "none"):
        r = normalize_importance(rng.random((4, 6, 5)) * 100, rule)
        assert r.min() >= 0.0 and r.max() <= 1.0
        np.testing.assert_allclose(r.max(axis=(1, 2)), 1.0, rtol=1e-6)
    assert (normalize_importance(np.ones((2, 3))) == 0).all()  # constant: no ranking
    with pytest.raises(ValueError, match="layer_norm='l3'"):
        normalize_importance(m, "l3")


def test_kendall_tau_on_hand_made_matrices():
    p = np.array([[0.1, 0.9], [0.5, 0.3]])
    assert kendall_tau(p, p * 2 + 1) == pytest.approx(1.0)  # any monotone transform
    assert kendall_tau(p, -p) == pytest.approx(-1.0)
    q = np.array([[0.1, 0.9], [0.3, 0.5]])  # one discordant pair out of six: (6 - 2) / 6
    assert kendall_tau(p, q) == pytest.approx(4 / 6)
    assert kendall_tau(p, np.zeros_like(p)) == 0.0  # undefined -> 0
    names, taus = correlation_matrix({"p": p, "q": q, "r": -p})
    assert names == ["p", "q", "r"] and taus[0, 1] == taus[1, 0] == pytest.approx(4 / 6)
    assert taus[0, 2] == pytest.approx(-1.0) and (np.diag(taus) == 1).all()


def test_vectorised_tau_b_equals_scipy_with_ties():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 5, (3, 4)).astype(float)  # ties in the reference
    rows = rng.integers(0, 4, (50, 3, 4)).astype(float)  # and in the rows
    rows[0] = 1.0  # a constant row: undefined -> 0
    got = kendall_tau_b_many(rows, ref, chunk=7)
    want = [kendalltau(r.ravel(), ref.ravel()).statistic for r in rows]
    want = np.nan_to_num(np.array(want, dtype=float))
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_cache_keys_are_canonical_and_writes_atomic(tmp_path):
    cache = ArtifactCache(tmp_path)
    a = cache.key("m", {"x": 1, "y": [1, 2], "z": {"b": 2, "a": 1}})
    assert a == cache.key("m", {"z": {"a": 1, "b": 2}, "y": [1, 2], "x": 1})
    assert a != cache.key("m", {"x": 1, "y": [2, 1], "z": {"a": 1, "b": 2}})
    assert a != cache.key("other", {"x": 1, "y": [1, 2], "z": {"b": 2, "a": 1}})
    assert cache.load("m", a) is None
    cache.save("m", a, {"v": np.arange(3)}, inputs={"x": 1})
    np.testing.assert_array_equal(cache.load("m", a)["v"], np.arange(3))
    files = sorted(p.name for p in (tmp_path / "artifacts" / "m").iterdir())
    assert files == [f"{a}.json", f"{a}.pt"]  # no temporary files left behind
    cache.path("m", a).write_bytes(b"garbage")
    assert cache.load("m", a) is None  # a damaged entry is a miss
    s = make_split("cls")
    t = make_split("cls")
    assert split_fingerprint(s) == split_fingerprint(t)
    t.labels[0] = (t.labels[0] + 1) % 3
    assert split_fingerprint(s) != split_fingerprint(t)
    assert canonical_json({"b": 1, "a": (1, 2)}) == '{"a":[1,2],"b":1}'

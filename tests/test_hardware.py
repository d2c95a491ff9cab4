"""The GPU path's settings, on the code paths that exist on CPU: precision (bf16 autocast, fp16 with a
gradient scaler), TF32 flags, pinning, SDPA attention, torch.compile."""

import copy
import dataclasses

import pytest
import torch

from auxrun.errors import ConfigError
from auxrun.models.backbone import build_encoder
from auxrun.run import build_context
from auxrun.selection import Selection
from auxrun.training.cost import CostLedger
from auxrun.training.hardware import Precision, configure_backends, pin_memory, resolve_precision
from auxrun.validate import validate_run
from tests.conftest import FAST, compose


def test_precision_resolution(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", cuda) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", cuda) == "fp16"  # and fp16 always brings its scaler
    with pytest.raises(ConfigError, match="hardware.precision=bf16 but cuda has no bf16"):
        resolve_precision("bf16", cuda)
    with pytest.raises(ConfigError, match="is not one of"):
        resolve_precision("fp8", cpu)


def test_gpu_configs_default_to_auto_precision():
    for hw in ("gpu", "multi_gpu"):
        cfg = compose([f"hardware={hw}"])
        assert cfg.hardware.precision == "auto" and cfg.hardware.num_workers == 2
    assert compose(["hardware=multi_gpu"]).hardware.distributed


def test_fp16_scaler_unscales_clips_and_skips_overflowing_steps():
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 1)
    x, y = torch.randn(16, 8), torch.randn(16)
    ref = copy.deepcopy(lin)
    (((ref(x).squeeze(-1) - y) ** 2).mean()).backward()

    prec = Precision("fp16", torch.device("cpu"))
    assert prec.scaler is not None and prec.scaler.get_scale() == 2.0**16
    opt = torch.optim.SGD(lin.parameters(), lr=0.0)  # lr 0: look at the gradients only
    prec.backward(((lin(x).squeeze(-1) - y) ** 2).mean())
    assert lin.weight.grad.abs().max() > 1000 * ref.weight.grad.abs().max()  # scaled by 2^16
    assert prec.step(opt, list(lin.parameters()), max_grad_norm=0)
    torch.testing.assert_close(lin.weight.grad, ref.weight.grad)  # unscaled before the step

    opt.zero_grad()
    prec.backward(lin(x).sum() * float("inf"))
    before = lin.weight.detach().clone()
    opt = torch.optim.SGD(lin.parameters(), lr=1.0)
    assert not prec.step(opt, list(lin.parameters()), max_grad_norm=1.0)  # inf gradients: skipped
    assert torch.equal(lin.weight, before) and prec.scaler.get_scale() == 2.0**15
    state = prec.state_dict()
    other = Precision("fp16", torch.device("cpu"))
    other.load_state_dict(state)
    assert other.scaler.get_scale() == 2.0**15


def test_tf32_flags_and_pinning_follow_the_config():
    cfg = compose([]).hardware
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        configure_backends(cfg, torch.device("cpu"))
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == saved
        configure_backends(dataclasses.replace(cfg, tf32=True), torch.device("cuda"))
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        configure_backends(dataclasses.replace(cfg, tf32=False), torch.device("cuda"))
        assert not torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    assert not pin_memory(cfg, torch.device("cpu"))  # pinning needs a CUDA device
    assert pin_memory(cfg, torch.device("cuda"))
    assert not pin_memory(dataclasses.replace(cfg, pin_memory=False), torch.device("cuda"))


def test_sdpa_and_eager_attention_give_the_same_encoder():
    cfg = compose(["backbone=minilm_l6"]).backbone
    encs = {a: build_encoder(cfg, 30522, 0, 0.0, attn_implementation=a).eval() for a in ("sdpa", "eager")}
    assert {a: e.config._attn_implementation for a, e in encs.items()} == {"sdpa": "sdpa", "eager": "eager"}
    ids = torch.randint(1000, 5000, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    with torch.no_grad():
        out = {a: e(input_ids=ids, attention_mask=mask).last_hidden_state for a, e in encs.items()}
    torch.testing.assert_close(out["sdpa"][mask.bool()], out["eager"][mask.bool()], atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    cfg = compose(["quiet=true", "task_set.tasks=[toy_sentiment,toy_pos]", "train.dropout=0", *FAST])
    specs = validate_run(cfg)
    return build_context(cfg, tmp_path_factory.mktemp("run"), specs, CostLedger())


def _trainer(ctx, **hardware):
    cfg = copy.deepcopy(ctx.cfg)
    for k, v in hardware.items():
        setattr(cfg.hardware, k, v)
    sel = Selection("t", "toy_sentiment", ctx.pool.auxiliaries, ["toy_pos"])
    return dataclasses.replace(ctx, cfg=cfg).new_trainer(sel, "t", epochs=1, progress=False)


def test_trainer_bf16_autocast_on_cpu(ctx):
    fp32, bf16 = _trainer(ctx), _trainer(ctx, precision="bf16")
    batch = fp32.feeders["toy_pos"].collate(list(range(8)))[3]
    dtypes = {}
    for name, tr in (("fp32", fp32), ("bf16", bf16)):
        query = tr.model.encoder.encoder.layer[0].attention.self.query  # a matmul: autocast's to cast
        hook = query.register_forward_hook(lambda m, i, o, name=name: dtypes.__setitem__(name, o.dtype))
        with tr.autocast():
            tr.model.encoder(input_ids=batch["input_ids"])
        hook.remove()
    assert dtypes == {"fp32": torch.float32, "bf16": torch.bfloat16}
    a = [fp32.train_batches("toy_pos", 1) for _ in range(3)]
    b = [bf16.train_batches("toy_pos", 1) for _ in range(3)]
    assert a != b and all(abs(x - y) < 0.05 * abs(x) for x, y in zip(a, b))  # close, not equal


def test_trainer_fp16_uses_a_scaler_that_resumes(ctx, tmp_path):
    tr = _trainer(ctx, precision="fp16")
    assert tr.precision.scaler is not None
    losses = [tr.train_batches("toy_pos", 1) for _ in range(4)]
    assert all(torch.isfinite(torch.tensor(losses)))
    state = tr.state_dict()
    assert state["precision"]["scale"] == tr.precision.scaler.get_scale()
    nxt = [tr.train_batches("toy_pos", 1) for _ in range(2)]
    again = _trainer(ctx, precision="fp16")
    again.load_state_dict(state)
    assert [again.train_batches("toy_pos", 1) for _ in range(2)] == nxt


@pytest.mark.slow
def test_compiled_encoder_trains_like_the_eager_one(ctx):
    # aot_eager traces forward and backward through dynamo and AOTAutograd as inductor would, without
    # generating C++ (minutes on 2 cores); numerics match eager closely
    eager, compiled = _trainer(ctx), _trainer(ctx, compile=True, compile_backend="aot_eager")
    a = [eager.train_batches("toy_sentiment", 1) for _ in range(3)]
    b = [compiled.train_batches("toy_sentiment", 1) for _ in range(3)]
    assert compiled.model.encoder._compiled_call_impl is not None
    assert set(compiled.model.state_dict()) == set(eager.model.state_dict())  # names unchanged
    assert b == pytest.approx(a, rel=1e-4)


def test_validation_refuses_bf16_on_a_gpu_without_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    validate_run(compose(["hardware=gpu"]))  # auto: fp16 with a scaler
    with pytest.raises(ConfigError, match="hardware.precision=bf16 but cuda has no bf16 support"):
        validate_run(compose(["hardware=gpu", "hardware.precision=bf16"]))

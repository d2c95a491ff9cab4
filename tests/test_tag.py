"""TAG (auxrun/methods/tag.py): Z against a hand-computed lookahead, the pass against plain MTL, and
an end-to-end run that resumes."""

import copy
import json
import tempfile
from pathlib import Path

import pytest
import torch

from tests.conftest import FAST, compose, run_auxrun

TWO = ["task_set.tasks=[toy_sentiment,toy_rating]", "primary=toy_sentiment", *FAST]


def _ctx(overrides: list[str]):
    from auxrun.run import build_context
    from auxrun.training.cost import CostLedger
    from auxrun.validate import validate_run

    cfg = compose(["quiet=true", "method=tag", *overrides])
    return build_context(cfg, Path(tempfile.mkdtemp()), validate_run(cfg), CostLedger())


def _trainer(ctx, controller=None):
    from auxrun.selection import Selection

    pool = ctx.pool
    sel = Selection(
        method="t", primary=pool.primary, candidates=pool.auxiliaries, selected_tasks=pool.auxiliaries
    )
    return ctx.new_trainer(sel, "t", epochs=1, controller=controller, progress=False)


def test_z_equals_a_hand_computed_lookahead_on_two_tasks():
    from auxrun.methods.tag import lookahead, lookahead_batches

    ctx = _ctx(TWO)
    tr = _trainer(ctx)
    for b in tr.batches.values():
        b.reset(0)
    tr.train_batches("toy_rating", 3)  # non-zero AdamW moments, step count and warm-up lr
    tr.train_batches("toy_sentiment", 2)
    batches = lookahead_batches(tr, ["toy_sentiment", "toy_rating"], seed=7, step=5)
    got = lookahead(tr, "toy_sentiment", ["toy_rating"], batches)

    # by hand: a copy of the model and of its optimizer, one real AdamW step on the auxiliary's
    # clipped gradient over the encoder only, the primary's loss before and after
    model = copy.deepcopy(tr.model).eval()
    named = dict(model.named_parameters())
    groups = [
        {**{k: v for k, v in g.items() if k != "params"}, "params": []} for g in tr.optimizer.param_groups
    ]
    live = {id(p): n for n, p in tr.model.named_parameters()}
    for g, src in zip(groups, tr.optimizer.param_groups):
        g["params"] = [named[live[id(p)]] for p in src["params"]]
    opt = torch.optim.AdamW(groups)
    opt.load_state_dict(tr.optimizer.state_dict())
    with torch.no_grad():
        before = float(model("toy_sentiment", batches["toy_sentiment"]).losses.mean())
    model.zero_grad(set_to_none=True)
    model("toy_rating", batches["toy_rating"]).losses.mean().backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], 1.0)
    enc = set(tr.shared_parameters())  # names as in the copy
    for n, p in model.named_parameters():
        if n not in enc:
            p.grad = None  # the virtual step moves the shared encoder only
    opt.step()
    with torch.no_grad():
        after = float(model("toy_sentiment", batches["toy_sentiment"]).losses.mean())
    assert got.primary_loss == pytest.approx(before, rel=1e-6)
    assert got.z["toy_rating"] == pytest.approx(1 - after / before, rel=1e-4, abs=1e-7)
    assert got.z["toy_rating"] != 0.0


def test_cosine_is_of_the_encoder_gradients():
    from auxrun.methods.tag import lookahead, lookahead_batches

    ctx = _ctx(TWO)
    tr = _trainer(ctx)
    batches = lookahead_batches(tr, ["toy_sentiment", "toy_rating"], seed=1, step=0)
    got = lookahead(tr, "toy_sentiment", ["toy_rating"], batches)
    model = tr.model.eval()
    enc = list(tr.shared_parameters())
    named = dict(model.named_parameters())

    def grad(task):
        g = torch.autograd.grad(
            model(task, batches[task]).losses.mean(), [named[n] for n in enc], allow_unused=True
        )
        return torch.cat(
            [(torch.zeros_like(named[n]) if x is None else x).reshape(-1) for n, x in zip(enc, g)]
        )

    a, p = grad("toy_rating"), grad("toy_sentiment")
    assert got.cosine["toy_rating"] == pytest.approx(float(a @ p / (a.norm() * p.norm())), rel=1e-5)


def test_the_pass_trains_exactly_what_plain_mtl_trains():
    from auxrun.methods.tag import TagController
    from auxrun.training.controller import Controller

    ctx = _ctx(
        [
            "task_set.tasks=[toy_sentiment,toy_rating,toy_noise]",
            "primary=toy_sentiment",
            *FAST,
            "method.every=3",
        ]
    )
    states = []
    for make in (
        lambda: Controller(),
        lambda: TagController(ctx.cfg.method, "toy_sentiment", ["toy_rating", "toy_noise"], 1),
    ):
        c = make()
        tr = _trainer(ctx, c)
        torch.manual_seed(0)
        tr.fit()
        states.append({k: v.clone() for k, v in tr.model.state_dict().items()})
        if isinstance(c, TagController):
            assert c.n == (tr.step - 1) // 3  # before steps 3, 6, ... of the epoch
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k


def test_tag_end_to_end_and_resume(tmp_path):
    args = [
        "method=tag",
        "task_set.tasks=[toy_sentiment,toy_rating,toy_topic,toy_noise]",
        "primary=toy_sentiment",
        *FAST,
    ]
    res = run_auxrun(args, tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    aux = ["toy_rating", "toy_topic", "toy_noise"]
    assert set(sel["scores"]) == set(aux) and set(sel["scores_cosine"]) == set(aux)
    assert all(-1 <= v <= 1 for v in sel["scores_cosine"].values())
    assert sel["selected_tasks"] == [t for t in sel["ranking"] if sel["scores"][t] > 0]
    assert sel["lookaheads"] > 0 and len(sel["tag_history"]) == 2
    assert (
        "select/tag_pass/lookahead" in res["cost"]
        and res["cost"]["select/tag_pass/lookahead"]["examples_backward"] > 0
    )
    assert (tmp_path / "checkpoints" / "tag_pass.pt").is_file()
    # resume after the selection file was lost: the pass's checkpoint gives the same scores, no retraining
    (tmp_path / "selection.json").unlink()
    run_auxrun(["resume=true", *args], tmp_path)
    again = json.loads((tmp_path / "selection.json").read_text())
    assert again["scores"] == sel["scores"] and again["scores_cosine"] == sel["scores_cosine"]
    assert (
        again["cost"]["select/tag_pass"]["examples_backward"]
        == sel["cost"]["select/tag_pass"]["examples_backward"]
    )


def test_top_k_and_bad_settings():
    from auxrun.errors import ConfigError
    from auxrun.methods.tag import pick
    from auxrun.validate import validate_run

    assert pick({"a": 0.1, "b": -0.2, "c": 0.3}, ["a", "b", "c"], 0.0, None) == ["c", "a"]
    assert pick({"a": 0.1, "b": -0.2, "c": 0.3}, ["a", "b", "c"], 0.0, 1) == ["c"]
    with pytest.raises(ConfigError, match="method.every"):
        validate_run(compose(["method=tag", "method.every=0"]))

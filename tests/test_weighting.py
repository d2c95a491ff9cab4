"""alpha-VIL and DIW on the trainer's controller contract: alpha gradients against finite
differences, an auxiliary whose gradient opposes the primary's loses weight, DIW's retry loop and
patience, per-task optimizer state, determinism, resume, and end-to-end runs on toy and on the
superglue5 fixtures (COPA is multiple choice)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from auxrun.methods.avil import AvilConfig, AvilController
from auxrun.methods.diw import DiwConfig, DiwController, diw_update
from auxrun.run import build_context
from auxrun.selection import Selection
from auxrun.training import params
from auxrun.training.cost import CostLedger
from auxrun.training.trainer import MTLTrainer
from auxrun.validate import validate_run
from tests.conftest import FAST, REPO, compose, run_auxrun

# A second copy of toy_sentiment (the same files). The test trains it on the primary's tuning
# examples through the primary's head with the loss negated: its update ascends the very loss the
# alphas minimise.
ANTI = """name: toy_antisent
objective: classification
task_type: single_sentence
labels: ["0", "1"]
input_fields: [text_a]
metrics: [accuracy]
main_metric: accuracy
sources:
  toy:
    rule: sentiment
    sizes: {train: 300, dev: 200}
  local:
    format: glue_tsv
    dir: SENT
    files: {train: train.tsv, dev: dev.tsv}
    options: {header: true, columns: {text_a: sentence, label: label}}
"""


@pytest.fixture(scope="module")
def anti_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tasks")
    (d / "toy_antisent.yaml").write_text(ANTI)
    return d


def make_ctx(overrides, tmp):
    cfg = compose(["quiet=true", *overrides])
    specs = validate_run(cfg)
    return build_context(cfg, tmp, specs, CostLedger())


def trainer_for(ctx, controller, epochs=2):
    pool = ctx.pool
    sel = Selection(
        method="test", primary=pool.primary, candidates=pool.auxiliaries, selected_tasks=pool.auxiliaries
    )
    return ctx.new_trainer(sel, "train", epochs=epochs, controller=controller, progress=False)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return make_ctx(
        ["task_set.tasks=[toy_sentiment,toy_rating,toy_noise]", *FAST, "train.dropout=0"],
        tmp_path_factory.mktemp("run"),
    )


# ---- the differentiable loss -------------------------------------------------------------------


def test_alpha_gradient_equals_finite_differences(ctx):
    trainer = trainer_for(ctx, None)
    theta = trainer.param_copy()
    deltas = []
    for t in ("toy_sentiment", "toy_rating", "toy_noise"):
        trainer.train_batches(t, 3)
        deltas.append(trainer.param_delta(theta))
        trainer.set_params(theta)
    assert all(params.nbytes(d) == params.nbytes(theta) for d in deltas)
    point = torch.tensor([1.2, 0.7, 1.0], dtype=torch.float64)

    alphas = point.clone().requires_grad_(True)
    loss = trainer.differentiable_loss("toy_sentiment", "select_dev", params.combine(theta, deltas, alphas))
    loss.backward()
    # the weights were not written: the model still holds theta
    for n, p in params.trainable(trainer.model).items():
        assert torch.equal(p.detach(), theta[n])

    h = 1e-2
    for i in range(3):
        vals = []
        for sign in (1, -1):
            a = point.clone()
            a[i] += sign * h
            trainer.set_params(theta, deltas, a.tolist())
            vals.append(trainer.task_loss("toy_sentiment", "select_dev"))  # inference mode
        fd = (vals[0] - vals[1]) / (2 * h)
        assert alphas.grad[i].item() == pytest.approx(fd, rel=2e-2, abs=2e-4)
    assert alphas.grad.abs().max() > 1e-3  # not a vacuous comparison


def test_epoch_sample_is_a_function_of_seed_task_epoch(ctx):
    tr = trainer_for(ctx, None)
    a = tr.epoch_sample("toy_rating", 3, 0.25)
    assert a == tr.epoch_sample("toy_rating", 3, 0.25)
    assert len(a) == round(0.25 * len(tr.batches["toy_rating"].indices)) and len(set(a)) == len(a)
    assert a != tr.epoch_sample("toy_rating", 4, 0.25) and a != tr.epoch_sample("toy_noise", 3, 0.25)
    assert set(a) <= set(tr.batches["toy_rating"].indices)
    assert tr.epoch_sample("toy_rating", 3, 1.0) == list(tr.batches["toy_rating"].indices)


# ---- alpha-VIL -----------------------------------------------------------------------------------


def test_an_opposing_auxiliary_gets_alpha_below_one_and_loses_weight(anti_dir, tmp_path):
    from auxrun.models.mtl import TaskOutput

    ctx = make_ctx(
        [
            "task_set.tasks=[toy_sentiment,toy_antisent]",
            f"data.task_dirs=[{anti_dir}]",
            "data.toy_scale=0.5",
            "data.select_dev_fraction=0.3",
            "train.batch_size=16",
            # At 2e-4 the primary's own delta overshoots by epoch 2 (its alpha < 1); the auxiliary's
            # delta mirrors it, so its alpha rose above 1 there (measured): a step-size effect.
            "train.lr=5e-5",
            "method=avil",
            "method.rho=1.0",
            "method.alpha_lr=0.4",
        ],
        tmp_path,
    )
    ctrl = AvilController(ctx.cfg.method, "toy_sentiment", ["toy_sentiment", "toy_antisent"])
    ctx.pool.encoded["toy_antisent"]["train"] = ctx.pool.split("toy_sentiment", "select_dev")
    trainer = trainer_for(ctx, ctrl, epochs=3)
    forward = trainer.model.forward

    def opposing(task, batch):  # the auxiliary: the primary's head and data, the loss negated
        if task != "toy_antisent":
            return forward(task, batch)
        out = forward("toy_sentiment", batch)
        return TaskOutput(out.logits, -out.losses)

    trainer.model.forward = opposing
    trainer.fit()
    alphas = [r["alpha"] for r in trainer.decisions]
    shares = [r["task_weight"]["toy_antisent"] for r in trainer.decisions]
    assert all(a["toy_antisent"] < 1 for a in alphas), alphas
    assert all(r["alpha_grad"]["toy_antisent"] > 0 for r in trainer.decisions)
    assert all(x > y for x, y in zip([0.5, *shares], shares)), shares  # decreases every epoch
    assert min(ctrl.weights.values()) >= 1e-6


def test_weights_are_clamped_at_1e_minus_6(ctx):
    ctrl = AvilController(AvilConfig(), "toy_sentiment", ["toy_sentiment", "toy_rating"])
    ctrl.weights = {"toy_sentiment": 1.0, "toy_rating": 0.3}
    a = {"toy_sentiment": 1.1, "toy_rating": 0.2}
    new = {t: ctrl.clamp(ctrl.weights[t] + a[t] - 1.0) for t in a}  # Algorithm 1, line 11
    assert new == {"toy_sentiment": pytest.approx(1.1), "toy_rating": 1e-6}


@pytest.mark.parametrize("mode", ["per_task", "reset"])
def test_per_task_optimizer_state_makes_deltas_independent_of_task_order(ctx, mode):
    """Optimizer state across the delta phase: each task trains from theta with its own AdamW
    state, so its delta does not depend on the order the tasks train in (a shared state would carry
    one task's momentum into the next one's delta); per_task keeps each state across epochs, reset
    starts a fresh one every epoch."""
    cfg = AvilConfig(rho=0.5, alpha_steps=0, optimizer_state=mode)
    deltas = []
    for order in (["toy_sentiment", "toy_rating", "toy_noise"], ["toy_noise", "toy_rating", "toy_sentiment"]):
        ctrl = AvilController(cfg, "toy_sentiment", order)
        trainer = trainer_for(ctx, ctrl, epochs=2)
        ctrl.on_train_start(trainer)
        ctrl.tasks = order
        seen = []
        tune = ctrl.tune_alphas
        ctrl.tune_alphas = lambda tr, th, ds, seen=seen, tune=tune: seen.append(ds) or tune(tr, th, ds)
        for epoch in range(2):
            torch.manual_seed(epoch)
            for b in trainer.batches.values():
                b.reset(epoch)
            ctrl.train_epoch(trainer, epoch)
        deltas.append(dict(zip(order, seen[0])))  # epoch 0: every task from the same theta
    for t in deltas[0]:
        for n in deltas[0][t]:
            torch.testing.assert_close(deltas[0][t][n], deltas[1][t][n], rtol=0, atol=0)
    if mode == "per_task":
        opt, _ = ctrl.optimizers["toy_rating"]
        steps = math.ceil(trainer.sample_size("toy_rating", 0.5) / ctx.cfg.train.batch_size)
        state = next(iter(opt.state.values()))
        assert int(state["step"]) == 2 * steps  # kept across the two epochs
    else:
        assert ctrl.optimizers == {}


# ---- DIW ---------------------------------------------------------------------------------------


def test_diw_update_rule_by_hand():
    w = {"p": 1.0, "a": 1.0, "b": 0.05}
    single = {"p": 70.0, "a": 60.0, "b": 40.0}
    new = diw_update(w, single, 65.0, lr=0.1, min_weight=1e-6)  # d = 5, -5, -25; max |d| = 25
    assert new == pytest.approx({"p": 1.02, "a": 0.98, "b": 1e-6})
    assert diw_update(w, {"p": 65.0, "a": 65.0, "b": 65.0}, 65.0, 0.1, 1e-6) == w


@pytest.mark.parametrize("bar, tries", [((1e9, -1.0), 3), ((-1.0, 1e9), 1)])
def test_diw_retries_until_improvement_and_stops_at_the_patience(ctx, bar, tries):
    cfg = DiwConfig(rho=0.5, patience=3)
    ctrl = DiwController(cfg, "toy_sentiment", ["toy_sentiment", "toy_rating", "toy_noise"])
    trainer = trainer_for(ctx, ctrl, epochs=1)
    ctrl.on_train_start(trainer)
    ctrl.prev = bar  # unbeatable: every try fails; trivial: the first try is kept
    passes, scores = [], []
    orig_sched, orig_score = trainer.train_scheduled, ctrl.tune_score
    trainer.train_scheduled = lambda *a, **k: passes.append(1) or orig_sched(*a, **k)
    ctrl.tune_score = lambda tr: scores.append(orig_score(tr)) or scores[-1]
    torch.manual_seed(0)
    ctrl.train_epoch(trainer, 0)
    assert len(passes) == tries and ctrl.tries == [tries]
    tried = scores[3:]  # after the three single-task scores
    assert len(tried) == tries
    kept = orig_score(trainer)
    assert ctrl.prev == kept
    if tries == 3:  # patience exhausted: the best try is kept
        assert kept[0] == max(s[0] for s in tried)
        assert ctrl.weights != {t: 1.0 for t in ctrl.tasks} or all(s[0] == kept[0] for s in scores)
    else:
        assert kept == tried[0] and ctrl.weights == {t: 1.0 for t in ctrl.tasks}


# ---- end to end: toy, determinism, resume, records, ledger ---------------------------------------

TOY = ["task_set.tasks=[toy_sentiment,toy_rating,toy_noise]", *FAST, "train.epochs=3"]
AVIL = ["method=avil", "method.rho=0.5", "method.alpha_lr=0.05", *TOY]
DIW = ["method=diw", "method.rho=0.5", "method.patience=2", *TOY]


def _strip(d):
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if k not in ("wall_s", "peak_mem_mb", "bytes_written")}
    return d


@pytest.mark.parametrize("args", [AVIL, DIW], ids=["avil", "diw"])
def test_deterministic_and_resume_equals_uninterrupted(tmp_path, monkeypatch, args):
    full = run_auxrun(args, tmp_path / "a")
    again = run_auxrun(args, tmp_path / "b")
    assert _strip(full) == _strip(again)  # same seed, same everything on CPU

    original = MTLTrainer.save_checkpoint
    calls = {"n": 0}

    def crash_after_first_epoch(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(MTLTrainer, "save_checkpoint", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_auxrun(args, tmp_path / "cut")
    monkeypatch.setattr(MTLTrainer, "save_checkpoint", original)
    resumed = run_auxrun(["resume=true", *args], tmp_path / "cut")
    saved = json.loads((tmp_path / "cut" / "results.json").read_text())
    assert _strip(saved) == _strip(json.loads((tmp_path / "a" / "results.json").read_text()))
    assert resumed["task_weights"] == full["task_weights"]
    assert (tmp_path / "cut" / "metrics.csv").read_text() == (tmp_path / "a" / "metrics.csv").read_text()


def test_avil_records_figures_and_ledger(tmp_path):
    res = run_auxrun(AVIL, tmp_path)
    tasks = ["toy_sentiment", "toy_rating", "toy_noise"]
    assert set(res["task_weights"]) == set(tasks) and sum(res["task_weights"].values()) == pytest.approx(1)
    assert len(res["task_weight_history"]) == len(res["alpha_history"]) == 3
    assert res["task_weight_history"][-1] == res["task_weights"] and res["tune_split"] == "select_dev"
    # the weights follow line 11 from the recorded alphas: w += alpha - 1, from 1
    w = {t: 1.0 for t in tasks}
    for a, shares in zip(res["alpha_history"], res["task_weight_history"]):
        w = {t: max(1e-6, w[t] + a[t] - 1) for t in tasks}
        assert shares == pytest.approx({t: w[t] / sum(w.values()) for t in tasks})
    for name in ("alpha", "task_weight"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 1000
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert "alpha/toy_rating" in header and "task_weight/toy_noise" in header
    # ledger: delta collection and alpha tuning are their own stages inside train
    sel = json.loads((tmp_path / "selection.json").read_text())
    kept = {t: v["kept"] for t, v in sel["instances"].items()}
    cost = res["cost"]
    per_epoch = sum(max(1, round(0.5 * n)) for n in kept.values())
    assert cost["train/avil_deltas"]["examples_backward"] == 3 * per_epoch
    n_tune = 9  # toy_sentiment's select_dev at scale 0.3
    assert cost["train/avil_alphas"]["examples_forward"] == 3 * 10 * n_tune
    assert cost["train"]["examples_backward"] == 3 * per_epoch + 3 * 10 * n_tune


def test_tune_split_dev_is_marked(tmp_path):
    res = run_auxrun([*AVIL, "train.epochs=1", "method.tune_split=dev"], tmp_path)
    assert res["tune_split"] == "dev" and "dev" in res["tune_protocol"]


def test_diw_end_to_end_records(tmp_path):
    res = run_auxrun(DIW, tmp_path)
    assert len(res["diw_tries"]) == 3 and all(1 <= k <= 2 for k in res["diw_tries"])
    assert len(res["task_weight_history"]) == 3 and min(res["task_weights"].values()) > 0
    assert set(res["single_task_score_history"][0]) == {"toy_sentiment", "toy_rating", "toy_noise"}
    assert res["cost"]["train/diw_single"]["examples_backward"] > 0
    assert (tmp_path / "figures" / "task_weight.png").is_file()


# ---- the paper's setting: superglue5 --------------------------------------------------------------

FIXTURES = REPO / "tests" / "fixtures" / "data"


@pytest.mark.parametrize("method", ["avil", "diw", "single_task", "no_sel"])
def test_superglue5_setting_is_the_papers(method):
    cfg = compose([f"method={method}", "task_set=superglue5"])
    t = cfg.train
    assert (t.lr, t.adam_eps, t.weight_decay, t.batch_size, t.epochs) == (5e-6, 1e-6, 0.01, 8, 20)
    assert cfg.backbone.name == "roberta_base" and cfg.task_set.main_metrics == {"mrpc": "accuracy"}
    if method in ("avil", "diw"):
        assert cfg.method.rho == 0.25 and t.epoch_fraction == 1.0
    else:
        assert t.epoch_fraction == 0.25
    assert compose([f"method={method}", "task_set=superglue5", "train.lr=1e-5"]).train.lr == 1e-5


@pytest.mark.parametrize("method, primary", [("avil", "copa"), ("diw", "mrpc"), ("avil", "cb")])
def test_superglue5_fixtures_end_to_end(tmp_path, method, primary):
    res = run_auxrun(
        [
            f"method={method}",
            "task_set=superglue5",
            "backbone=tiny",
            f"primary={primary}",
            f"data.root={FIXTURES}",
            "train.epochs=2",
            "method.rho=1.0",
            *(["method.patience=2"] if method == "diw" else []),
        ],
        tmp_path,
    )
    assert set(res["task_weights"]) == {"cb", "copa", "mrpc", "rte", "wnli"}
    assert res["main_metric"] == "accuracy"  # MRPC too: the task set's override
    assert "accuracy" in res["best"]["dev"]
    if method == "avil":
        assert all(math.isfinite(a) for rec in res["alpha_history"] for a in rec.values())
        assert any(g != 0 for g in res["alpha_grad_history"][0].values())


def test_bad_values_fail_in_one_line():
    from auxrun.errors import ConfigError
    from auxrun.methods.avil import Avil
    from auxrun.methods.diw import Diw

    with pytest.raises(ConfigError, match=r"method.tune_split='test' is not one of"):
        Avil.validate_config(compose(["method=avil", "method.tune_split=test"]), {})
    with pytest.raises(ConfigError, match=r"method.rho=0.0 is out of range"):
        Diw.validate_config(compose(["method=diw", "method.rho=0"]), {})
    with pytest.raises(ConfigError, match=r"method.delta_dtype='fp8'"):
        Avil.validate_config(compose(["method=avil", "method.delta_dtype=fp8"]), {})
    with pytest.raises(ConfigError, match=r"task_set.main_metrics.mrpc='mcc' is not one of"):
        validate_run(compose(["task_set=superglue5", "backbone=tiny", "task_set.main_metrics={mrpc: mcc}"]))


@pytest.mark.parametrize("weight_as", ["loss", "lr"])
def test_weight_as_loss_or_learning_rate(ctx, weight_as):
    """One AdamW step per task (a 1-batch sample): scaling the loss by w_i / sum(w) leaves Adam's
    step unchanged (up to eps), scaling the learning rate scales it exactly."""
    deltas = {}
    for share_p in (0.5, 0.125):  # weights {p: 1, a: 1} -> 1/2; {p: 1, a: 7} -> 1/8
        cfg = AvilConfig(rho=0.1, alpha_steps=0, weight_as=weight_as)
        ctrl = AvilController(cfg, "toy_sentiment", ["toy_sentiment", "toy_rating"])
        trainer = trainer_for(ctx, ctrl, epochs=1)
        ctrl.on_train_start(trainer)
        ctrl.tasks = ["toy_sentiment", "toy_rating"]
        ctrl.weights = {"toy_sentiment": 1.0, "toy_rating": 1.0 / share_p - 1.0}
        assert trainer.sample_size("toy_sentiment", 0.1) <= ctx.cfg.train.batch_size  # one step
        seen = []
        ctrl.tune_alphas = lambda tr, theta, ds, seen=seen: (
            seen.append(ds[0])
            or (
                torch.ones(len(ds)),
                torch.zeros(len(ds)),
            )
        )
        torch.manual_seed(0)
        ctrl.train_epoch(trainer, 0)
        deltas[share_p] = seen[0]
    assert max(float(d.abs().max()) for d in deltas[0.5].values()) > 1e-4  # a real step was taken
    if weight_as == "lr":
        for n, d in deltas[0.5].items():
            torch.testing.assert_close(deltas[0.125][n], d * 0.25, rtol=1e-3, atol=1e-6)  # f32 p - p
    else:  # Adam's step is the loss scale's up to eps: only near-zero gradients (rare tokens) differ
        diff = sum(float((deltas[0.125][n] - d).norm() ** 2) for n, d in deltas[0.5].items()) ** 0.5
        norm = sum(float(d.norm() ** 2) for d in deltas[0.5].values()) ** 0.5
        assert diff < 0.02 * norm

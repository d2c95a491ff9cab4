"""Trainer features the methods rely on: instance subsets, ratios, loss weights, controller hooks."""

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from auxrun.run import build_context
from auxrun.selection import Selection
from auxrun.training.controller import Controller
from auxrun.training.cost import CostLedger
from auxrun.validate import validate_run
from tests.conftest import FAST, compose, run_auxrun


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    cfg = compose(["quiet=true", "task_set.tasks=[toy_sentiment,toy_rating,toy_topic]", *FAST])
    specs = validate_run(cfg)
    return build_context(cfg, tmp_path_factory.mktemp("run"), specs, CostLedger())


def sel(ctx, **kw):
    return Selection(
        method="test",
        primary="toy_sentiment",
        candidates=ctx.pool.auxiliaries,
        selected_tasks=kw.pop("selected", ["toy_rating", "toy_topic"]),
        **kw,
    )


def test_select_dev_is_held_out_from_train(ctx):
    train = {e.uid for e in ctx.pool.raw["toy_sentiment"]["train"]}
    held = {e.uid for e in ctx.pool.raw["toy_sentiment"]["select_dev"]}
    assert len(held) == 9 and not train & held  # 10% of 90


def test_instance_subset_trains_only_the_kept_examples(ctx):
    keep = [0, 3, 5, 7]
    trainer = ctx.new_trainer(sel(ctx, instance_indices={"toy_topic": keep}), "t", epochs=1, progress=False)
    seen = []
    original = trainer.batches["toy_topic"].next

    def spy():
        idx = original()
        seen.extend(idx)
        return idx

    trainer.batches["toy_topic"].next = spy
    for _ in range(3):
        trainer.train_batches("toy_topic", 1)
    assert set(seen) == set(keep) and len(seen) == 3 * len(keep)  # batch 16 > 4: one pass per batch


def test_ratio_schedule_from_selection(ctx):
    trainer = ctx.new_trainer(
        sel(ctx, ratios={"toy_sentiment": 1, "toy_rating": 2, "toy_topic": 0}), "t", epochs=1, progress=False
    )
    order = trainer.epoch_tasks(0)
    n_primary = len(trainer.batches["toy_sentiment"])
    assert Counter(order) == {"toy_sentiment": n_primary, "toy_rating": 2 * n_primary}


@pytest.mark.filterwarnings(r"ignore:Seems like `optimizer.step\(\)`")
def test_task_weight_scales_the_gradient(ctx):
    grads = []
    for w in (1.0, 0.5):
        trainer = ctx.new_trainer(sel(ctx, selected=[]), "t", epochs=1, progress=False)
        trainer.set_task_weights({"toy_sentiment": w})
        trainer.optimizer.step = lambda: None  # look at the gradient, do not apply it
        trainer.optimizer.zero_grad = lambda set_to_none=True: None
        trainer.cfg.train.max_grad_norm = 0
        torch.manual_seed(0)  # same dropout masks in both runs
        trainer.train_batches("toy_sentiment", 1)
        grads.append(trainer.model.heads["toy_sentiment"].out.weight.grad.clone())
    trainer.cfg.train.max_grad_norm = 1.0
    torch.testing.assert_close(grads[1], 0.5 * grads[0])


def test_controller_hooks(ctx):
    class OnlyRating(Controller):
        def __init__(self):
            self.calls = []

        def choose_task(self, trainer, step, scheduled):
            return "toy_rating"

        def on_epoch_end(self, trainer, epoch, metrics):
            self.calls.append((epoch, sorted(metrics)))
            snap = trainer.snapshot()
            before = trainer.score("toy_sentiment")
            trainer.train_batches("toy_sentiment", 2)
            trainer.restore(snap)
            assert trainer.score("toy_sentiment") == before  # restore undoes the two batches

    c = OnlyRating()
    trainer = ctx.new_trainer(sel(ctx), "t", epochs=2, controller=c, progress=False)
    spy = Counter()
    original = trainer.train_batches

    def counting(task, k=1):
        spy[task] += k
        return original(task, k)

    trainer.train_batches = counting
    trainer.fit()
    assert c.calls == [(0, ["dev", "select_dev"]), (1, ["dev", "select_dev"])]
    assert spy["toy_rating"] == 2 * len(trainer.epoch_tasks(0)) and spy["toy_sentiment"] == 4


def test_select_then_train_from_the_selection(tmp_path):
    args = ["method=no_sel", "task_set.tasks=[toy_sentiment,toy_rating]", *FAST]
    run_auxrun([*args, "stage=select"], tmp_path / "sel")
    path = tmp_path / "sel" / "selection.json"
    assert not (tmp_path / "sel" / "results.json").exists()
    sel_json = json.loads(path.read_text())
    sel_json["selected_tasks"] = []  # an edited selection: train the primary alone
    path.write_text(json.dumps(sel_json))
    res = run_auxrun([*args, "stage=train", f"selection={path}"], tmp_path / "train")
    assert res["training_tasks"] == ["toy_sentiment"]
    assert Path(tmp_path / "train" / "results.json").is_file()


def test_best_epoch_predictions_reproduce_the_best_scores_and_checkpoint_bytes_are_counted(ctx, tmp_path):
    from auxrun.eval.metrics import compute_metrics

    ledger = CostLedger()
    trainer = ctx.new_trainer(sel(ctx), "train", epochs=2, progress=False)
    trainer.ledger, trainer.run_dir = ledger, tmp_path
    summary = trainer.fit()
    spec = ctx.pool.specs["toy_sentiment"]
    for split in ("dev", "select_dev"):
        preds = trainer.best_predictions[split]
        gold = ctx.pool.split("toy_sentiment", split).gold
        assert len(preds) == len(gold)
        assert compute_metrics(spec.metrics, gold, preds)["accuracy"] == summary["best"][split]["accuracy"]
    ckpt = tmp_path / "checkpoints" / "train.pt"
    assert ledger.to_dict()["other"]["bytes_written"] >= ckpt.stat().st_size > 0

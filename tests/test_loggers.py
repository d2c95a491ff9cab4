"""Loggers: epochs reach the logger as they end; wandb groups a sweep and a resumed run keeps its id."""

import re

import pytest

from tests.conftest import FAST, compose


def test_each_epoch_reaches_the_listeners_while_training(tmp_path):
    from auxrun.run import build_context
    from auxrun.selection import Selection
    from auxrun.training.cost import CostLedger
    from auxrun.validate import validate_run

    cfg = compose(["quiet=true", "task_set.tasks=[toy_sentiment,toy_rating]", *FAST, "train.epochs=2"])
    ctx = build_context(cfg, tmp_path, validate_run(cfg), CostLedger())
    sel = Selection("single_task", "toy_sentiment", ["toy_rating"], [])
    trainer = ctx.new_trainer(sel, "train", progress=False)
    seen = []
    trainer.epoch_listeners.append(lambda row: seen.append((row["epoch"], len(trainer.history))))
    trainer.fit()
    assert seen == [(1, 1), (2, 2)]  # called at the end of each epoch, not replayed afterwards


def test_sweep_group_is_the_sweep_folder(tmp_path):
    from auxrun.reporting.loggers import sweep_group

    run = tmp_path / "multirun" / "2026-11-22" / "10-00-00_toy_planted" / "3_toy_no_sel_toy_pair"
    run.mkdir(parents=True)
    assert sweep_group(run) is None
    (run.parent / "multirun.yaml").write_text("hydra: {}\n")
    assert sweep_group(run) == "2026-11-22/10-00-00_toy_planted"


def test_wandb_run_id_survives_a_resume(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")  # wandb's own setting decides; auxrun passes no mode
    monkeypatch.setenv("WANDB_SILENT", "true")
    from auxrun.reporting.loggers import open_logger

    cfg = compose(["logger=wandb"])
    assert cfg.logger.mode is None
    first = open_logger(cfg, tmp_path)
    first.log_epoch({"epoch": 1, "train_loss": 0.5})
    run_id = first.run.id
    first.finish({"best": {"dev": {"accuracy": 50.0}}, "best_epoch": 1})
    again = open_logger(cfg, tmp_path)  # what resume=true does in the same run folder
    assert again.run.id == run_id == (tmp_path / "wandb_id").read_text().strip()
    again.finish({"best": {}, "best_epoch": None})
    folders = list((tmp_path / "wandb").glob("offline-run-*"))
    # wandb names a second folder of the same run within one second "...-<id>-1"
    pattern = re.compile(rf"offline-run-\d{{8}}_\d{{6}}-{run_id}(-\d+)?")
    assert folders and all(pattern.fullmatch(f.name) for f in folders), [f.name for f in folders]

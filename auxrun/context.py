"""RunContext: what a method may use: the pool, fresh models, trainers, the ledger, the caches.

A trainer is used only through its ``TrainerHooks`` (auxrun/training/controller.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from auxrun.config import RunConfig
from auxrun.data.pool import TaskPool
from auxrun.models.backbone import build_encoder
from auxrun.models.fast_dropout import apply_fast_dropout
from auxrun.models.mtl import MultiTaskModel
from auxrun.selection import Selection
from auxrun.training.batching import pad_token_id
from auxrun.training.controller import Controller
from auxrun.training.cost import CostLedger
from auxrun.training.hardware import fast_dropout_on
from auxrun.training.trainer import MTLTrainer


@dataclass
class TrialResult:
    """A trial's select_dev score and the primary's native select_dev predictions at its best epoch."""

    score: float
    predictions: list[Any] = field(default_factory=list)


@dataclass
class RunContext:
    cfg: RunConfig
    pool: TaskPool
    ledger: CostLedger
    run_dir: Path
    cache_dir: Path

    @property
    def pad_id(self) -> int:
        """The id batches are padded with (for a method that collates batches itself)."""
        return pad_token_id(self.pool.tokenizer)

    def new_model(self, tasks: list[str]) -> MultiTaskModel:
        """A fresh model: the backbone's initial weights (seeded for tiny) and new heads for ``tasks``;
        the encoder's dropout is auxrun's fast one where ``hardware.fast_dropout`` says so."""
        cfg = self.cfg
        encoder = build_encoder(
            cfg.backbone,
            len(self.pool.tokenizer),
            cfg.seed,
            cfg.train.dropout,
            attn_implementation=cfg.hardware.attn_implementation,
        )
        if fast_dropout_on(cfg.hardware):
            apply_fast_dropout(encoder)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 1)
            return MultiTaskModel(
                encoder,
                {t: self.pool.specs[t] for t in tasks},
                cfg.train.dropout,
                head=cfg.train.head,
                head_hidden=cfg.train.head_hidden,
            )

    def new_trainer(
        self,
        selection: Selection,
        stage: str,
        epochs: int | None = None,
        controller: Controller | None = None,
        eval_splits: list[str] | None = None,
        best_split: str = "dev",
        checkpoint: bool = False,
        progress: bool = True,
        model: torch.nn.Module | None = None,
    ) -> MTLTrainer:
        """A trainer on ``selection`` (its ``TrainerHooks`` are what a method uses) with a fresh
        ``new_model`` for its tasks, or ``model``: one the method built and keeps a hand on (moved
        to the trainer's device in place)."""
        return MTLTrainer(
            self.new_model(selection.training_tasks) if model is None else model,
            self.pool,
            selection,
            self.cfg,
            self.ledger,
            run_dir=self.run_dir if checkpoint else None,
            controller=controller,
            stage=stage,
            epochs=epochs,
            eval_splits=eval_splits,
            best_split=best_split,
            progress=progress,
        )

    def trial(
        self, selection: Selection, stage: str = "trial", epochs: int | None = None, seed: int | None = None
    ) -> TrialResult:
        """A full MTL run on ``selection``, scored by the primary's best main metric on select_dev
        (never on dev, which is reported), with the primary's select_dev predictions at that epoch
        (what a paired bootstrap between trials needs). ``seed`` replaces the run's seed for this
        trial (model init, batch order, dropout)."""
        ctx = (
            self if seed is None or seed == self.cfg.seed else replace(self, cfg=replace(self.cfg, seed=seed))
        )
        trainer = ctx.new_trainer(
            selection,
            stage,
            epochs=epochs,
            eval_splits=["select_dev"],
            best_split="select_dev",
            progress=False,
        )
        summary = trainer.fit()
        main = self.pool.specs[self.pool.primary].main_metric
        return TrialResult(summary["best"]["select_dev"][main], list(trainer.best_predictions["select_dev"]))

    def trial_score(self, selection: Selection, stage: str = "trial", epochs: int | None = None) -> float:
        """``trial(...).score``: what the GP search compares."""
        return self.trial(selection, stage, epochs).score

"""Controllers: how a method acts during training (AUTOSEM's bandit, alpha-VIL and DIW weights).

A controller is consulted by MTLTrainer at fixed points and acts only through the trainer's public
hooks; adding a method never changes the trainer. The hooks (see MTLTrainer, section "hooks for
controllers"):

- training: ``train_batches`` (k batches of one task's stream), ``train_sample`` (one pass over given
  examples of a task), ``train_scheduled`` (the default epoch body), ``epoch_sample`` (a fraction
  rho of a task's training data, a function of (seed, task, epoch)), ``new_optimizer`` and
  ``using_optimizer`` (an optimizer of the trainer's kind, swapped in for a block);
- state: ``snapshot``/``restore`` (weights, optimizer, scheduler, step), ``param_copy``,
  ``param_delta``, ``set_params`` (theta + sum_i alpha_i * delta_i);
- scoring: ``evaluate``/``score``/``task_loss`` (inference mode), ``differentiable_loss`` (a task's
  mean loss on a split at given parameters, through ``torch.func.functional_call``, so a
  controller can differentiate with respect to anything the parameters were computed from);
- ``set_task_weights`` (per-task loss weights).

What a controller decides is recorded generically: ``epoch_record`` returns a flat
``{name: {task: value}}`` dict per epoch (written into metrics.csv as ``name/task`` columns and
saved with the checkpoint), and ``results`` returns the keys run.py merges into results.json; any
``*_history`` key there that is a list of ``{task: value}`` dicts is drawn into ``figures/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auxrun.training.trainer import MTLTrainer


class Controller:
    def on_train_start(self, trainer: MTLTrainer) -> None:
        pass

    def on_epoch_start(self, trainer: MTLTrainer, epoch: int) -> None:
        pass

    def epoch_steps(self, trainer: MTLTrainer) -> int | None:
        """Optimizer steps of one epoch of ``trainer.optimizer``, for its learning-rate schedule;
        None: the default schedule's (``len(trainer.epoch_tasks(0))``)."""
        return None

    def train_epoch(self, trainer: MTLTrainer, epoch: int) -> float:
        """The body of one epoch; returns its mean training loss. The default trains the schedule
        (size-proportional or ratio, over ``train.epoch_fraction`` of each task), asking
        ``choose_task`` for each mini-batch."""
        return trainer.train_scheduled(epoch, choose=self.choose_task)

    def choose_task(self, trainer: MTLTrainer, step: int, scheduled: str) -> str:
        """The task of the next mini-batch; the default keeps the schedule's choice."""
        return scheduled

    def on_epoch_end(self, trainer: MTLTrainer, epoch: int, metrics: dict[str, Any]) -> None:
        pass

    def epoch_record(self, trainer: MTLTrainer, epoch: int) -> dict[str, dict[str, float]]:
        """What the controller decided this epoch, as {name: {task: value}} (empty: nothing)."""
        return {}

    def results(self, trainer: MTLTrainer) -> dict[str, Any]:
        """Keys for results.json (after training); the default: each record name as
        ``<name>_history``, one dict per epoch."""
        names: list[str] = []
        for rec in trainer.decisions:
            names += [k for k in rec if k not in names]
        return {f"{k}_history": [rec.get(k) for rec in trainer.decisions] for k in names}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

"""Controllers: how a method acts during training (AUTOSEM's bandit, alpha-VIL and DIW weights).

A controller is consulted by MTLTrainer at fixed points and acts only through the trainer's public
hooks: ``train_batches``, ``snapshot``/``restore``, ``evaluate``/``score``/``task_loss``,
``set_task_weights``. Adding a method never changes the trainer.
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

    def choose_task(self, trainer: MTLTrainer, step: int, scheduled: str) -> str:
        """The task of the next mini-batch; the default keeps the schedule's choice."""
        return scheduled

    def on_epoch_end(self, trainer: MTLTrainer, epoch: int, metrics: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

"""The method contract: a selection stage that returns a Selection, and optionally a controller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auxrun.config import MethodConfig
from auxrun.selection import Selection
from auxrun.training.controller import Controller

if TYPE_CHECKING:
    from auxrun.context import RunContext


class Method:
    name: str = "base"
    # A baseline makes no choice (single_task trains the primary alone, no_sel every candidate): the
    # report sets every selector against it instead of reading it as a selector. Baselines are listed
    # by ``baseline_rank`` (fewest auxiliaries first) and each is compared with those ranked before it.
    baseline: bool = False
    baseline_rank: int = 0

    @classmethod
    def decides_while_training(cls) -> bool:
        """A method with a training controller (avil, diw): its answer is its final task weights
        (results.json ``task_weights``), not a selection's scores."""
        return cls.controller is not Method.controller

    def __init__(self, cfg: MethodConfig, ctx: RunContext):
        self.cfg, self.ctx = cfg, ctx

    def select(self) -> Selection:
        raise NotImplementedError

    def controller(self) -> Controller | None:
        """A controller for the final training stage (dynamic methods); None for static ones."""
        return None

    def selection(self, selected: list[str], **kw) -> Selection:
        """A Selection for this run's primary and pool."""
        pool = self.ctx.pool
        return Selection(
            method=self.name, primary=pool.primary, candidates=pool.auxiliaries, selected_tasks=selected, **kw
        )

"""No selection: MTL on the primary and every candidate, size-proportional sampling (MT-DNN)."""

from dataclasses import dataclass

from auxrun.config import MethodConfig
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.selection import Selection


@dataclass
class NoSelConfig(MethodConfig):
    name: str = "no_sel"


@register("no_sel", NoSelConfig)
class NoSel(Method):
    baseline = True  # every candidate: no choice to read, the reference a selection is scored against
    baseline_rank = 1

    def select(self) -> Selection:
        return self.selection(list(self.ctx.pool.auxiliaries))

"""Single-task baseline: fine-tune on the primary alone (every paper's first row)."""

from dataclasses import dataclass

from auxrun.config import MethodConfig
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.selection import Selection


@dataclass
class SingleTaskConfig(MethodConfig):
    name: str = "single_task"


@register("single_task", SingleTaskConfig)
class SingleTask(Method):
    baseline = True  # the primary alone: no choice to read, the reference a selection is scored against
    baseline_rank = 0

    def select(self) -> Selection:
        return self.selection([])

"""Task discrimination (FastMTL's TD-MTDNN, Kung et al. 2021, sections 3.2 and 4.2): which of the
N+1 tasks an example comes from, read from the first token.

``loss="bce"`` treats it as multi-label: one sigmoid per task, the example's own task the only
positive, the loss the mean of the N+1 binary cross-entropies; the score of a task is its sigmoid,
independent of the other tasks' (the paper's better variant). ``loss="ce"`` is an exclusive softmax
over the tasks with cross-entropy; the score is the softmax probability. The labels are the task
names, the label id of an example its task's position among them.

Not for task files (``task_file = False``): the FastMTL method builds the head itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from auxrun.objectives import register
from auxrun.objectives.base import Objective

LOSSES = ("bce", "ce")


@register
class TaskDiscrimination(Objective):
    name = "task_discrimination"
    task_file: ClassVar[bool] = False

    def __init__(self, loss: str = "bce"):
        if loss not in LOSSES:
            raise ValueError(f"task discrimination loss '{loss}' is not one of {list(LOSSES)}")
        self.loss = loss

    def per_example_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.loss == "ce":
            return F.cross_entropy(logits, labels, reduction="none")
        target = F.one_hot(labels, logits.shape[-1]).float()
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(-1)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Each task's similarity score, [B, N+1]: sigmoids (bce) or softmax probabilities (ce)."""
        logits = logits.float()
        return torch.sigmoid(logits) if self.loss == "bce" else torch.softmax(logits, -1)

    def decode(self, spec, data, ex: int, logits: torch.Tensor) -> Any:
        return int(logits.argmax(-1))

"""The MT-DNN-style multi-task model: one shared encoder, one small head per task.

What a head reads and how it scores is its task's objective's (auxrun/objectives/). The head is
``linear`` (MT-DNN, FastMTL 4.2: one linear layer per task) or ``mlp`` (alpha-VIL 4.2: linear
hidden -> ``head_hidden``, ReLU, linear -> outputs), chosen by ``train.head``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from auxrun.data.spec import TaskSpec
from auxrun.models.head_gates import HeadGates
from auxrun.objectives import Objective, get_objective

HEADS = ("linear", "mlp")


@dataclass
class TaskOutput:
    logits: torch.Tensor
    losses: torch.Tensor | None  # one loss per example, [batch]; None without labels


def output_layer(hidden: int, outputs: int, head: str = "linear", head_hidden: int = 256) -> nn.Module:
    if head == "linear":
        return nn.Linear(hidden, outputs)
    if head == "mlp":
        return nn.Sequential(nn.Linear(hidden, head_hidden), nn.ReLU(), nn.Linear(head_hidden, outputs))
    raise ValueError(f"head '{head}' is not one of {list(HEADS)}")


class TaskHead(nn.Module):
    """Dropout, then the output layer, on what the objective reads (first token, every token, or each
    choice's first token); logits shaped by the objective."""

    def __init__(
        self,
        spec: TaskSpec,
        hidden: int,
        dropout: float,
        head: str = "linear",
        head_hidden: int = 256,
        objective: Objective | None = None,
    ):
        super().__init__()
        self.objective = objective or get_objective(spec.objective)
        self.dropout = nn.Dropout(dropout)
        self.out = output_layer(hidden, self.objective.num_outputs(spec), head, head_hidden)

    def forward(self, hidden: torch.Tensor, n_choices: int | None = None) -> torch.Tensor:
        logits = self.out(self.dropout(self.objective.head_input(hidden)))
        return self.objective.shape_logits(logits, n_choices)

    def per_example_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.objective.per_example_loss(logits, labels)


class MultiTaskModel(nn.Module):
    def __init__(
        self,
        encoder: nn.Module,
        specs: dict[str, TaskSpec],
        dropout: float = 0.1,
        head: str = "linear",
        head_hidden: int = 256,
    ):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.heads = nn.ModuleDict(
            {name: TaskHead(spec, hidden, dropout, head, head_hidden) for name, spec in specs.items()}
        )
        self._gates: HeadGates | None = None

    @property
    def gates(self) -> HeadGates:
        """Head gates, created on first use; nothing is hooked until ``gates.applied(...)``."""
        if self._gates is None:
            self._gates = HeadGates(self.encoder)
        return self._gates

    def encode(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int | None]:
        """The encoder's last hidden states [B (x choices), L, D] and the number of choices (or None)."""
        ids = batch["input_ids"]
        n_choices = None
        inputs = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in batch}
        if ids.dim() == 3:  # multiple choice: [B, C, L] -> [B*C, L]
            n_choices = ids.shape[1]
            inputs = {k: v.reshape(-1, v.shape[-1]) for k, v in inputs.items()}
        return self.encoder(**inputs).last_hidden_state, n_choices

    def forward(self, task: str, batch: dict[str, torch.Tensor]) -> TaskOutput:
        hidden, n_choices = self.encode(batch)
        head = self.heads[task]
        logits = head(hidden, n_choices)
        labels = batch.get("labels")
        losses = head.per_example_loss(logits, labels) if labels is not None else None
        return TaskOutput(logits, losses)

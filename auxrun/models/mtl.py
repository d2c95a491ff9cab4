"""The MT-DNN-style multi-task model: one shared encoder, one small head per task."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from auxrun.data.features import IGNORE
from auxrun.data.spec import TaskSpec
from auxrun.models.head_gates import HeadGates


@dataclass
class TaskOutput:
    logits: torch.Tensor
    losses: torch.Tensor | None  # one loss per example, [batch]; None without labels


class TaskHead(nn.Module):
    """Classification and regression read the first token; tagging reads every token; multiple
    choice scores each (context, choice) sequence and normalises over the choices."""

    def __init__(self, spec: TaskSpec, hidden: int, dropout: float):
        super().__init__()
        self.objective = spec.objective
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, spec.num_labels)

    def forward(self, hidden: torch.Tensor, n_choices: int | None = None) -> torch.Tensor:
        if self.objective == "sequence_labeling":
            return self.out(self.dropout(hidden))
        logits = self.out(self.dropout(hidden[:, 0]))
        if self.objective == "regression":
            return logits.squeeze(-1)
        if self.objective == "multiple_choice":
            return logits.view(-1, n_choices)
        return logits

    def per_example_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.objective == "regression":
            return F.mse_loss(logits.float(), labels, reduction="none")
        if self.objective == "sequence_labeling":
            tok = F.cross_entropy(
                logits.float().transpose(1, 2), labels, reduction="none", ignore_index=IGNORE
            )
            n = (labels != IGNORE).sum(1).clamp(min=1)
            return tok.sum(1) / n  # mean over the example's labelled words
        return F.cross_entropy(logits.float(), labels, reduction="none")


class MultiTaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, specs: dict[str, TaskSpec], dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.heads = nn.ModuleDict({name: TaskHead(spec, hidden, dropout) for name, spec in specs.items()})
        self._gates: HeadGates | None = None

    @property
    def gates(self) -> HeadGates:
        """Head gates, created on first use; nothing is hooked until ``gates.applied(...)``."""
        if self._gates is None:
            self._gates = HeadGates(self.encoder)
        return self._gates

    def forward(self, task: str, batch: dict[str, torch.Tensor]) -> TaskOutput:
        ids = batch["input_ids"]
        n_choices = None
        inputs = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in batch}
        if ids.dim() == 3:  # multiple choice: [B, C, L] -> [B*C, L]
            n_choices = ids.shape[1]
            inputs = {k: v.reshape(-1, v.shape[-1]) for k, v in inputs.items()}
        hidden = self.encoder(**inputs).last_hidden_state
        head = self.heads[task]
        logits = head(hidden, n_choices)
        labels = batch.get("labels")
        losses = head.per_example_loss(logits, labels) if labels is not None else None
        return TaskOutput(logits, losses)

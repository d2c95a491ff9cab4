"""Regression (STS-B): one output on the first token, squared error, Pearson/Spearman."""

from __future__ import annotations

import math
import statistics
from typing import Any

import torch
import torch.nn.functional as F

from auxrun.objectives import register
from auxrun.objectives.base import Objective


@register
class Regression(Objective):
    name = "regression"
    default_metrics = ("pearson", "spearman")
    named_labels = False

    def num_outputs(self, spec) -> int:
        return 1

    def shape_logits(self, logits: torch.Tensor, n_choices: int | None) -> torch.Tensor:
        return logits.squeeze(-1)

    def per_example_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(logits.float(), labels, reduction="none")

    def label_id(self, spec, value: Any, where: str) -> float:
        return float(value)

    def label_tensor(self, labels: list[Any], width: int) -> torch.Tensor:
        return torch.tensor(labels, dtype=torch.float)

    def decode(self, spec, data, ex: int, logits: torch.Tensor) -> float:
        return float(logits)

    def prediction_label(self, spec, pred: Any) -> Any:
        return pred

    def parse_label(self, value: Any, where: str, n_choices: int | None = None) -> float:
        from auxrun.errors import DataError

        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DataError(f"{where}: label '{value}' is not a number") from None
        if not math.isfinite(number):  # nan/inf would train to NaN and reach results.json
            raise DataError(f"{where}: label '{value}' is not a finite number")
        return number

    def hub_label(self, value: Any, names: list[str], labels: list[str], where: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):
            return self.parse_label(value, where)
        return None if value < 0 else self.parse_label(value, where)

    def label_distribution(self, labels: list[Any]) -> dict[str, Any]:
        return {
            "mean": statistics.fmean(labels),
            "std": statistics.pstdev(labels),
            "min": min(labels),
            "max": max(labels),
        }

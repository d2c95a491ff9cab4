"""What alpha-VIL and DIW share: every candidate trains, with per-task weights that a controller
adjusts epoch by epoch; the tuning split; the weight records that land in results.json."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auxrun.errors import ConfigError
from auxrun.training.controller import Controller

if TYPE_CHECKING:
    from auxrun.training.controller import TrainerHooks

TUNE_SPLITS = ("select_dev", "dev")
MIN_WEIGHT = 1e-6  # alpha-VIL section 4.1, footnote 1: weights clamped to [1e-6, inf)


def normalised(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()}


def check_tune_split(split: str, select_dev_fraction: float) -> None:
    if split not in TUNE_SPLITS:
        raise ConfigError(f"method.tune_split='{split}' is not one of {list(TUNE_SPLITS)}")
    if split == "select_dev" and select_dev_fraction <= 0:
        raise ConfigError(
            "method.tune_split='select_dev' needs data.select_dev_fraction > 0 "
            "(or method.tune_split=dev, the paper's protocol)"
        )


class WeightingController(Controller):
    """Task weights (all 1 at the start), the tuning split, and the records both methods keep."""

    def __init__(self, primary: str, tasks: list[str], tune_split: str, min_weight: float = MIN_WEIGHT):
        self.primary, self.tasks, self.tune_split, self.min_weight = (
            primary,
            list(tasks),
            tune_split,
            min_weight,
        )
        self.weights = {t: 1.0 for t in self.tasks}

    def on_train_start(self, trainer: TrainerHooks) -> None:
        # the tasks the trainer trains (a stage=train selection may narrow the pool)
        self.tasks = trainer.trained_tasks
        self.weights = {t: self.weights.get(t, 1.0) for t in self.tasks}
        data = trainer.pool.encoded[self.primary].get(self.tune_split)
        if data is None or len(data) == 0 or not data.labeled:
            raise ConfigError(
                f"method.tune_split='{self.tune_split}': the primary '{self.primary}' has no labelled "
                f"'{self.tune_split}' split to tune the task weights on"
            )

    def clamp(self, w: float) -> float:
        return max(self.min_weight, float(w))

    def tune_score(self, trainer: TrainerHooks) -> tuple[float, float]:
        """The primary's main metric and mean loss on the tuning split (one pass gives both)."""
        vals = trainer.evaluate(self.tune_split, [self.primary])[self.primary]
        return float(vals[trainer.pool.specs[self.primary].main_metric]), float(vals["loss"])

    def results(self, trainer: TrainerHooks) -> dict[str, Any]:
        out = super().results(trainer)
        out["task_weights"] = normalised(self.weights)
        out["tune_split"] = self.tune_split
        if self.tune_split == "dev":
            out["tune_protocol"] = (
                "weights tuned on the reported dev split (the alpha-VIL paper's protocol): "
                "dev scores are not held out"
            )
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights = dict(state["weights"])

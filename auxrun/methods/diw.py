"""Discriminative Importance Weighting (``diw``): per-task loss weights adjusted epoch by epoch from
the primary's score (Sivasankaran, Vincent and Illina 2017, "Discriminative Importance Weighting of
Augmented Training Data for Acoustic Model Training", ICASSP), as the alpha-VIL paper describes and
runs it as its strong baseline (Kourdis et al. 2021, section 4.1, with its early stop, footnote 2;
NLU settings in section 4.2).

alpha-VIL's description (4.1): DIW "collects unweighted single-task updates, and evaluates each
individual task on the specified target task. It then performs actual weighted multitask updates in
an inner loop, evaluates the jointly updated model, and adjusts individual task weights with respect
to the difference in evaluation results, after which the model is reset and re-trained with the new
weights, until an improvement over the previous iteration's target task performance has been
achieved"; the loop breaks after ``patience`` = 10 tries without improvement (footnote 2), weights
are clamped to [1e-6, inf) (footnote 1), the weight learning rate is 0.1 (section 4.2), and each
epoch uses a fresh 25% sample of every task (section 4.2).

The exact rule auxrun runs (the description leaves it open). Each epoch, from the current model
theta (weights, optimizer and schedule state: ``trainer.snapshot``), with S_i a fresh sample of a
fraction rho of task i's training data and score() the primary's main metric on the tuning split:

1. single-task updates: for each task i, one unweighted pass over S_i from theta; s_i = score();
   reset to theta;
2. for try k = 1..patience: one weighted multi-task pass over all S_i from theta (the trainer's
   size-proportional schedule, loss weights w_i / sum(w)); s = score(). If s improves on the
   previous epoch's score (the untrained model's in epoch 1), keep this model and stop. Otherwise
   d_i = s_i - s (sign flipped for lower-is-better metrics),
   w_i <- max(1e-6, w_i + lr * d_i / max_j |d_j|), reset to theta and try again;
3. after ``patience`` tries without improvement, keep the best try's model (and its score as the
   next epoch's bar); the weights keep their last update.

Why: tasks whose own update beats the current mixture on the target gain weight, those that do
worse lose it, in proportion to the difference. Dividing by the largest |d_j| makes the step
independent of the metric's scale (0-100 accuracy or a correlation), so lr = 0.1 means "the most
different task's weight moves by 0.1 per try" (weights start at 1). Where it may differ from
Sivasankaran et al.: auxrun could not consult the original paper, so the update's form (additive,
normalised by the largest difference), what the weights multiply (the loss, as in alpha-VIL's
Eq. 1), keeping the best try after the patience runs out (the description only says the loop
breaks), and comparing against the previous epoch's score rather than the best so far are choices
made here from alpha-VIL's description, not taken from the original. Other choices:
- Scores are on ``select_dev`` by default, not dev (``method.tune_split=dev`` is the paper's protocol
  and is marked so in results.json).
- ``tie_break=loss`` (not the default): an unchanged metric counts as an improvement when the
  primary's tuning loss fell, and when every d_i is 0 the loss differences drive the update; for
  tuning splits so small that the metric rarely moves (the toy pool).
- The optimizer and schedule state start every pass from theta's (snapshot/restore), so the kept
  pass is exactly a plain MTL epoch with the weights of its try.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auxrun.config import MethodConfig
from auxrun.errors import ConfigError
from auxrun.eval.metrics import LOWER_IS_BETTER
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.methods.task_weighting import MIN_WEIGHT, WeightingController, check_tune_split, normalised
from auxrun.selection import Selection

if TYPE_CHECKING:
    from auxrun.training.controller import TrainerHooks

TIE_BREAKS = ("none", "loss")


@dataclass
class DiwConfig(MethodConfig):
    name: str = "diw"
    weight_lr: float = 0.1  # alpha-VIL section 4.2
    patience: int = 10  # alpha-VIL section 4.1, footnote 2
    rho: float = 0.25  # alpha-VIL section 4.2: 25% of each training set per epoch
    tune_split: str = "select_dev"  # alpha-VIL: dev (see the module docstring)
    min_weight: float = MIN_WEIGHT  # alpha-VIL section 4.1, footnote 1
    tie_break: str = "none"  # none (the description's rule) | loss


def diw_update(
    weights: dict[str, float], single: dict[str, float], mixed: float, lr: float, min_weight: float
) -> dict[str, float]:
    """w_i <- max(min_weight, w_i + lr * d_i / max_j |d_j|) with d_i = single[i] - mixed (higher is
    better); unchanged when every d_i is 0."""
    d = {t: single[t] - mixed for t in weights}
    scale = max(abs(v) for v in d.values()) if d else 0.0
    if scale == 0:
        return dict(weights)
    return {t: max(min_weight, w + lr * d[t] / scale) for t, w in weights.items()}


class DiwController(WeightingController):
    def __init__(self, cfg: DiwConfig, primary: str, tasks: list[str]):
        super().__init__(primary, tasks, cfg.tune_split, cfg.min_weight)
        self.cfg = cfg
        self.prev: tuple[float, float] | None = None  # the previous epoch's (metric, loss)
        self.tries: list[int] = []
        self._record: dict[str, dict[str, float]] = {}

    def on_train_start(self, trainer: TrainerHooks) -> None:
        super().on_train_start(trainer)
        if self.prev is None:
            self.prev = self.tune_score(trainer)

    def epoch_steps(self, trainer: TrainerHooks) -> int:
        """One kept multi-task pass over the samples per epoch steps the trainer's optimizer."""
        return sum(trainer.sample_steps(t, self.cfg.rho) for t in trainer.trained_tasks)

    def _sign(self, trainer: TrainerHooks) -> float:
        return -1.0 if trainer.pool.specs[self.primary].main_metric in LOWER_IS_BETTER else 1.0

    def improved(self, trainer: TrainerHooks, now: tuple[float, float], before: tuple[float, float]) -> bool:
        sign = self._sign(trainer)
        if now[0] == before[0]:
            return self.cfg.tie_break == "loss" and now[1] < before[1]
        return sign * (now[0] - before[0]) > 0

    def train_epoch(self, trainer: TrainerHooks, epoch: int) -> float:
        cfg, ledger = self.cfg, trainer.ledger
        sign = self._sign(trainer)
        theta = trainer.snapshot()
        samples = {t: trainer.epoch_sample(t, epoch, cfg.rho) for t in self.tasks}
        single: dict[str, tuple[float, float]] = {}
        with ledger.stage(f"{trainer.stage}/diw_single"):
            trainer.set_task_weights({t: 1.0 for t in self.tasks})  # unweighted single-task updates
            for t in self.tasks:
                trainer.train_sample(t, samples[t])
                single[t] = self.tune_score(trainer)
                trainer.restore(theta)
        best: tuple[tuple[float, float], dict[str, Any], float] | None = None
        tries = 0
        with ledger.stage(f"{trainer.stage}/diw_mtl"):
            for _ in range(cfg.patience):
                tries += 1
                trainer.set_task_weights(normalised(self.weights))
                loss = trainer.train_scheduled(epoch, samples)
                now = self.tune_score(trainer)
                if self.improved(trainer, now, self.prev):
                    best = None
                    break
                if best is None or self.improved(trainer, now, best[0]):
                    best = (now, trainer.snapshot(), loss)
                if cfg.tie_break == "loss" and all(s[0] == now[0] for s in single.values()):
                    solo, mixed = {t: -single[t][1] for t in self.tasks}, -now[1]  # lower loss is better
                else:
                    solo, mixed = {t: sign * single[t][0] for t in self.tasks}, sign * now[0]
                self.weights = diw_update(self.weights, solo, mixed, cfg.weight_lr, self.min_weight)
                trainer.restore(theta)
            else:  # patience exhausted: keep the best try
                now, snap, loss = best
                trainer.restore(snap)
        self.prev = now
        self.tries.append(tries)
        self._record = {
            "task_weight": normalised(self.weights),
            "single_task_score": {t: s[0] for t, s in single.items()},
        }
        return loss

    def epoch_record(self, trainer: TrainerHooks, epoch: int) -> dict[str, dict[str, float]]:
        return self._record

    def results(self, trainer: TrainerHooks) -> dict[str, Any]:
        out = super().results(trainer)
        out["diw_tries"] = list(self.tries)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "prev": self.prev, "tries": list(self.tries)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.prev = None if state["prev"] is None else tuple(state["prev"])
        self.tries = list(state["tries"])


def validate_diw(cfg, run_cfg) -> None:
    from auxrun.validate import _range

    _range("method.weight_lr", cfg.weight_lr, 0, lo_open=True)
    _range("method.patience", cfg.patience, 1)
    _range("method.rho", cfg.rho, 0, 1, lo_open=True)
    _range("method.min_weight", cfg.min_weight, 0, lo_open=True)
    check_tune_split(cfg.tune_split, run_cfg.data.select_dev_fraction)
    if cfg.tie_break not in TIE_BREAKS:
        raise ConfigError(f"method.tie_break='{cfg.tie_break}' is not one of {list(TIE_BREAKS)}")


@register("diw", DiwConfig)
class Diw(Method):
    @classmethod
    def validate_config(cls, cfg, specs) -> None:
        validate_diw(cfg.method, cfg)

    def select(self) -> Selection:
        pool = self.ctx.pool
        return self.selection(list(pool.auxiliaries), weights={t: 1.0 for t in pool.tasks})

    def controller(self) -> DiwController:
        pool = self.ctx.pool
        return DiwController(self.cfg, pool.primary, [pool.primary, *pool.auxiliaries])

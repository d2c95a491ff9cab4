"""alpha-VIL (``avil``): target-task weighting during training from task-specific model deltas
(Kourdis, Gordon-Hall and Gorinski 2021, "alpha-VIL: Learning to Leverage Auxiliary Tasks for
Multitask Learning"; Algorithm 1, sections 3, 4.1, 4.2).

Every candidate trains (nothing is selected away); each epoch, through the trainer's controller
hooks (auxrun/training/controller.py):

1. from the current parameters theta, for every task t_i, the primary included: train one pass over
   a fresh sample of a fraction rho of its training data with loss weight w_i / sum(w) (Algorithm 1,
   lines 3-5); keep delta_i = theta_i - theta (line 6); reset to theta;
2. alphas start at 1; ``alpha_steps`` (s) steps of SGD (lr, momentum) on the alphas minimise the
   primary's mean loss on the tuning split at theta + sum_i alpha_i * delta_i (lines 8-9), a
   differentiable loss through ``torch.func.functional_call`` (the model's weights are not written);
3. theta <- theta + sum_i alpha_i * delta_i (line 10); w_i <- max(1e-6, w_i + alpha_i - 1) (line 11,
   section 4.1 footnote 1);
4. the trainer evaluates, and keeps the best epoch's model (section 4.2: the best snapshot).

Defaults (conf/method/avil.yaml): s = 10 (sections 4.1, 4.2), alpha SGD lr 1e-3 and momentum
0.5 (NLU, section 4.2), rho = 0.25 (NLU, section 4.2). The NLU optimiser (AdamW lr 5e-6, eps 1e-6,
weight decay 0.01, batch 8, 20 epochs) is the superglue5 setting (conf/setting/superglue5_avil.yaml).

Departures from the paper, and choices where it is silent:
- Tuning split: the paper tunes the alphas on the primary's dev set and reports dev; auxrun tunes on
  ``select_dev`` (10% of the primary's train, held out) and reports dev. ``method.tune_split=dev``
  reproduces the paper's protocol, and results.json says so (``tune_protocol``).
- Optimizer state across the delta phase (not stated): ``per_task`` (default): each task has its own
  AdamW state and learning-rate schedule, kept across epochs, so delta_i is task i's own update,
  independent of the order the tasks train in and of the other tasks' momentum (a shared state
  would carry task i-1's momentum into delta_i), and each task's optimizer keeps its statistics
  from epoch to epoch as a single-task fine-tuning would. Cost: one AdamW state per task (2 model
  copies each). ``reset``: a fresh AdamW per task and epoch (no state kept; the schedule still
  follows the task's step count). Note that Adam is nearly invariant to a constant loss scale, so
  with AdamW the loss weight w_i / sum(w) changes delta_i little unless the weight approaches the
  1e-6 clamp (where the gradient falls below eps); the alphas act on the deltas directly every epoch.
- ``weight_as`` (not in the paper): with ``loss`` (default, Eq. 1) w_i / sum(w) scales task i's loss;
  with ``lr`` it scales task i's learning rate. Under SGD (the paper's MultiMNIST runs) the two are
  the same and the summed deltas are a weighted average of the task updates; under AdamW (its NLU
  runs) a loss scale is undone by the second moment, so with ``loss`` every delta keeps full size
  and theta + sum(delta_i) is about n task updates added up (see the planted check, docs/index.md).
- The alpha loss is the mean over the whole tuning split in eval mode (no dropout), one full-batch
  gradient per alpha step (in chunks of ``train.eval_batch_size``, accumulated).
- The learning-rate schedule of each task's optimizer is the trainer's (linear warm-up and decay
  over the task's steps of all epochs); the paper names none.
- Memory: one delta per task is a model copy (RoBERTa-base, 5 tasks: ~2.5 GB in fp32).
  ``delta_device=cpu`` keeps them in host memory, ``delta_dtype=bf16`` halves them (the alpha
  gradient then sees rounded deltas; theta is kept in full precision).
- The gradient of the primary's loss with respect to each alpha at alpha = 1 (first step) is
  recorded per epoch (``alpha_grad_history``): a diagnostic, not part of the algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from auxrun.config import MethodConfig
from auxrun.errors import ConfigError
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.methods.task_weighting import MIN_WEIGHT, WeightingController, check_tune_split, normalised
from auxrun.selection import Selection
from auxrun.training import params

if TYPE_CHECKING:
    from auxrun.training.controller import TrainerHooks

OPTIMIZER_STATES = ("per_task", "reset")
DELTA_DEVICES = ("model", "cpu")
DELTA_DTYPES = ("fp32", "bf16")
WEIGHT_AS = ("loss", "lr")


@dataclass
class AvilConfig(MethodConfig):
    name: str = "avil"
    alpha_steps: int = 10  # s, sections 4.1 and 4.2
    alpha_lr: float = 1e-3  # section 4.2 (NLU); 0.005 for MultiMNIST (4.1)
    alpha_momentum: float = 0.5  # sections 4.1 and 4.2
    rho: float = 0.25  # section 4.2: 25% of each training set per epoch
    tune_split: str = "select_dev"  # the paper: dev (see the module docstring)
    min_weight: float = MIN_WEIGHT  # section 4.1, footnote 1
    optimizer_state: str = "per_task"  # per_task | reset (the paper is silent)
    delta_device: str = "model"  # model | cpu
    delta_dtype: str = "fp32"  # fp32 | bf16
    # loss: w_i / sum(w) scales task i's loss (Eq. 1); lr: it scales task i's learning rate instead
    # (the same under SGD; under Adam, which undoes a constant loss scale, only "lr" scales the delta)
    weight_as: str = "loss"


def validate_avil(cfg, run_cfg) -> None:
    from auxrun.validate import _range

    _range("method.alpha_steps", cfg.alpha_steps, 0)
    _range("method.alpha_lr", cfg.alpha_lr, 0, lo_open=True)
    _range("method.alpha_momentum", cfg.alpha_momentum, 0, 1, hi_open=True)
    _range("method.rho", cfg.rho, 0, 1, lo_open=True)
    _range("method.min_weight", cfg.min_weight, 0, lo_open=True)
    check_tune_split(cfg.tune_split, run_cfg.data.select_dev_fraction)
    for key, value, allowed in (
        ("optimizer_state", cfg.optimizer_state, OPTIMIZER_STATES),
        ("delta_device", cfg.delta_device, DELTA_DEVICES),
        ("delta_dtype", cfg.delta_dtype, DELTA_DTYPES),
        ("weight_as", cfg.weight_as, WEIGHT_AS),
    ):
        if value not in allowed:
            raise ConfigError(f"method.{key}='{value}' is not one of {list(allowed)}")


def scale_lr(opt, sched, base_lr: float) -> None:
    """Set a LambdaLR-scheduled optimizer's base learning rate, effective from its next step."""
    sched.base_lrs = [base_lr for _ in sched.base_lrs]
    for g, lam in zip(opt.param_groups, sched.lr_lambdas):
        g["lr"] = base_lr * lam(sched.last_epoch)


class AvilController(WeightingController):
    def __init__(self, cfg: AvilConfig, primary: str, tasks: list[str]):
        super().__init__(primary, tasks, cfg.tune_split, cfg.min_weight)
        self.cfg = cfg
        self.optimizers: dict[str, tuple[Any, Any]] = {}
        self._pending: dict[str, Any] = {}  # optimizer states from a checkpoint, applied on first use
        self._record: dict[str, dict[str, float]] = {}

    # ---- per-task optimizers ------------------------------------------------------------------

    def task_steps(self, trainer: TrainerHooks, task: str) -> int:
        return trainer.sample_steps(task, self.cfg.rho)

    def optimizer_for(self, trainer: TrainerHooks, task: str, epoch: int):
        steps = self.task_steps(trainer, task)
        total = trainer.epochs * steps
        if self.cfg.optimizer_state == "reset":
            return trainer.new_optimizer(total, done_steps=epoch * steps)
        if task not in self.optimizers:
            opt, sched = trainer.new_optimizer(total)
            if task in self._pending:
                opt.load_state_dict(self._pending[task]["optimizer"])
                sched.load_state_dict(self._pending[task]["scheduler"])
            self.optimizers[task] = (opt, sched)
        return self.optimizers[task]

    # ---- one epoch: Algorithm 1, lines 3-11 ----------------------------------------------------

    def train_epoch(self, trainer: TrainerHooks, epoch: int) -> float:
        cfg, ledger = self.cfg, trainer.ledger
        dev = "cpu" if cfg.delta_device == "cpu" else None
        theta = trainer.param_copy()
        share = normalised(self.weights)
        deltas, losses = [], []
        with ledger.stage(f"{trainer.stage}/avil_deltas"):
            for t in self.tasks:
                by_lr = cfg.weight_as == "lr"
                trainer.set_task_weights({t: 1.0 if by_lr else share[t]})  # line 5: w_i / sum(w)
                sample = trainer.epoch_sample(t, epoch, cfg.rho)  # line 4
                opt, sched = self.optimizer_for(trainer, t, epoch)
                scale_lr(opt, sched, trainer.lr * (share[t] if by_lr else 1.0))
                with trainer.using_optimizer(opt, sched):
                    losses.append(trainer.train_sample(t, sample))
                deltas.append(trainer.param_delta(theta, cfg.delta_dtype, dev))  # line 6
                trainer.set_params(theta)  # reset
        with ledger.stage(f"{trainer.stage}/avil_alphas"):
            alphas, grad0 = self.tune_alphas(trainer, theta, deltas)  # lines 8-9
        trainer.set_params(theta, deltas, alphas)  # line 10
        a = {t: float(x) for t, x in zip(self.tasks, alphas.tolist())}
        self.weights = {t: self.clamp(self.weights[t] + a[t] - 1.0) for t in self.tasks}  # line 11
        self._record = {
            "alpha": a,
            "task_weight": normalised(self.weights),
            "alpha_grad": {t: float(g) for t, g in zip(self.tasks, grad0.tolist())},
        }
        return sum(losses) / max(1, len(losses))

    def tune_alphas(
        self, trainer: TrainerHooks, theta: params.Params, deltas: list[params.Params]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """s SGD steps on the alphas (from 1) on the primary's mean tuning-split loss at
        theta + sum_i alpha_i * delta_i; returns the alphas and the gradient at the first step."""
        cfg = self.cfg
        alphas = torch.ones(len(deltas), device=trainer.device, requires_grad=True)
        sgd = torch.optim.SGD([alphas], lr=cfg.alpha_lr, momentum=cfg.alpha_momentum)
        chunks = trainer.loss_batches(self.primary, self.tune_split)
        n = sum(len(c) for c in chunks)
        grad0 = torch.zeros(len(deltas))
        for step in range(cfg.alpha_steps):
            sgd.zero_grad(set_to_none=False)
            for idx in chunks:
                at = params.combine(theta, deltas, alphas)
                loss = trainer.differentiable_loss(self.primary, self.tune_split, at, idx)
                (loss * (len(idx) / n)).backward()
            if step == 0:
                grad0 = alphas.grad.detach().cpu().clone()
            sgd.step()
        return alphas.detach(), grad0

    # ---- records --------------------------------------------------------------------------------

    def epoch_record(self, trainer: TrainerHooks, epoch: int) -> dict[str, dict[str, float]]:
        return self._record

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["optimizers"] = {
            t: {"optimizer": o.state_dict(), "scheduler": s.state_dict()}
            for t, (o, s) in self.optimizers.items()
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.optimizers = {}
        self._pending = dict(state.get("optimizers", {}))


@register("avil", AvilConfig)
class Avil(Method):
    @classmethod
    def validate_config(cls, cfg, specs) -> None:
        validate_avil(cfg.method, cfg)

    def select(self) -> Selection:
        pool = self.ctx.pool
        return self.selection(list(pool.auxiliaries), weights={t: 1.0 for t in pool.tasks})

    def controller(self) -> AvilController:
        pool = self.ctx.pool
        return AvilController(self.cfg, pool.primary, [pool.primary, *pool.auxiliaries])

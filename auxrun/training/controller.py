"""Controllers: how a method acts during training (AUTOSEM's bandit, alpha-VIL and DIW weights).

A controller is consulted by MTLTrainer at fixed points (``Controller`` below) and acts only through
the trainer's hooks, ``TrainerHooks``: the whole of what a method may use of a trainer, whether a
controller is handed it or the method runs it itself (probes, trials, a bandit, a lookahead pass).
Nothing else of MTLTrainer is part of the contract: not its model, batch streams, feeders,
precision, config or private members (tests/test_controller_contract.py checks every method
module). Adding a method never changes the trainer; a method that needs something new adds a named
hook here and on MTLTrainer.

What a controller decides is recorded generically: ``epoch_record`` returns a flat
``{name: {task: value}}`` dict per epoch (written into metrics.csv as ``name/task`` columns and
saved with the checkpoint), and ``results`` returns the keys run.py merges into results.json; any
``*_history`` key there that is a list of ``{task: value}`` dicts is drawn into ``figures/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from auxrun.data.pool import TaskPool
    from auxrun.models.mtl import TaskOutput
    from auxrun.training.cost import CostLedger
    from auxrun.training.params import Params

Batch = dict[str, "torch.Tensor"]


@runtime_checkable
class TrainerHooks(Protocol):
    """The trainer as a method sees it (MTLTrainer implements it). Read the attributes, never assign
    them; weights change only through the training hooks, ``restore`` and ``set_params``.

    Facts of this trainer (read-only)."""

    pool: TaskPool  # the task pool: specs, encoded splits
    ledger: CostLedger  # the run's cost ledger: ``ledger.stage(...)`` sub-stages, ``ledger.count``
    stage: str  # this trainer's stage name (``train``, ``tag_pass``, ``probe_<task>``, ...)
    epochs: int  # epochs ``fit`` runs
    lr: float  # the base learning rate (train.lr, else the backbone's)
    device: torch.device  # where the model, batches and parameter sets live
    step: int  # optimizer steps taken so far
    optimizer: torch.optim.Optimizer  # the optimizer ``train_batches`` steps now (read its state only)
    start_epoch: int  # the first epoch ``fit`` runs (after ``load_checkpoint``: the one to resume)
    decisions: list[dict[str, Any]]  # each epoch's ``Controller.epoch_record``, so far

    @property
    def batch_size(self) -> int:
        """The training mini-batch size (train.batch_size)."""
        ...

    @property
    def max_grad_norm(self) -> float:
        """The norm each training step clips its gradient to (train.max_grad_norm; <= 0: none)."""
        ...

    @property
    def trained_tasks(self) -> list[str]:
        """The tasks this trainer trains (the Selection's, less those left without examples)."""
        ...

    # ---- running it (a method that drives a trainer: probes, trials, the bandit, TAG's pass) ------

    def fit(self) -> dict[str, Any]:
        """Train every epoch from ``start_epoch``: {"best": {split: scores}, "best_epoch", "history"}."""
        ...

    def load_checkpoint(self) -> bool:
        """Resume from this stage's checkpoint in the run folder, if there is one."""
        ...

    def checkpoint_state(self) -> dict[str, Any]:
        """What an epoch-boundary resume needs (for a method that saves it itself)."""
        ...

    def load_checkpoint_state(self, state: dict[str, Any]) -> None: ...

    # ---- training -----------------------------------------------------------------------------

    def train_batches(self, task: str, k: int = 1) -> float:
        """Train k mini-batches of one task's stream from the current state; the mean loss."""
        ...

    def train_sample(self, task: str, indices: list[int]) -> float:
        """One pass of mini-batches over the given training examples of a task; the mean loss."""
        ...

    def train_scheduled(
        self, epoch: int, samples: dict[str, list[int]] | None = None, choose: Any = None
    ) -> float:
        """The default epoch body (the schedule over ``samples``); ``choose`` may swap a step's task."""
        ...

    def train_indices(self, task: str) -> list[int]:
        """The training examples the task's mini-batch stream runs over now (its Selection subset;
        inside ``train_scheduled``/``train_sample``: that pass's sample)."""
        ...

    def sample_size(self, task: str, fraction: float) -> int:
        """How many of a task's training examples an epoch over ``fraction`` of them trains."""
        ...

    def sample_steps(self, task: str, fraction: float) -> int:
        """The mini-batches of one pass over ``sample_size(task, fraction)`` examples."""
        ...

    def epoch_sample(self, task: str, epoch: int, fraction: float) -> list[int]:
        """A fraction of a task's training examples for one epoch, a function of (seed, task, epoch)."""
        ...

    def new_optimizer(self, total_steps: int, done_steps: int = 0) -> tuple[Any, Any]:
        """A fresh (optimizer, schedule) of the trainer's kind, positioned after ``done_steps``."""
        ...

    def using_optimizer(self, optimizer: Any, scheduler: Any) -> AbstractContextManager[None]:
        """Train with another optimizer and schedule within the block."""
        ...

    def set_task_weights(self, weights: dict[str, float]) -> None:
        """Per-task loss weights (a task not named keeps its weight)."""
        ...

    # ---- state and parameters -----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Weights, optimizer and schedule states, step: what ``restore`` puts back."""
        ...

    def restore(self, snap: dict[str, Any]) -> None: ...

    def param_copy(self, device: str | torch.device | None = None) -> Params:
        """theta: a detached copy of the trainable parameters."""
        ...

    def param_delta(self, since: Params, dtype: str = "fp32", device: str | None = None) -> Params:
        """theta_now - ``since``, as ``dtype`` on ``device`` (None: the model's)."""
        ...

    def set_params(self, theta: Params, deltas: list[Params] | None = None, alphas: Any = None) -> None:
        """Write theta + sum_i alphas[i] * deltas[i] into the model (weights only)."""
        ...

    def trainable_parameters(self) -> Params:
        """The live trainable parameters by name (the names of ``param_copy``); read, do not write."""
        ...

    def shared_parameters(self) -> Params:
        """The live trainable parameters of the shared encoder, by name, in the model's order."""
        ...

    def head_parameters(self, task: str) -> Params:
        """The live trainable parameters of a task's head, by name, in the model's order."""
        ...

    # ---- the model's forward ------------------------------------------------------------------

    def autocast(self) -> AbstractContextManager[Any]:
        """The trainer's precision (autocast under bf16/fp16) for a forward the method runs itself."""
        ...

    def batch(self, task: str, split: str, indices: Sequence[int]) -> Batch:
        """The given examples of a task's split as one padded batch on ``device``."""
        ...

    def forward(
        self, task: str, batch: Batch, at: Params | None = None, train_mode: bool = False
    ) -> TaskOutput:
        """The model's output on a batch under ``autocast``, in eval mode (no dropout) unless
        ``train_mode``; ``at`` replaces (some of) the trainable parameters without writing them
        (gradients flow to whatever ``at`` was computed from). Nothing is counted in the ledger."""
        ...

    # ---- scoring ------------------------------------------------------------------------------

    def evaluate(self, split: str, tasks: list[str] | None = None) -> dict[str, dict[str, float]]:
        """Every metric and the mean loss of each task on a labelled split (inference mode)."""
        ...

    def score(self, task: str, split: str = "select_dev") -> float:
        """A task's main metric on a split."""
        ...

    def task_loss(self, task: str, split: str = "select_dev") -> float:
        """A task's mean loss on a split."""
        ...

    def loss_batches(self, task: str, split: str) -> list[list[int]]:
        """A split's examples in length-sorted chunks of train.eval_batch_size."""
        ...

    def differentiable_loss(
        self,
        task: str,
        split: str,
        at: Params,
        indices: list[int] | None = None,
        train_mode: bool = False,
    ) -> torch.Tensor:
        """A task's mean loss on (the given examples of) a split at parameters ``at``; counted."""
        ...


def hook_names() -> set[str]:
    """Every member of ``TrainerHooks``: what a method may read or call on a trainer."""
    members = {n for n in vars(TrainerHooks) if not n.startswith("_")}
    return members | set(TrainerHooks.__annotations__)


class Controller:
    """Consulted by MTLTrainer at fixed points; the defaults train the schedule and decide nothing."""

    def on_train_start(self, trainer: TrainerHooks) -> None:
        pass

    def on_epoch_start(self, trainer: TrainerHooks, epoch: int) -> None:
        pass

    def epoch_steps(self, trainer: TrainerHooks) -> int | None:
        """Optimizer steps of one epoch of ``trainer.optimizer``, for its learning-rate schedule;
        None: the default schedule's (one step per mini-batch of an epoch)."""
        return None

    def train_epoch(self, trainer: TrainerHooks, epoch: int) -> float:
        """The body of one epoch; returns its mean training loss. The default trains the schedule
        (size-proportional or ratio, over ``train.epoch_fraction`` of each task), asking
        ``choose_task`` for each mini-batch."""
        return trainer.train_scheduled(epoch, choose=self.choose_task)

    def choose_task(self, trainer: TrainerHooks, step: int, scheduled: str) -> str:
        """The task of the next mini-batch; the default keeps the schedule's choice."""
        return scheduled

    def on_epoch_end(self, trainer: TrainerHooks, epoch: int, metrics: dict[str, Any]) -> None:
        pass

    def epoch_record(self, trainer: TrainerHooks, epoch: int) -> dict[str, dict[str, float]]:
        """What the controller decided this epoch, as {name: {task: value}} (empty: nothing)."""
        return {}

    def results(self, trainer: TrainerHooks) -> dict[str, Any]:
        """Keys for results.json (after training); the default: each record name as
        ``<name>_history``, one dict per epoch."""
        names: list[str] = []
        for rec in trainer.decisions:
            names += [k for k in rec if k not in names]
        return {f"{k}_history": [rec.get(k) for rec in trainer.decisions] for k in names}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

"""MTLTrainer: one task per mini-batch over a shared encoder, scheduled from a Selection.

It knows nothing of methods: it reads the Selection (tasks, ratios, instance subsets, weights)
and implements ``TrainerHooks`` (auxrun/training/controller.py), all that methods and their
controllers may use of it; the rest (the model, streams, feeders, precision) is its own. Runs are
deterministic for a seed on CPU: batch orders and dropout seeds are functions of (seed, epoch), so
a run resumed from its epoch checkpoint continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import random
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from auxrun.config import RunConfig
from auxrun.data.features import EncodedSplit, collate
from auxrun.data.pool import TaskPool
from auxrun.eval.metrics import better, compute_metrics
from auxrun.io import read_or_set_aside, torch_save_atomic, write_text_atomic
from auxrun.models.mtl import MultiTaskModel, TaskOutput
from auxrun.objectives import get_objective
from auxrun.selection import Selection
from auxrun.training import distributed, params
from auxrun.training.batching import BatchFeeder, TaskBatches, pad_token_id
from auxrun.training.controller import Controller
from auxrun.training.cost import CostLedger
from auxrun.training.hardware import Precision, configure_backends, maybe_compile, pick_device, pin_memory
from auxrun.training.params import Params
from auxrun.training.schedule import epoch_schedule

__all__ = ["MTLTrainer", "TaskBatches", "pick_device"]


class MTLTrainer:
    def __init__(
        self,
        model: MultiTaskModel,
        pool: TaskPool,
        selection: Selection,
        cfg: RunConfig,
        ledger: CostLedger,
        run_dir: Path | None = None,
        controller: Controller | None = None,
        stage: str = "train",
        epochs: int | None = None,
        tasks_to_eval: list[str] | None = None,
        eval_splits: list[str] | None = None,
        best_split: str = "dev",
        progress: bool = True,
    ):
        self.model, self.pool, self.selection, self.cfg, self.ledger = model, pool, selection, cfg, ledger
        self.run_dir, self.stage = run_dir, stage
        self.controller = controller or Controller()
        self.epochs = cfg.train.epochs if epochs is None else epochs
        self.primary = selection.primary
        self.tasks = selection.training_tasks
        self.eval_tasks = tasks_to_eval or [self.primary]
        self.eval_splits = eval_splits or ["select_dev", *pool.eval_splits(self.primary)]
        self.best_split = best_split  # the split whose primary main metric picks the best epoch
        self.progress = progress and not cfg.quiet
        self._setup_hardware()
        self.pad_id = pad_token_id(pool.tokenizer)
        self.weights = {t: float(selection.weights.get(t, 1.0)) for t in self.tasks}
        self.batches = {
            t: TaskBatches(
                pool.split(t, "train"),
                list(selection.instance_indices.get(t, range(len(pool.split(t, "train"))))),
                cfg.train.batch_size,
                cfg.seed,
                group_by_length=cfg.train.group_by_length,
            )
            for t in self.tasks
        }
        self.batches = {t: b for t, b in self.batches.items() if len(b.indices) > 0}
        self._setup_feeders()
        self.schedule_kind = (
            "ratio" if (selection.ratios and cfg.train.schedule == "auto") else cfg.train.schedule
        )
        self.lr = cfg.train.lr if cfg.train.lr is not None else cfg.backbone.lr
        self.optimizer = self._adamw()
        steps = self.controller.epoch_steps(self)
        total = max(1, self.epochs * (len(self.epoch_tasks(0)) if steps is None else steps))
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(cfg.train.warmup_ratio * total), total
        )
        self.history: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []  # the controller's epoch_record, one per epoch
        self.best: dict[str, Any] | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        # The primary's native predictions at the best epoch, per evaluated split (paired bootstraps
        # compare runs example by example); ``last_predictions`` holds the latest evaluate()'s.
        self.best_predictions: dict[str, list[Any]] = {}
        self.last_predictions: dict[str, dict[str, list[Any]]] = {}
        self.start_epoch = 0
        self.step = 0
        # Called with each epoch's history row as soon as it is evaluated (loggers: wandb).
        self.epoch_listeners: list[Callable[[dict[str, Any]], None]] = []

    # ---- schedule -------------------------------------------------------------------------------

    def epoch_tasks(self, epoch: int) -> list[str]:
        """The task of each mini-batch of an epoch (over ``train.epoch_fraction`` of each task)."""
        frac = self.cfg.train.epoch_fraction
        n = {t: self.sample_steps(t, frac) for t in self.batches}
        return epoch_schedule(
            self.schedule_kind, n, self.selection.ratios, self.primary, self.cfg.seed, epoch
        )

    # ---- hardware: device, precision, batches, data parallelism (auxrun/training/hardware.py) ------

    def _setup_hardware(self) -> None:
        hw = self.cfg.hardware
        self.device = pick_device(hw.device)
        if (  # data parallel on CUDA: one GPU per process, torchrun's LOCAL_RANK
            hw.distributed
            and distributed.active()
            and self.device.type == "cuda"
            and self.device.index is None
        ):
            self.device = torch.device("cuda", distributed.world_from_env()[2])
        configure_backends(hw, self.device)
        self.precision = Precision(hw.precision, self.device)
        self.pin_memory = pin_memory(hw, self.device)
        # Data parallel: the final training stage only; selection stages (probes, trials, the bandit)
        # run on rank 0 alone, see auxrun/training/distributed.py.
        parallel = hw.distributed and distributed.active() and self.stage == "train"
        self.data_parallel = distributed.DataParallel() if parallel else None
        self.model.to(self.device)
        maybe_compile(self.model, hw)
        # tokens in the training batches: computed (padded) and real; their ratio is the padding cost
        self.tokens = {"computed": 0, "real": 0}

    def _setup_feeders(self) -> None:
        shard = self.data_parallel.shard if self.data_parallel is not None else None
        self.feeders = {
            t: BatchFeeder(
                b,
                self.pool.specs[t].objective,
                self.pad_id,
                num_workers=self.cfg.hardware.num_workers,
                pin_memory=self.pin_memory,
                shard=shard,
            )
            for t, b in self.batches.items()
        }

    def _close_feeders(self) -> None:
        """Stop DataLoader workers (a later ``train_batches`` starts them again where it left off)."""
        for f in self.feeders.values():
            f.close()

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device, non_blocking=self.pin_memory) for k, v in batch.items()}

    def _train_step(self, task: str) -> tuple[float, int]:
        """One optimizer step on the task's next global batch: (its mean loss, examples this process ran)."""
        idx, local, real, batch = self.feeders[task].next()
        mask = batch["attention_mask"]
        self.tokens["computed"] += mask.numel()
        self.tokens["real"] += int(mask.sum())
        batch = self._to_device(batch)
        with self.autocast():
            out = self.model(task, batch)
        weight = self.weights.get(task, 1.0)
        if self.data_parallel is None:
            loss = out.losses.mean() * weight
        else:  # the local share of the global batch's mean loss (see auxrun/training/distributed.py)
            loss = out.losses.sum() * (weight / len(idx) if real else 0.0)
        self.precision.backward(loss)
        params = [p for p in self.model.parameters() if p.requires_grad]
        value = float(loss.detach())
        if self.data_parallel is not None:
            value = self.data_parallel.all_reduce(params, loss.detach())
        self.precision.step(self.optimizer, params, self.cfg.train.max_grad_norm)
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return value, len(local)

    def _adamw(self) -> torch.optim.AdamW:
        # fused AdamW: one kernel for all parameters (CPU and CUDA), what transformers' Trainer uses too
        fused = self.device.type in ("cpu", "cuda")
        return torch.optim.AdamW(self._param_groups(), lr=self.lr, eps=self.cfg.train.adam_eps, fused=fused)

    def _param_groups(self) -> list[dict[str, Any]]:
        """AdamW groups: no weight decay on biases and norms."""
        no_decay = ("bias", "LayerNorm.weight", "layer_norm", "norm.weight")
        named = list(self.model.named_parameters())
        return [
            {
                "params": [p for n, p in named if not any(k in n for k in no_decay)],
                "weight_decay": self.cfg.train.weight_decay,
            },
            {"params": [p for n, p in named if any(k in n for k in no_decay)], "weight_decay": 0.0},
        ]

    # ---- TrainerHooks: facts, parameters, the model's forward (documented in controller.py) --------

    @property
    def batch_size(self) -> int:
        return self.cfg.train.batch_size

    @property
    def max_grad_norm(self) -> float:
        return self.cfg.train.max_grad_norm

    @property
    def trained_tasks(self) -> list[str]:
        return list(self.batches)

    def train_indices(self, task: str) -> list[int]:
        return list(self.batches[task].indices)

    def autocast(self):
        """The trainer's precision: autocast under bf16/fp16, nothing under fp32."""
        return self.precision.autocast()

    def batch(self, task: str, split: str, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """The given examples of a task's split, collated (padded with the tokenizer's pad id) on
        the trainer's device."""
        data = self.pool.split(task, split)
        return self._to_device(collate(data, list(indices), self.pool.specs[task].objective, self.pad_id))

    def forward(
        self, task: str, batch: dict[str, torch.Tensor], at: Params | None = None, train_mode: bool = False
    ) -> TaskOutput:
        """The model's output under ``autocast``, in eval mode unless ``train_mode`` (the model's
        mode is restored); at ``at`` through ``torch.func.functional_call`` when given."""
        was_training = self.model.training
        self.model.train(train_mode)
        try:
            with self.autocast():
                if at is None:
                    return self.model(task, batch)
                return params.functional_forward(self.model, at, task, batch)
        finally:
            self.model.train(was_training)

    def trainable_parameters(self) -> Params:
        return params.trainable(self.model)

    def shared_parameters(self) -> Params:
        return self._parameters_of(self.model.encoder)

    def head_parameters(self, task: str) -> Params:
        return self._parameters_of(self.model.heads[task])

    def _parameters_of(self, module: torch.nn.Module) -> Params:
        ids = {id(p) for p in module.parameters()}
        return {n: p for n, p in params.trainable(self.model).items() if id(p) in ids}

    # ---- hooks for controllers ------------------------------------------------------------------

    def train_batches(self, task: str, k: int = 1) -> float:
        """Train k mini-batches of one task from the current state; the mean loss."""
        self.model.train()
        total = 0.0
        for _ in range(k):
            loss, n = self._train_step(task)
            self.ledger.count(forward=n, backward=n)
            self.step += 1
            total += loss
        return total / max(k, 1)

    def snapshot(self) -> dict[str, Any]:
        """Weights, optimizer and scheduler states, step: what ``restore`` puts back. It does not
        rewind the mini-batch streams' positions, the task weights or the torch RNG (dropout): after
        a restore, training continues with the next batches and fresh dropout masks (``state_dict``
        holds those too)."""
        return {
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "scheduler": copy.deepcopy(self.scheduler.state_dict()),
            "step": self.step,
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: snapshot + batch positions + weights + torch RNG."""
        return {
            **self.snapshot(),
            "batches": {t: b.state_dict() for t, b in self.batches.items()},
            "weights": dict(self.weights),
            "torch_rng": torch.get_rng_state(),
            "precision": self.precision.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.restore(state)
        for t, b in state["batches"].items():
            self.batches[t].load_state_dict(b)
        self.weights = dict(state["weights"])
        torch.set_rng_state(state["torch_rng"])
        self.precision.load_state_dict(state.get("precision"))

    def restore(self, snap: dict[str, Any]) -> None:
        """Back to a ``snapshot``: weights, optimizer, scheduler, step; not batch positions or RNG."""
        self.model.load_state_dict(snap["model"])
        self.optimizer.load_state_dict(snap["optimizer"])
        self.scheduler.load_state_dict(snap["scheduler"])
        self.step = snap["step"]

    def set_task_weights(self, weights: dict[str, float]) -> None:
        self.weights.update({t: float(w) for t, w in weights.items()})

    @torch.inference_mode()
    def predict(self, task: str, split: str) -> tuple[list[Any], float]:
        """Native predictions for every example of a split (see auxrun.eval.metrics) and mean loss."""
        self.model.eval()
        data = self.pool.split(task, split)
        spec = self.pool.specs[task]
        lengths = data.lengths()
        order = sorted(range(len(data)), key=lengths.__getitem__)  # length-sorted: less padding
        preds: list[Any] = [None] * len(data)
        loss_sum, n_loss = 0.0, 0
        bs = self.cfg.train.eval_batch_size
        bar = tqdm(
            range(0, len(order), bs), desc=f"eval {task}/{split}", leave=False, disable=not self.progress
        )
        for i in bar:
            idx = order[i : i + bs]
            batch = self.batch(task, split, idx)
            with self.autocast():
                out = self.model(task, batch)
            if out.losses is not None:
                loss_sum += float(out.losses.float().sum())
                n_loss += len(idx)
            logits = out.logits.float().cpu()
            for j, ex in enumerate(idx):
                preds[ex] = self._decode(spec, data, ex, logits[j])
        self.ledger.count(forward=len(data))
        return preds, (loss_sum / n_loss if n_loss else float("nan"))

    @staticmethod
    def _decode(spec, data: EncodedSplit, ex: int, logits: torch.Tensor) -> Any:
        return get_objective(spec.objective).decode(spec, data, ex, logits)

    def evaluate(self, split: str, tasks: list[str] | None = None) -> dict[str, dict[str, float]]:
        """Every metric of each task on a labelled split: {task: {metric: value, 'loss': ...}}."""
        out = {}
        for task in tasks or self.eval_tasks:
            if split not in self.pool.encoded[task] or not self.pool.split(task, split).labeled:
                continue
            spec = self.pool.specs[task]
            preds, loss = self.predict(task, split)
            self.last_predictions.setdefault(split, {})[task] = preds
            gold = self.pool.split(task, split).gold
            scores = compute_metrics(spec.metrics, gold, preds)
            scores["loss"] = loss
            out[task] = scores
        return out

    def score(self, task: str, split: str = "select_dev") -> float:
        return self.evaluate(split, [task])[task][self.pool.specs[task].main_metric]

    def task_loss(self, task: str, split: str = "select_dev") -> float:
        return self.predict(task, split)[1]

    # ---- hooks for controllers that own an epoch (alpha-VIL, DIW, AUTOSEM's bandit) --------------

    def sample_size(self, task: str, fraction: float) -> int:
        """How many of a task's training examples an epoch over ``fraction`` of them trains."""
        n = len(self.batches[task].indices)
        return n if fraction >= 1 else max(1, round(fraction * n))

    def sample_steps(self, task: str, fraction: float) -> int:
        """The mini-batches of one pass over ``sample_size(task, fraction)`` examples."""
        return math.ceil(self.sample_size(task, fraction) / self.cfg.train.batch_size)

    def epoch_sample(self, task: str, epoch: int, fraction: float) -> list[int]:
        """A fraction of a task's training examples (its Selection subset) for one epoch: a function
        of (seed, task, epoch), so a resumed run draws the same samples. fraction >= 1: all."""
        indices = list(self.batches[task].indices)
        if fraction >= 1:
            return indices
        rng = random.Random(f"sample-{self.cfg.seed}-{task}-{epoch}")
        return sorted(rng.sample(indices, self.sample_size(task, fraction)))

    @contextmanager
    def streams_over(self, samples: dict[str, list[int]] | None):
        """Within the block, each named task's mini-batch stream runs over the given examples only
        (shuffled by (seed, task, epoch, pass) as usual); afterwards the streams get their full
        example lists and positions back. The streams are changed in place, so whatever reads them
        (a prefetching feeder) sees the change as a moved position."""
        if not samples:
            yield
            return
        saved = {t: (self.batches[t].indices, self.batches[t].state_dict()) for t in samples}
        try:
            for t, idx in samples.items():
                stream = self.batches[t]
                stream.indices = list(idx)
                stream.reset(stream.epoch)
            yield
        finally:
            for t, (indices, position) in saved.items():
                self.batches[t].indices = indices
                self.batches[t].load_state_dict(position)

    def train_sample(self, task: str, indices: list[int]) -> float:
        """One pass of mini-batches over the given examples of a task; the mean loss."""
        with self.streams_over({task: indices}):
            return self.train_batches(task, len(self.batches[task]))

    def train_scheduled(self, epoch: int, samples: dict[str, list[int]] | None = None, choose=None) -> float:
        """The default epoch body: the schedule (size-proportional or ratio) over ``samples``
        (default: ``train.epoch_fraction`` of each task via ``epoch_sample``), one batch per step;
        ``choose(trainer, step, scheduled)`` may swap a step's task. Returns the mean loss."""
        if samples is None:
            frac = self.cfg.train.epoch_fraction
            samples = {t: self.epoch_sample(t, epoch, frac) for t in self.batches} if frac < 1 else None
        with self.streams_over(samples):
            n = {t: len(b) for t, b in self.batches.items()}
            schedule = epoch_schedule(
                self.schedule_kind, n, self.selection.ratios, self.primary, self.cfg.seed, epoch
            )
            bar = tqdm(
                schedule, desc=f"{self.stage} epoch {epoch + 1}/{self.epochs}", disable=not self.progress
            )
            losses = []
            for step, scheduled in enumerate(bar):
                task = scheduled if choose is None else choose(self, step, scheduled)
                losses.append(self.train_batches(task, 1))
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
        return sum(losses) / max(1, len(losses))

    def new_optimizer(self, total_steps: int, done_steps: int = 0):
        """A fresh optimizer of the trainer's kind (AdamW, its groups, lr, eps) with the trainer's
        learning-rate schedule over ``total_steps``, positioned after ``done_steps``."""
        opt = self._adamw()
        for g in opt.param_groups:
            g["initial_lr"] = self.lr
        total = max(1, total_steps)
        sched = get_linear_schedule_with_warmup(
            opt, int(self.cfg.train.warmup_ratio * total), total, last_epoch=done_steps - 1
        )
        return opt, sched

    @contextmanager
    def using_optimizer(self, optimizer, scheduler):
        """Train with another optimizer and schedule within the block (``train_batches`` steps them)."""
        saved = self.optimizer, self.scheduler
        self.optimizer, self.scheduler = optimizer, scheduler
        try:
            yield
        finally:
            self.optimizer, self.scheduler = saved

    def param_copy(self, device: str | torch.device | None = None) -> Params:
        """theta: a detached copy of the trainable parameters (snapshot for ``param_delta``)."""
        theta = params.copy_params(self.model)
        return theta if device is None else {n: t.to(device) for n, t in theta.items()}

    def param_delta(self, since: Params, dtype: str = "fp32", device: str | None = None) -> Params:
        """theta_now - ``since``, stored as ``dtype`` (fp32 | bf16) on ``device`` (None: the model's)."""
        return params.delta_since(self.model, since, params.DTYPES[dtype], device)

    def set_params(self, theta: Params, deltas: list[Params] | None = None, alphas=None) -> None:
        """Write theta + sum_i alphas[i] * deltas[i] into the model (theta alone without deltas).
        Only weights change: optimizer state, batch positions and the RNG are left as they are."""
        value = params.combine(theta, deltas or [], [] if alphas is None else alphas)
        params.load_params(self.model, {n: v.detach() for n, v in value.items()})

    def loss_batches(self, task: str, split: str) -> list[list[int]]:
        """A split's examples in length-sorted chunks of ``train.eval_batch_size``."""
        data = self.pool.split(task, split)
        lengths = data.lengths()
        order = sorted(range(len(data)), key=lengths.__getitem__)
        bs = self.cfg.train.eval_batch_size
        return [order[i : i + bs] for i in range(0, len(order), bs)]

    def differentiable_loss(
        self, task: str, split: str, at: Params, indices: list[int] | None = None, train_mode: bool = False
    ) -> torch.Tensor:
        """The mean loss of a task on (the given examples of) a split with the model's trainable
        parameters replaced by ``at`` (``torch.func.functional_call``): the model's weights are not
        written, and gradients flow to whatever ``at`` was computed from (alpha-VIL's alphas).
        Eval mode (no dropout) unless ``train_mode``."""
        idx = list(range(len(self.pool.split(task, split)))) if indices is None else list(indices)
        out = self.forward(task, self.batch(task, split, idx), at=at, train_mode=train_mode)
        self.ledger.count(forward=len(idx), backward=len(idx))
        return out.losses.float().mean()

    # ---- the epoch loop -------------------------------------------------------------------------

    def fit(self) -> dict[str, Any]:
        self.controller.on_train_start(self)
        main = self.pool.specs[self.primary].main_metric
        for epoch in range(self.start_epoch, self.epochs):
            torch.manual_seed(self.cfg.seed * 100_003 + epoch)  # dropout: a function of (seed, epoch)
            for b in self.batches.values():
                b.reset(epoch)
            self.controller.on_epoch_start(self, epoch)
            train_loss = self.controller.train_epoch(self, epoch)
            row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss}
            metrics = {}
            for split in self.eval_splits:
                for task, vals in self.evaluate(split).items():
                    metrics.setdefault(split, {})[task] = vals
                    for m, v in vals.items():
                        row[f"{split}/{task}/{m}"] = v
            self.history.append(row)
            for listener in self.epoch_listeners:
                listener(row)
            dev = metrics.get(self.best_split, {}).get(self.primary, {})
            if dev and better(main, dev[main], None if self.best is None else self.best["score"]):
                self.best = {
                    "epoch": epoch + 1,
                    "score": dev[main],
                    "splits": {s: v[self.primary] for s, v in metrics.items() if self.primary in v},
                }
                self.best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()
                }
                self.best_predictions = {
                    s: list(p[self.primary]) for s, p in self.last_predictions.items() if self.primary in p
                }
            self.start_epoch = epoch + 1
            self.controller.on_epoch_end(self, epoch, metrics)
            record = self.controller.epoch_record(self, epoch)
            if record:
                self.decisions.append(record)
                for name, per_task in record.items():
                    row.update({f"{name}/{t}": v for t, v in per_task.items()})
            self.save_checkpoint()
        self._close_feeders()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        best = self.best or {"epoch": None, "splits": {}}
        return {"best": best["splits"], "best_epoch": best["epoch"], "history": self.history}

    def metrics_csv(self) -> str:
        keys: list[str] = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(self.history)
        return buf.getvalue()

    # ---- checkpoints ----------------------------------------------------------------------------

    def _ckpt_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints" / f"{self.stage}.pt"

    def checkpoint_state(self) -> dict[str, Any]:
        """What an epoch-boundary resume needs (batch orders and dropout are functions of the epoch,
        so positions and RNG are not saved): snapshot, epoch, history, best, weights, the
        controller's decisions and state."""
        state = self.snapshot()
        state.update(
            epoch=self.start_epoch,
            history=self.history,
            best=self.best,
            best_state=self.best_state,
            best_predictions=self.best_predictions,
            weights=self.weights,
            decisions=self.decisions,
            controller=self.controller.state_dict(),
        )
        return state

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        self.restore(state)
        self.start_epoch = state["epoch"]
        self.history, self.best, self.best_state = state["history"], state["best"], state["best_state"]
        self.best_predictions = state.get("best_predictions", {})
        self.weights = state["weights"]
        self.decisions = state.get("decisions", [])
        self.controller.load_state_dict(state["controller"])

    def save_checkpoint(self) -> None:
        """After each epoch: the run's metrics.csv so far and, unless disabled, the checkpoint."""
        path = self._ckpt_path()
        if path is None or not distributed.is_main():
            return
        if self.stage == "train":
            write_text_atomic(self.run_dir / "metrics.csv", self.metrics_csv())
        if not self.cfg.train.checkpoint:
            return
        state = self.checkpoint_state()
        state["ledger"] = self.ledger.state_dict()
        state["precision"] = self.precision.state_dict()
        self.ledger.count(bytes_written=torch_save_atomic(state, path))

    def load_checkpoint(self) -> bool:
        path = self._ckpt_path()
        if path is None:
            return False
        state = read_or_set_aside(  # a checkpoint cut short: this stage starts again from its first epoch
            path,
            lambda p: torch.load(p, map_location=self.device, weights_only=False),
            f"the {self.stage} stage starts again from epoch 1",
        )
        if state is None:
            return False
        self.load_checkpoint_state(state)
        self.ledger.load_state_dict(state["ledger"])
        self.precision.load_state_dict(state.get("precision"))
        return True

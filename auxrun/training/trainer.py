"""MTLTrainer: one task per mini-batch over a shared encoder, scheduled from a Selection.

It knows nothing of methods: it reads the Selection (tasks, ratios, instance subsets, weights)
and exposes the hooks controllers need (DESIGN.md "Controller"). Runs are deterministic for a
seed on CPU: batch orders and dropout seeds are functions of (seed, epoch), so a run resumed from
its epoch checkpoint continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import random
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from auxrun.config import RunConfig
from auxrun.data.features import EncodedSplit, collate
from auxrun.data.pool import TaskPool
from auxrun.eval.metrics import better, compute_metrics
from auxrun.io import torch_save_atomic, write_text_atomic
from auxrun.models.mtl import MultiTaskModel
from auxrun.selection import Selection
from auxrun.training.controller import Controller
from auxrun.training.cost import CostLedger
from auxrun.training.schedule import epoch_schedule


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class TaskBatches:
    """Endless shuffled mini-batches of one task's (possibly subset) training examples.

    The order of pass p in epoch e is a function of (seed, task, e, p), so the position
    (epoch, pass, offset) is the whole state: ``state_dict`` / ``load_state_dict`` resume it exactly.
    """

    def __init__(self, split: EncodedSplit, indices: list[int], batch_size: int, seed: int):
        self.split, self.indices, self.batch_size, self.seed = split, indices, batch_size, seed
        self.epoch, self.passes, self.offset = 0, 0, 0
        self._order: list[int] | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def reset(self, epoch: int) -> None:
        self.epoch, self.passes, self.offset, self._order = epoch, 0, 0, None

    def _current_order(self) -> list[int]:
        if self._order is None:
            self._order = list(self.indices)
            random.Random(f"{self.seed}-{self.split.task}-{self.epoch}-{self.passes}").shuffle(self._order)
        return self._order

    def next(self) -> list[int]:
        if self.offset >= len(self.indices):
            self.passes, self.offset, self._order = self.passes + 1, 0, None
        batch = self._current_order()[self.offset : self.offset + self.batch_size]
        self.offset += self.batch_size
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "passes": self.passes, "offset": self.offset}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.passes, self.offset, self._order = (
            state["epoch"],
            state["passes"],
            state["offset"],
            None,
        )


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
        self.device = pick_device(cfg.hardware.device)
        self.model.to(self.device)
        self.pad_id = pool.tokenizer.pad_token_id if pool.tokenizer.pad_token_id is not None else 0
        self.weights = {t: float(selection.weights.get(t, 1.0)) for t in self.tasks}
        self.batches = {
            t: TaskBatches(
                pool.split(t, "train"),
                list(selection.instance_indices.get(t, range(len(pool.split(t, "train"))))),
                cfg.train.batch_size,
                cfg.seed,
            )
            for t in self.tasks
        }
        self.batches = {t: b for t, b in self.batches.items() if len(b.indices) > 0}
        self.schedule_kind = (
            "ratio" if (selection.ratios and cfg.train.schedule == "auto") else cfg.train.schedule
        )
        lr = cfg.train.lr if cfg.train.lr is not None else cfg.backbone.lr
        no_decay = ("bias", "LayerNorm.weight", "layer_norm", "norm.weight")
        groups = [
            {
                "params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
                "weight_decay": cfg.train.weight_decay,
            },
            {
                "params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
                "weight_decay": 0.0,
            },
        ]
        self.optimizer = torch.optim.AdamW(groups, lr=lr)
        total = max(1, self.epochs * len(self.epoch_tasks(0)))
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(cfg.train.warmup_ratio * total), total
        )
        self.history: list[dict[str, Any]] = []
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
        n = {t: len(b) for t, b in self.batches.items()}
        return epoch_schedule(
            self.schedule_kind, n, self.selection.ratios, self.primary, self.cfg.seed, epoch
        )

    def _autocast(self):
        hw = self.cfg.hardware
        if self.device.type == "cuda" and hw.precision in ("bf16", "fp16"):
            dtype = (
                torch.bfloat16 if hw.precision == "bf16" and torch.cuda.is_bf16_supported() else torch.float16
            )
            return torch.autocast("cuda", dtype=dtype)
        return nullcontext()

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    # ---- hooks for controllers ------------------------------------------------------------------

    def train_batches(self, task: str, k: int = 1) -> float:
        """Train k mini-batches of one task from the current state; the mean loss."""
        self.model.train()
        spec = self.pool.specs[task]
        total = 0.0
        for _ in range(k):
            idx = self.batches[task].next()
            batch = self._to_device(collate(self.batches[task].split, idx, spec.objective, self.pad_id))
            with self._autocast():
                out = self.model(task, batch)
            loss = out.losses.mean() * self.weights.get(task, 1.0)
            loss.backward()
            if self.cfg.train.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.max_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.ledger.count(forward=len(idx), backward=len(idx))
            self.step += 1
            total += float(loss.detach())
        return total / max(k, 1)

    def snapshot(self) -> dict[str, Any]:
        """Everything training changes: weights, optimizer and scheduler states, step."""
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
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.restore(state)
        for t, b in state["batches"].items():
            self.batches[t].load_state_dict(b)
        self.weights = dict(state["weights"])
        torch.set_rng_state(state["torch_rng"])

    def restore(self, snap: dict[str, Any]) -> None:
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
            batch = self._to_device(collate(data, idx, spec.objective, self.pad_id))
            with self._autocast():
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
        if spec.objective == "regression":
            return float(logits)
        if spec.objective == "sequence_labeling":
            ids = logits.argmax(-1).tolist()
            tags = [spec.labels[ids[p]] for p in data.word_starts[ex]]
            n_words = len(data.gold[ex]) if data.gold[ex] is not None else len(tags)
            return tags + [spec.labels[0]] * (n_words - len(tags))  # truncated words: outside tag
        return int(logits.argmax(-1))

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

    # ---- the epoch loop -------------------------------------------------------------------------

    def fit(self) -> dict[str, Any]:
        self.controller.on_train_start(self)
        main = self.pool.specs[self.primary].main_metric
        for epoch in range(self.start_epoch, self.epochs):
            torch.manual_seed(self.cfg.seed * 100_003 + epoch)  # dropout: a function of (seed, epoch)
            for b in self.batches.values():
                b.reset(epoch)
            self.controller.on_epoch_start(self, epoch)
            schedule = self.epoch_tasks(epoch)
            bar = tqdm(
                schedule, desc=f"{self.stage} epoch {epoch + 1}/{self.epochs}", disable=not self.progress
            )
            losses = []
            for step, scheduled in enumerate(bar):
                task = self.controller.choose_task(self, step, scheduled)
                losses.append(self.train_batches(task, 1))
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
            row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": sum(losses) / max(1, len(losses))}
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
            self.controller.on_epoch_end(self, epoch, metrics)
            self.start_epoch = epoch + 1
            self.save_checkpoint()
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

    def save_checkpoint(self) -> None:
        """After each epoch: the run's metrics.csv so far and, unless disabled, the checkpoint."""
        path = self._ckpt_path()
        if path is None:
            return
        if self.stage == "train":
            write_text_atomic(self.run_dir / "metrics.csv", self.metrics_csv())
        if not self.cfg.train.checkpoint:
            return
        state = self.snapshot()
        state.update(
            epoch=self.start_epoch,
            history=self.history,
            best=self.best,
            best_state=self.best_state,
            best_predictions=self.best_predictions,
            weights=self.weights,
            controller=self.controller.state_dict(),
            ledger=self.ledger.state_dict(),
        )
        self.ledger.count(bytes_written=torch_save_atomic(state, path))

    def load_checkpoint(self) -> bool:
        path = self._ckpt_path()
        if path is None or not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.restore(state)
        self.start_epoch = state["epoch"]
        self.history, self.best, self.best_state = state["history"], state["best"], state["best_state"]
        self.best_predictions = state.get("best_predictions", {})
        self.weights = state["weights"]
        self.controller.load_state_dict(state["controller"])
        self.ledger.load_state_dict(state["ledger"])
        return True

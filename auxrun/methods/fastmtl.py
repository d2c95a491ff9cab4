"""FastMTL similarity sampling (Kung, Chen, Yin, Yang and Chen 2021, "Efficient Multi-Task Auxiliary
Learning: Selecting Auxiliary Data by Feature Similarity", EMNLP; sections 3-4, Appendix A).

Stage 1, TD-MTDNN (3.2): a fresh model learns, multi-task, the primary and every auxiliary on 500
random training examples of each (min(500, |D_p|) for the primary, 5.2) plus a task discriminator
with N+1 outputs on the same examples (BCE as multi-label or exclusive CE, 4.2; BCE the default).
Every auxiliary training example not used in stage 1 is scored by the discriminator's output for
the primary (sigmoid for BCE, softmax probability for CE) and the top ``n_samples`` over the union
of auxiliaries are kept. Stage 2, TO-MTDNN (3.3): MTL on all primary data plus the kept examples
(``train.epochs``, 3; its last epoch), then stage 3: fine-tuning on the primary alone
(``train.finetune_primary_epochs``, 5; the best dev epoch is reported), both in auxrun/run.py.
``method=random_sampling`` (auxrun/methods/random_sampling.py) draws N from the same unused pool.

Departures from the paper, and choices where it is silent:
- The discriminator is a head like the tasks' (dropout, then linear, or the MLP of ``train.head``)
  on the first token's last hidden state; 4.2 says "a linear layer ... for a task-discriminator".
- Stage 1's losses: on each mini-batch of task t (MT-DNN's one task per batch, size-proportional),
  the task's own loss plus the discriminator's loss with target t, from one forward pass, unweighted
  (the paper does not say how the two combine). ``td_multitask: false`` keeps only the
  discriminator's loss (the Figure 9 ablation, "TD-MTDNN w/o MTL").
- BCE's per-example loss is the mean over the N+1 outputs (torch's BCEWithLogitsLoss "mean").
- Few-shot primary (5.2, "the weighted loss to balance the ratio between tasks", no formula): when
  the primary has fewer than ``td_examples`` training examples, its mini-batch losses are weighted
  by td_examples / |D_p|, so it weighs in stage 1 as a task of td_examples examples would.
- Optimiser: the trainer's AdamW (weight decay ``train.weight_decay``, linear warm-up and decay),
  not plain Adam; lr and batch size are ``train.lr`` / ``train.batch_size`` (the backbone's 2e-5 and
  32 on BERT, as Appendix A).
- Stage 1 samples from train minus select_dev (the 10% auxrun holds out for methods' decisions);
  the trainer scores select_dev after each stage-1 epoch, which nothing reads (last epoch is kept).
- Ranking ties (equal fp32 scores) go to the task earlier in the pool, then the lower index, so the
  top N is a deterministic function of the scores. N larger than the unused pool keeps all of it.
- Multiple-choice examples are discriminated by their first choice's sequence.
- Stage 3 starts from stage 2's last-epoch weights with a fresh optimizer (Appendix A: TO-MTDNN's
  last epoch); the paper's stage 2 uses the fine-tuning's dev set only in stage 3, as here.

Outputs: ``selection.json`` records ``scores`` (each auxiliary's mean discriminator score for the
primary over its scored examples), N, the kept count, each task's share of the kept examples and
what random sampling would take in expectation (Figure 6, also ``figures/fastmtl_sample_share.png``),
the stage-1 sizes and ``instance_files``: per auxiliary, the kept indices and every scored
(unused) example's index and score as .npy files beside it. The cost ledger has
``select/td_mtdnn`` (stage 1 training), ``select/ranking``, ``train`` (stage 2) and ``finetune``.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from auxrun.config import MethodConfig, RunConfig
from auxrun.data.spec import TaskSpec
from auxrun.errors import ConfigError
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.models.mtl import MultiTaskModel, TaskHead, TaskOutput
from auxrun.objectives.task_discrimination import LOSSES, TaskDiscrimination
from auxrun.selection import Selection

if TYPE_CHECKING:
    from auxrun.training.controller import TrainerHooks

log = logging.getLogger("auxrun")

DISCRIMINATOR = "task_discriminator"


@dataclass
class SamplingConfig(MethodConfig):
    name: str = "sampling"
    n_samples: int = 10000  # N: auxiliary examples kept (4.2 sweeps 500..512k; Table 3 / Figure 6 use 10k)
    td_examples: int = 500  # 3.2: stage-1 examples per task; excluded from the pool N is drawn from
    figures: bool = True


@dataclass
class FastMTLConfig(SamplingConfig):
    name: str = "fastmtl"
    td_epochs: int = 5  # Appendix A: stage 1 trains 5 epochs and keeps the last
    discriminator_loss: str = "bce"  # 4.2: bce (multi-label, the better one) | ce (exclusive)
    td_multitask: bool = True  # false: the discriminator alone (Figure 9, "TD-MTDNN w/o MTL")


def stage1_subsets(sizes: dict[str, int], k: int, seed: int) -> dict[str, list[int]]:
    """Per task, min(k, n) training indices drawn without replacement (3.2: 500 of each task), sorted.
    A function of (task, n, k, seed) only, so fastmtl and random_sampling exclude the same examples."""
    return {
        t: sorted(random.Random(f"{seed}-fastmtl-stage1-{t}-{n}").sample(range(n), min(k, n)))
        for t, n in sizes.items()
    }


def unused_indices(n: int, used: list[int]) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    mask[np.asarray(used, dtype=np.int64)] = False
    return np.flatnonzero(mask)


def top_n(scored: dict[str, tuple[np.ndarray, np.ndarray]], order: list[str], n: int) -> dict[str, list[int]]:
    """The n best (task, index) pairs by score over the union of tasks, highest first; ties go to the
    task earlier in ``order``, then to the lower index. Returns each task's kept indices, sorted."""
    tasks = [t for t in order if t in scored]
    if not tasks:
        return {}
    idx = np.concatenate([np.asarray(scored[t][0], dtype=np.int64) for t in tasks])
    sc = np.concatenate([np.asarray(scored[t][1], dtype=np.float32) for t in tasks])
    pos = np.concatenate([np.full(len(scored[t][0]), i, dtype=np.int64) for i, t in enumerate(tasks)])
    best = np.lexsort((idx, pos, -sc.astype(np.float64)))[: max(0, n)]  # last key sorts first
    return {t: sorted(idx[best][pos[best] == i].tolist()) for i, t in enumerate(tasks)}


def shares(kept: dict[str, list[int]], tasks: list[str]) -> dict[str, float]:
    total = sum(len(kept.get(t, [])) for t in tasks)
    return {t: round(len(kept.get(t, [])) / total, 4) if total else 0.0 for t in tasks}


class TaskDiscriminativeModel(nn.Module):
    """TD-MTDNN: the multi-task model plus a task-discriminator head on the same encoder. ``forward``
    returns the task head's logits and, per example, the discriminator's loss (target: the batch's
    task) plus, when ``multitask``, the task's own loss."""

    def __init__(
        self, mtl: MultiTaskModel, tasks: list[str], discriminator: TaskHead, multitask: bool = True
    ):
        super().__init__()
        self.mtl, self.discriminator, self.multitask = mtl, discriminator, multitask
        self.task_ids = {t: i for i, t in enumerate(tasks)}

    @property
    def encoder(self) -> nn.Module:
        """The shared encoder (what ``hardware.compile`` compiles; not registered twice)."""
        return self.mtl.encoder

    @property
    def objective(self) -> TaskDiscrimination:
        return self.discriminator.objective  # type: ignore[return-value]

    def discriminate(self, hidden: torch.Tensor, n_choices: int | None) -> torch.Tensor:
        """[B, N+1] discriminator logits; a multiple-choice example by its first choice's sequence."""
        if n_choices is not None:
            hidden = hidden.view(-1, n_choices, *hidden.shape[1:])[:, 0]
        return self.discriminator(hidden)

    def forward(self, task: str, batch: dict[str, torch.Tensor]) -> TaskOutput:
        hidden, n_choices = self.mtl.encode(batch)
        head = self.mtl.heads[task]
        logits = head(hidden, n_choices)
        d_logits = self.discriminate(hidden, n_choices)
        target = torch.full((d_logits.shape[0],), self.task_ids[task], device=d_logits.device)
        losses = self.discriminator.per_example_loss(d_logits, target)
        labels = batch.get("labels")
        if self.multitask and labels is not None:
            losses = losses + head.per_example_loss(logits, labels)
        return TaskOutput(logits, losses)

    @torch.inference_mode()
    def task_scores(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, N+1] similarity of each example to each task (sigmoid or softmax of the logits)."""
        hidden, n_choices = self.mtl.encode(batch)
        return self.objective.scores(self.discriminate(hidden, n_choices))


class SamplingMethod(Method):
    """What fastmtl and random_sampling share: the stage-1 subsets, the unused pool, the Selection."""

    cfg: SamplingConfig

    @classmethod
    def validate_config(cls, cfg: RunConfig, specs) -> None:
        m = cfg.method
        for key in ("n_samples", "td_examples", "td_epochs"):
            v = getattr(m, key, None)
            if v is not None and v < 1:
                raise ConfigError(f"method.{key}={v} is out of range; allowed: [1, inf]")
        loss = getattr(m, "discriminator_loss", None)
        if loss is not None and loss not in LOSSES:
            raise ConfigError(f"method.discriminator_loss='{loss}' is not one of {list(LOSSES)}")

    def subsets(self) -> dict[str, list[int]]:
        pool = self.ctx.pool
        sizes = {t: len(pool.split(t, "train")) for t in pool.tasks}
        return stage1_subsets(sizes, self.cfg.td_examples, self.ctx.cfg.seed)

    def unused_pool(self, subsets: dict[str, list[int]]) -> dict[str, np.ndarray]:
        pool = self.ctx.pool
        return {t: unused_indices(len(pool.split(t, "train")), subsets[t]) for t in pool.auxiliaries}

    def sampled_selection(
        self,
        kept: dict[str, list[int]],
        unused: dict[str, np.ndarray],
        subsets: dict[str, list[int]],
        scores: dict[str, float],
        scored: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Selection:
        """The Selection of ``kept``; ``scores``: the method's score of each auxiliary, higher = more
        useful (what the report ranks the candidates by)."""
        pool = self.ctx.pool
        aux = pool.auxiliaries
        selected = [t for t in aux if kept.get(t)]
        n_unused = sum(len(unused[t]) for t in aux)
        n_kept = sum(len(kept.get(t, [])) for t in aux)
        if self.cfg.n_samples > n_unused:
            log.info(
                "%s: n_samples=%d > %d unused auxiliary examples: all kept",
                self.name,
                self.cfg.n_samples,
                n_unused,
            )
        record = {
            "n_samples": self.cfg.n_samples,
            "n_kept": n_kept,
            "n_unused": n_unused,
            "stage1_examples": {t: len(subsets[t]) for t in pool.tasks},
            "share": shares(kept, aux),  # Figure 6: each task's part of the kept examples
            "share_random_expected": {
                t: round(len(unused[t]) / n_unused, 4) if n_unused else 0.0 for t in aux
            },
            "fraction_of_task": {t: round(len(kept.get(t, [])) / max(1, len(unused[t])), 4) for t in aux},
            **(extra or {}),
        }
        if self.cfg.figures:
            from auxrun.reporting.fastmtl_figures import write_share_figure

            record["figures"] = [
                write_share_figure(
                    self.ctx.run_dir, self.name, record["share"], record["share_random_expected"]
                )
            ]
        scored = scored or {}
        return self.selection(
            selected,
            scores=scores,
            instance_indices={t: kept[t] for t in selected},
            scored_indices={t: s[0] for t, s in scored.items()},
            instance_scores={t: s[1] for t, s in scored.items()},
            extra=record,
        )


@register("fastmtl", FastMTLConfig)
class FastMTL(SamplingMethod):
    cfg: FastMTLConfig

    def td_model(self) -> TaskDiscriminativeModel:
        ctx, cfg = self.ctx, self.ctx.cfg
        tasks = ctx.pool.tasks  # the discriminator's classes, in pool order
        mtl = ctx.new_model(tasks)
        spec = TaskSpec(name=DISCRIMINATOR, objective=TaskDiscrimination.name, labels=list(tasks))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 2)
            head = TaskHead(
                spec,
                mtl.encoder.config.hidden_size,
                cfg.train.dropout,
                cfg.train.head,
                cfg.train.head_hidden,
                objective=TaskDiscrimination(self.cfg.discriminator_loss),
            )
        return TaskDiscriminativeModel(mtl, tasks, head, self.cfg.td_multitask)

    def train_td(self, subsets: dict[str, list[int]]) -> tuple[TaskDiscriminativeModel, TrainerHooks]:
        """Stage 1: TD-MTDNN on the subsets, ``td_epochs`` epochs, last epoch kept."""
        ctx = self.ctx
        pool = ctx.pool
        n_p = len(subsets[pool.primary])
        weights = {pool.primary: self.cfg.td_examples / n_p} if 0 < n_p < self.cfg.td_examples else {}
        sel = Selection(
            method=self.name,
            primary=pool.primary,
            candidates=pool.auxiliaries,
            selected_tasks=pool.auxiliaries,
            instance_indices=subsets,
            weights=weights,
        )
        model = self.td_model()
        trainer = ctx.new_trainer(
            sel,
            "td_mtdnn",
            epochs=self.cfg.td_epochs,
            eval_splits=["select_dev"],
            best_split="select_dev",
            progress=not ctx.cfg.quiet,
            model=model,
        )
        trainer.fit()
        return model, trainer

    def score(
        self, model: TaskDiscriminativeModel, trainer: TrainerHooks, unused: dict[str, np.ndarray]
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each unused auxiliary example's discriminator score for the primary, fp32."""
        pool, ctx = self.ctx.pool, self.ctx
        primary = model.task_ids[pool.primary]
        bs = ctx.cfg.train.eval_batch_size
        model.eval()
        out = {}
        for task, idx in unused.items():
            split = pool.split(task, "train")
            lengths = split.lengths()
            order = sorted(idx.tolist(), key=lambda i: (lengths[i], i))  # length-sorted: less padding
            scores = np.zeros(len(split), dtype=np.float32)
            for s in range(0, len(order), bs):
                chunk = order[s : s + bs]
                batch = trainer.batch(task, "train", chunk)
                with trainer.autocast():  # the trainer's precision
                    sc = model.task_scores(batch)[:, primary]
                scores[chunk] = sc.float().cpu().numpy()
                ctx.ledger.count(forward=len(chunk))
            out[task] = (idx, scores[idx])
        return out

    def select(self) -> Selection:
        ledger = self.ctx.ledger
        subsets = self.subsets()
        unused = self.unused_pool(subsets)
        with ledger.stage("select/td_mtdnn"):
            model, trainer = self.train_td(subsets)
        with ledger.stage("select/ranking"):
            scored = self.score(model, trainer, unused)
            kept = top_n(scored, self.ctx.pool.auxiliaries, self.cfg.n_samples)
        # each auxiliary's mean discriminator score for the primary (its similarity to the primary)
        mean = {t: float(s.astype(np.float64).mean()) for t, (_, s) in scored.items() if len(s)}
        extra = {
            "discriminator_loss": self.cfg.discriminator_loss,
            "td_multitask": self.cfg.td_multitask,
            "td_epochs": self.cfg.td_epochs,
        }
        return self.sampled_selection(kept, unused, subsets, mean, scored, extra)

"""GradTS (Ma et al., 2021, "GradTS: A Gradient-Based Automatic Auxiliary Task Selection Method
Based on Transformer Networks"): gradts_thres, gradts_trial and gradts_fg.

Section 3.1, per task: fine-tune the backbone on the task for ``warmup_epochs`` (3), then pass over
its training set with gradients but no updates and accumulate, per head, the absolute gradient of
the loss w.r.t. the head's gate (Michel et al., 2019); normalise layer-wise and scale to [0, 1].
Section 3.2: rank candidates by Kendall's tau between the primary's flattened matrix and theirs.
Section 3.3 / Appendix B: ``gradts_thres`` keeps tau >= 0.47; ``gradts_trial`` adds tasks in rank
order, one MTL trial per prefix on select_dev, and stops at the first drop (auxrun/methods/greedy.py,
shared with the HEU baselines; ``method.trial_rule=significant`` and ``trial_seeds`` are auxrun's);
``gradts_fg`` starts from the trial selection and keeps the auxiliary instances whose normalised
head-gradient matrix has tau >= 0.42 to the primary's matrix.

Departures from the paper and its code, all deliberate:
- Per-instance gradients come from per-example gates, one backward pass per length-bucketed batch,
  with weight gradients off (auxrun/importance/head_importance.py); the paper's code loops over
  examples. Same numbers (tested), several times cheaper (bench/head_importance.py).
- The importance pass runs in eval mode (no dropout), so a task's matrix is a deterministic function
  of the fine-tuned weights; the paper's "repeat the fine-tuning step" does not say.
- fg's "re-run ... on all the individual tasks once" is the same pass as 3.1's step 2: both need the
  task's fine-tuned model and the per-example gradients over its training set. auxrun computes the
  task matrix and every instance's matrix in that one pass and caches both, so fg costs no extra
  gradient pass (the paper's Table 10 charges it one).
- fg compares each instance's matrix to the primary's task matrix (what the issue and the paper's
  goal, instances correlated with the primary, call for); the paper's sentence can also be read as
  "to the head ranking matrix of each candidate auxiliary task".
- The layer-wise normalisation is Michel et al.'s l2 norm per layer (the paper does not say which;
  ``layer_norm`` chooses l2 | l1 | max | none). Tau only sees ranks, so this is the only part of
  the normalisation that changes a selection.
- The paper's protocol selects on 10% of train (select_dev, seed 42); the warm-up and the
  importance pass use the rest of train. The fine-tuned probe's encoder is cached beside the
  matrices (``finetuned_encoder``): LogME (auxrun/methods/logme.py) reads its features from it.
- fg's per-instance matrices are cached in fp16, each scaled to a largest entry of 1 (a scale the
  normalisation removes); fp16 rounding can tie or swap near-equal heads of one instance, so an
  instance's tau may move by a few thousandths against fp32 (tests/test_gradts.py bounds it). The
  kept indices and every instance's tau go to ``selection_instances/*.npy`` beside selection.json.
- A constant matrix (no ranking) gets tau 0 rather than NaN. Trial ties go to the longer prefix
  (the paper stops only when the score decreases). The trials' own departures and choices are
  listed in auxrun/methods/greedy.py.
- Artifacts are cached by content (auxrun/cache.py): a task's matrices are computed once per
  (backbone, tokenizer, task data, seed, warm-up and training settings) and reused across primaries
  and task sets, GradTS's central efficiency claim (3, 4.4). Hits and misses go to the cost ledger.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from auxrun.cache import ArtifactCache, split_fingerprint, tokenizer_fingerprint
from auxrun.config import MethodConfig, RunConfig
from auxrun.errors import ConfigError
from auxrun.importance.correlation import correlation_matrix, kendall_tau, kendall_tau_b_many
from auxrun.importance.head_importance import LAYER_NORMS, head_gradients, normalize_importance
from auxrun.methods.base import Method
from auxrun.methods.greedy import GreedyResult, TrialConfig, run_trials, validate_trial_config
from auxrun.methods.registry import register
from auxrun.selection import Selection
from auxrun.training.hardware import fast_dropout_on

log = logging.getLogger("auxrun")

KIND = "head_importance"  # {"mean": [L, H] raw mean |grad|, "n": N, "probe_select_dev": score}
# [N, L, H] per training instance: raw |grad| divided by the instance's largest entry, in fp16 (fp32
# is ~226 MB for MNLI's 393k x 12 x 12). The scale changes nothing downstream: the layer rule removes
# each layer's scale and min-max the rest; fp16 keeps 3 significant digits, and only ranks are read.
KIND_INSTANCES = "head_importance_instances_fp16"
ALGORITHM = "abs-gate-grad/eval-mode/v1"  # bump when the computation changes: old entries miss
# The probe's fine-tuned encoder weights (last epoch), under the same key: what LogME
# (auxrun/methods/logme.py) reads features from, so the per-task fine-tuning runs once for both.
KIND_ENCODER = "finetuned_encoder"


def _probe_backward(art: dict[str, Any], warmup_epochs: int) -> int:
    """Back-propagations that computing a cached entry took: recorded in it, or for an entry written
    before they were, the probe's warm-up epochs over the task's training set plus its gradient pass
    over the same examples (``n``)."""
    if "examples_backward" in art:
        return int(art["examples_backward"])
    return (warmup_epochs + 1) * int(art.get("n", 0))


@dataclass
class GradTSConfig(MethodConfig):
    name: str = "gradts"
    warmup_epochs: int = 3  # paper 3.1: fine-tune 3 epochs before accumulating gradients
    importance_batch_size: int = 32  # batch of the gradient pass; does not change the result
    layer_norm: str = "l2"  # paper 3.1 step 4; Michel et al.'s per-layer l2 norm
    figures: bool = True  # head-importance heatmaps and the task-correlation matrix


@dataclass
class GradTSThresConfig(GradTSConfig):
    name: str = "gradts_thres"
    threshold: float = 0.47  # Appendix B: Kendall's tau tuned on RTE, MRPC, CoLA


@dataclass
class GradTSTrialConfig(GradTSConfig, TrialConfig):  # the trial keys: auxrun/methods/greedy.py
    name: str = "gradts_trial"


@dataclass
class GradTSFgConfig(GradTSTrialConfig):
    name: str = "gradts_fg"
    instance_threshold: float = 0.42  # 3.3 Instance-level: Kendall's tau tuned on RTE, MRPC, CoLA


@dataclass
class TaskImportance:
    task: str
    mean: np.ndarray  # [L, H] raw E_x |dL(x)/dxi_h|
    normalized: np.ndarray  # [L, H] in [0, 1] (normalize_importance)
    n_examples: int
    key: str
    cache: str  # "hit" | "miss"
    probe_select_dev: float | None = None


@dataclass
class Ranking:
    scores: dict[str, float]  # candidate -> tau to the primary
    ranked: list[str]  # candidates, highest tau first
    importance: dict[str, TaskImportance] = field(default_factory=dict)


class GradTSBase(Method):
    cfg: GradTSConfig

    @classmethod
    def validate_config(cls, cfg: RunConfig, specs) -> None:
        m = cfg.method
        if m.warmup_epochs < 0:
            raise ConfigError(f"method.warmup_epochs={m.warmup_epochs} is out of range; allowed: [0, inf]")
        if m.importance_batch_size < 1:
            raise ConfigError(
                f"method.importance_batch_size={m.importance_batch_size} is out of range; allowed: [1, inf]"
            )
        if m.layer_norm not in LAYER_NORMS:
            raise ConfigError(f"method.layer_norm='{m.layer_norm}' is not one of {list(LAYER_NORMS)}")
        for key in ("threshold", "instance_threshold"):
            v = getattr(m, key, None)
            if v is not None and not -1.0 <= v <= 1.0:
                raise ConfigError(f"method.{key}={v} is out of range; allowed: [-1, 1] (a Kendall's tau)")
        if isinstance(m, TrialConfig):
            validate_trial_config(m)

    def __init__(self, cfg: GradTSConfig, ctx):
        super().__init__(cfg, ctx)
        self.cache = ArtifactCache(ctx.cache_dir)
        self._tok_fp: str | None = None

    # ---- 3.1: head importance per task (cached) -------------------------------------------------

    def importance_inputs(self, task: str) -> dict[str, Any]:
        """Everything that determines a task's matrices: the cache key's inputs."""
        cfg, pool = self.ctx.cfg, self.ctx.pool
        if self._tok_fp is None:
            self._tok_fp = tokenizer_fingerprint(pool.tokenizer)
        spec = pool.specs[task]
        t = cfg.train
        train = {
            "batch_size": t.batch_size,
            "lr": t.lr if t.lr is not None else cfg.backbone.lr,
            "weight_decay": t.weight_decay,
            "warmup_ratio": t.warmup_ratio,
            "max_grad_norm": t.max_grad_norm,
            "dropout": t.dropout,
            "precision": cfg.hardware.precision,
        }
        if fast_dropout_on(cfg.hardware):  # other dropout masks, other fine-tuned probe (torch's: no key)
            train["dropout_masks"] = "auxrun-fast-v1"
        return {
            "algorithm": ALGORITHM,
            "backbone": asdict(cfg.backbone),
            "tokenizer": self._tok_fp,
            "task": task,
            "objective": spec.objective,
            "labels": list(spec.labels),
            "train_data": split_fingerprint(pool.split(task, "train")),
            "seed": cfg.seed,
            "warmup_epochs": self.cfg.warmup_epochs,
            "train": train,
        }

    def task_importance(self, task: str, need_instances: bool = False) -> TaskImportance:
        ledger = self.ctx.ledger
        inputs = self.importance_inputs(task)
        key = self.cache.key(KIND, inputs)
        with ledger.stage(f"select/head_importance/{task}"), self.cache.lock(KIND, key):
            # under the entry's lock: a concurrent job needing this task waits and then reuses it
            art = self.cache.load(KIND, key)
            if art is not None and need_instances and not self.cache.path(KIND_INSTANCES, key).is_file():
                art = None  # the instance matrices were pruned: recompute both in one pass
            status = "hit" if art is not None else "miss"
            if art is None:
                self.cache.path(KIND, key).unlink(missing_ok=True)  # the pair is published together
                self._compute(task, key, inputs)
                art = self.cache.load(KIND, key)  # what is on disk, also for the job that wrote it
            if status == "hit":  # what computing it cost, so the cost on an empty cache can be told
                ledger.count(backward_reused=_probe_backward(art, self.cfg.warmup_epochs))
            ledger.note(
                "select/head_importance",
                f"{task}: {'reused' if status == 'hit' else 'computed'} (cache key {key[:16]})",
            )
        mean = np.asarray(art["mean"])
        return TaskImportance(
            task=task,
            mean=mean,
            normalized=normalize_importance(mean, self.cfg.layer_norm),
            n_examples=int(art["n"]),
            key=key,
            cache=status,
            probe_select_dev=art.get("probe_select_dev"),
        )

    def _compute(self, task: str, key: str, inputs: dict[str, Any]) -> dict[str, Any]:
        ctx = self.ctx
        pool = ctx.pool
        stage = ctx.ledger.get(f"select/head_importance/{task}")  # open: the caller's stage
        backward_before = stage.examples_backward
        probe = Selection(method=self.name, primary=task, candidates=[], selected_tasks=[])
        model = ctx.new_model(probe.training_tasks)  # kept: 3.1 reads its gradients after the warm-up
        trainer = ctx.new_trainer(
            probe,
            stage=f"probe_{task}",
            epochs=self.cfg.warmup_epochs,
            eval_splits=["select_dev"],
            best_split="select_dev",
            progress=not ctx.cfg.quiet,
            model=model,
        )
        summary = trainer.fit()
        main = pool.specs[task].main_metric
        history = summary["history"]
        last = history[-1].get(f"select_dev/{task}/{main}") if history else None
        grads = head_gradients(
            model,  # the last epoch's weights: 3.1 accumulates after the warm-up
            task,
            pool.split(task, "train"),
            pool.specs[task].objective,
            ctx.pad_id,
            batch_size=self.cfg.importance_batch_size,
            per_example=True,
            device=trainer.device,
            on_batch=lambda n: ctx.ledger.count(forward=n, backward=n),
        )
        art = {
            "mean": grads.mean,
            "n": grads.n_examples,
            "probe_select_dev": last,
            "examples_backward": stage.examples_backward - backward_before,  # a hit's saving
        }
        encoder = {k: v.detach().cpu() for k, v in model.encoder.state_dict().items()}
        path = self.cache.save(KIND_ENCODER, key, encoder, inputs)  # first writer wins, as below
        ctx.ledger.count(bytes_written=path.stat().st_size)
        path = self.cache.save(KIND_INSTANCES, key, instances_fp16(grads.per_example), inputs)
        ctx.ledger.count(bytes_written=path.stat().st_size)
        self.cache.save(KIND, key, art, inputs)  # last: a hit implies the instance file is there
        return art

    def finetuned_encoder(self, task: str) -> tuple[dict[str, Any], str]:
        """(the encoder's state dict after the probe's fine-tuning on ``task``, "hit" | "miss"):
        3.1's fine-tuning, cached with the head matrices. A miss (never computed, or computed
        before the encoder was kept) runs the whole probe once, publishing what was absent."""
        inputs = self.importance_inputs(task)
        key = self.cache.key(KIND, inputs)
        state = self.cache.load(KIND_ENCODER, key)
        if state is not None:
            self._count_reused(task, key)
            return state, "hit"
        with self.ctx.ledger.stage(f"select/head_importance/{task}"), self.cache.lock(KIND, key):
            state = self.cache.load(KIND_ENCODER, key)
            if state is not None:
                self._count_reused(task, key)
                return state, "hit"
            self.cache.path(KIND_ENCODER, key).unlink(missing_ok=True)
            self._compute(task, key, inputs)
        return self.cache.load(KIND_ENCODER, key), "miss"

    def _count_reused(self, task: str, key: str) -> None:
        """A reused fine-tuning: its back-propagations go to the ledger as saved by the cache."""
        art = self.cache.load(KIND, key) or {}
        with self.ctx.ledger.stage(f"select/head_importance/{task}"):
            self.ctx.ledger.count(backward_reused=_probe_backward(art, self.cfg.warmup_epochs))

    def instance_matrices(self, imp: TaskImportance) -> np.ndarray:
        """[N, L, H] normalised per-instance matrices (3.3 Instance-level), from the cache."""
        raw = self.cache.load(KIND_INSTANCES, imp.key)
        if raw is None:  # removed since task_importance: recompute
            self.cache.path(KIND, imp.key).unlink(missing_ok=True)
            imp = self.task_importance(imp.task, need_instances=True)
            raw = self.cache.load(KIND_INSTANCES, imp.key)
        return normalize_importance(np.asarray(raw, dtype=np.float32), self.cfg.layer_norm)

    # ---- 3.2: rank candidates by Kendall's tau ---------------------------------------------------

    def rank(self, need_instances: bool = False) -> Ranking:
        pool = self.ctx.pool
        with self.ctx.ledger.stage("select/head_importance"):
            importance = {
                t: self.task_importance(t, need_instances and t != pool.primary) for t in pool.tasks
            }
        primary = importance[pool.primary].normalized
        scores = {t: kendall_tau(primary, importance[t].normalized) for t in pool.auxiliaries}
        order = {t: i for i, t in enumerate(pool.auxiliaries)}
        ranked = sorted(pool.auxiliaries, key=lambda t: (-scores[t], order[t]))
        return Ranking(scores=scores, ranked=ranked, importance=importance)

    def base_extra(self, ranking: Ranking) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "ranking": ranking.ranked,
            "layer_norm": self.cfg.layer_norm,
            "warmup_epochs": self.cfg.warmup_epochs,
            "head_importance": {
                t: {
                    "cache": imp.cache,
                    "key": imp.key,
                    "n_examples": imp.n_examples,
                    "probe_select_dev": imp.probe_select_dev,
                    "matrix": np.round(imp.normalized, 4).tolist(),
                }
                for t, imp in ranking.importance.items()
            },
        }
        if self.cfg.figures:
            extra["figures"] = self.figures(ranking)
        return extra

    def figures(self, ranking: Ranking) -> list[str]:
        from auxrun.reporting.gradts_figures import write_gradts_figures

        matrices = {t: imp.normalized for t, imp in ranking.importance.items()}
        names, taus = correlation_matrix(matrices)
        return write_gradts_figures(self.ctx.run_dir, matrices, names, taus)

    # ---- 3.3: trials ---------------------------------------------------------------------------

    def trials(self, ranking: Ranking) -> tuple[GreedyResult, dict[str, Any]]:
        """The greedy trials over the ranking and their selection.json records (greedy.py)."""
        return run_trials(self, ranking.ranked)


@register("gradts_thres", GradTSThresConfig)
class GradTSThres(GradTSBase):
    cfg: GradTSThresConfig

    def select(self) -> Selection:
        ranking = self.rank()
        selected = [t for t in ranking.ranked if ranking.scores[t] >= self.cfg.threshold]
        extra = {"threshold": self.cfg.threshold, **self.base_extra(ranking)}
        return self.selection(selected, scores=ranking.scores, extra=extra)


@register("gradts_trial", GradTSTrialConfig)
class GradTSTrial(GradTSBase):
    cfg: GradTSTrialConfig

    def select(self) -> Selection:
        ranking = self.rank()
        result, records = self.trials(ranking)
        extra = {**records, **self.base_extra(ranking)}
        return self.selection(result.selected, scores=ranking.scores, extra=extra)


def instances_fp16(per_example: np.ndarray) -> np.ndarray:
    """[N, L, H] per-instance matrices scaled to a largest entry of 1 each, as fp16 (KIND_INSTANCES)."""
    m = np.asarray(per_example, dtype=np.float32)
    peak = m.max(axis=(-2, -1), keepdims=True)
    return (m / np.where(peak > 0, peak, 1.0)).astype(np.float16)


def filter_instances(taus: np.ndarray, threshold: float) -> list[int]:
    """Indices of the instances whose tau to the primary is at or above the threshold (3.3)."""
    return [int(i) for i in np.flatnonzero(np.asarray(taus) >= threshold)]


@register("gradts_fg", GradTSFgConfig)
class GradTSFg(GradTSBase):
    cfg: GradTSFgConfig

    def select(self) -> Selection:
        ranking = self.rank(need_instances=True)
        result, records = self.trials(ranking)
        primary = ranking.importance[self.ctx.pool.primary].normalized
        kept: dict[str, list[int]] = {}
        taus_of: dict[str, np.ndarray] = {}
        summary: dict[str, dict[str, Any]] = {}
        with self.ctx.ledger.stage("select/instances"):
            for task in result.selected:
                taus = kendall_tau_b_many(self.instance_matrices(ranking.importance[task]), primary)
                taus_of[task] = np.asarray(taus, dtype=np.float32)
                kept[task] = filter_instances(taus, self.cfg.instance_threshold)
                summary[task] = {
                    "kept": len(kept[task]),
                    "total": len(taus),
                    "fraction": round(len(kept[task]) / max(1, len(taus)), 4),
                    "mean_tau": round(float(taus.mean()), 4) if len(taus) else None,
                }
        selected = [t for t in result.selected if kept[t]]  # a task with no instance left is dropped
        extra = {
            "instance_threshold": self.cfg.instance_threshold,
            "trial_selection": result.selected,
            **records,
            "instances_kept": summary,
            **self.base_extra(ranking),
        }
        return self.selection(
            selected,
            scores=ranking.scores,
            instance_indices={t: kept[t] for t in selected},
            scored_indices={t: np.arange(len(taus_of[t])) for t in taus_of},
            instance_scores=taus_of,  # every instance's tau to the primary (selection_instances/*.npy)
            extra=extra,
        )

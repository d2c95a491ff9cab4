"""LogME (You, Liu, Wang and Long 2021, "LogME: Practical Assessment of Pre-trained Models for
Transfer Learning", ICML; section 4, Algorithm 1) of the primary's labels on features from an
encoder fine-tuned on each auxiliary, as Poth, Pfeiffer, Rücklé and Gurevych (2021, "What to
Pre-Train on? Efficient Intermediate Task Selection", EMNLP) rank intermediate tasks.

For each candidate a: the backbone fine-tuned on a alone (GradTS's probe, auxrun/methods/gradts.py:
``warmup_epochs`` epochs, its last-epoch weights; the fine-tuning and its head matrices are cached
per task, so GradTS and LogME fine-tune each task once between them) encodes the primary's training
examples; features F [n, D] are what the primary's head would read (the first token for
classification and regression). LogME is the maximum over (alpha, beta) of the log evidence of the
Bayesian linear model y = F w + noise, w ~ N(0, 1/alpha), noise ~ N(0, 1/beta), divided by n:

    L = n/2 log beta + D/2 log alpha - n/2 log 2pi - beta/2 |F m - y|^2 - alpha/2 m'm - 1/2 log|A|,
    A = alpha I + beta F'F,  m = beta A^-1 F'y,

maximised by the paper's fixed point (gamma = sum beta s_i / (alpha + beta s_i) over the
eigenvalues s_i of F'F; alpha <- gamma / m'm; beta <- (n - gamma) / |F m - y|^2) on one
eigendecomposition of F'F (the paper's SVD of F). Classification: one-hot targets, LogME averaged
over the classes (the paper's K outputs); regression: the label itself (each output averaged).
A higher LogME is a better candidate; ``top_k`` (default 1: Poth et al. pick the top-ranked
intermediate task) or ``threshold`` selects.

Departures and choices where the papers are silent:
- Tagging primaries (not in either paper): every labelled word is an example (its first
  sub-token's state, what the tagging head reads), with a one-hot target over the tags; the
  evidence is over all labelled words of the primary's training sentences.
- Multiple choice (not in either paper): every (context, choice) sequence is an example with a
  two-class one-hot target (the right choice or not).
- The fixed point stops when alpha and beta change by less than ``tol`` (relative) or after
  ``max_iter`` steps (the paper's code: 11 steps at tolerance 1e-3; auxrun's defaults 1e-6 and 100
  reach the maximum a grid search finds, tests/test_logme.py).
- Features are fp64 and not centred or normalised (the paper uses them as the model gives them).
- ``scores_pretrained`` in selection.json: LogME on the un-fine-tuned backbone's features, the
  reference a fine-tuned auxiliary's score is read against (not in the papers).
- The fine-tuned encoders are cached in fp32 (a model's size per task; auxrun/cache.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from auxrun.config import MethodConfig
from auxrun.data.features import IGNORE, EncodedSplit, collate
from auxrun.methods.base import Method
from auxrun.methods.gradts import GradTSBase, GradTSConfig
from auxrun.methods.registry import register
from auxrun.methods.textemb import rank_and_pick
from auxrun.objectives import get_objective
from auxrun.selection import Selection


@dataclass
class LogMEConfig(MethodConfig):
    name: str = "logme"
    warmup_epochs: int = 3  # the per-task fine-tuning, shared with GradTS (its 3.1: 3 epochs)
    top_k: int = 1  # Poth et al. take the top-ranked intermediate task
    threshold: float | None = None  # a LogME value: select every candidate at or above it instead
    max_iter: int = 100  # fixed-point steps of the evidence maximisation, at most
    tol: float = 1e-6  # stop when alpha and beta change by less than this, relatively
    importance_batch_size: int = 32  # GradTS's gradient pass, run with the fine-tuning on a miss
    batch_size: int = 128  # of the feature passes; does not change the result


# ---- LogME: evidence maximisation ----------------------------------------------------------------


def log_evidence(
    alpha: float, beta: float, n: int, d: int, sigma: np.ndarray, z: np.ndarray, yy: float
) -> tuple[float, float, float]:
    """(L / n, |F m - y|^2, m'm) at (alpha, beta), from the eigenvalues ``sigma`` of F'F (all D of
    them), ``z`` = V' F' y in that eigenbasis and ``yy`` = y'y."""
    denom = alpha + beta * sigma
    coef = beta * z / denom  # m in the eigenbasis
    mm = float(coef @ coef)
    res = max(float(yy - 2 * (coef @ z) + (sigma * coef) @ coef), 0.0)
    ev = (
        n / 2 * math.log(beta)
        + d / 2 * math.log(alpha)
        - n / 2 * math.log(2 * math.pi)
        - beta / 2 * res
        - alpha / 2 * mm
        - 0.5 * float(np.log(denom).sum())
    )
    return ev / n, res, mm


def logme_single(
    sigma: np.ndarray, z: np.ndarray, yy: float, n: int, max_iter: int = 100, tol: float = 1e-6
) -> tuple[float, float, float]:
    """(LogME, alpha, beta) of one target column by the paper's fixed point (Algorithm 1)."""
    d = len(sigma)
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        gamma = float((beta * sigma / (alpha + beta * sigma)).sum())
        _, res, mm = log_evidence(alpha, beta, n, d, sigma, z, yy)
        new_alpha = gamma / max(mm, 1e-300)
        new_beta = (n - gamma) / max(res, 1e-300)
        done = abs(new_alpha - alpha) / alpha < tol and abs(new_beta - beta) / beta < tol
        alpha, beta = new_alpha, new_beta
        if done:
            break
    return log_evidence(alpha, beta, n, d, sigma, z, yy)[0], alpha, beta


def logme(features: np.ndarray, targets: np.ndarray, max_iter: int = 100, tol: float = 1e-6) -> float:
    """LogME of targets [n] or [n, K] (one-hot or real) on features [n, D]: the mean over the K
    columns of each column's maximum log evidence per example."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    n = f.shape[0]
    sigma, v = np.linalg.eigh(f.T @ f)
    sigma = np.clip(sigma, 0.0, None)
    zs = v.T @ (f.T @ y)  # [D, K]
    values = [
        logme_single(sigma, zs[:, k], float(y[:, k] @ y[:, k]), n, max_iter, tol)[0]
        for k in range(y.shape[1])
    ]
    return float(np.mean(values))


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels.astype(np.int64)] = 1.0
    return out


# ---- features of the primary's examples ----------------------------------------------------------


@torch.no_grad()
def head_features(
    encoder: torch.nn.Module,
    split: EncodedSplit,
    objective: str,
    n_outputs: int,
    pad_id: int,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """(features [n, D], targets [n, K]) of a labelled split: what the objective's head reads of the
    encoder's last hidden states, one row per example (per labelled word for tagging, per choice
    for multiple choice), with one-hot targets (regression: the label)."""
    obj = get_objective(objective)
    encoder.eval()
    feats, targets = [], []
    for i in range(0, len(split), batch_size):
        batch = collate(split, list(range(i, min(i + batch_size, len(split)))), objective, pad_id)
        ids = batch["input_ids"]
        n_choices = ids.shape[1] if ids.dim() == 3 else None
        inputs = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in batch}
        inputs = {k: v.reshape(-1, v.shape[-1]).to(device) for k, v in inputs.items()}
        x = obj.head_input(encoder(**inputs).last_hidden_state.float()).cpu().double()
        labels = batch["labels"]
        if objective == "sequence_labeling":
            keep = labels != IGNORE
            feats.append(x[keep].numpy())
            targets.append(one_hot(labels[keep].numpy(), n_outputs))
        elif objective == "multiple_choice":
            right = torch.zeros(len(labels), n_choices)
            right[torch.arange(len(labels)), labels] = 1.0
            feats.append(x.numpy())
            targets.append(one_hot(right.reshape(-1).numpy(), 2))
        elif objective == "regression":
            feats.append(x.numpy())
            targets.append(labels.double().reshape(len(labels), -1).numpy())
        else:
            feats.append(x.numpy())
            targets.append(one_hot(labels.numpy(), n_outputs))
    return np.concatenate(feats), np.concatenate(targets)


@register("logme", LogMEConfig)
class LogME(Method):
    cfg: LogMEConfig

    @classmethod
    def validate_config(cls, cfg, specs) -> None:
        from auxrun.validate import _range

        m = cfg.method
        for key, lo in (("warmup_epochs", 1), ("top_k", 0), ("max_iter", 1), ("batch_size", 1)):
            _range(f"method.{key}", getattr(m, key), lo)
        _range("method.tol", m.tol, 0, 1, lo_open=True, hi_open=True)

    def finetuner(self) -> GradTSBase:
        """GradTS's per-task probe with this method's fine-tuning settings (same cache entries)."""
        cfg = GradTSConfig(
            name="gradts",
            warmup_epochs=self.cfg.warmup_epochs,
            importance_batch_size=self.cfg.importance_batch_size,
            figures=False,
        )
        return GradTSBase(cfg, self.ctx)

    def select(self) -> Selection:
        ctx, pool = self.ctx, self.ctx.pool
        primary, spec = pool.primary, pool.specs[pool.primary]
        obj = get_objective(spec.objective)
        n_out = obj.num_outputs(spec)
        split = pool.split(primary, "train")
        probe = self.finetuner()
        from auxrun.training.hardware import pick_device

        device = pick_device(ctx.cfg.hardware.device)
        encoder = ctx.new_model([primary]).encoder.to(device)
        pad_id = ctx.pad_id

        def score() -> tuple[float, int]:
            with ctx.ledger.stage("select/logme"):
                f, y = head_features(
                    encoder, split, spec.objective, n_out, pad_id, self.cfg.batch_size, device
                )
                ctx.ledger.count(forward=len(split))
                return logme(f, y, self.cfg.max_iter, self.cfg.tol), len(f)

        pretrained, rows = score()
        scores: dict[str, float] = {}
        cache: dict[str, Any] = {}
        for a in pool.auxiliaries:
            state, status = probe.finetuned_encoder(a)
            ctx.ledger.note("select/finetune", f"{a}: {'reused' if status == 'hit' else 'computed'}")
            cache[a] = status
            encoder.load_state_dict(state)
            scores[a] = score()[0]
        ranked, selected = rank_and_pick(scores, pool.auxiliaries, self.cfg.top_k, self.cfg.threshold)
        extra = {
            "ranking": ranked,
            "top_k": self.cfg.top_k,
            "threshold": self.cfg.threshold,
            "warmup_epochs": self.cfg.warmup_epochs,
            "scores_pretrained": pretrained,
            "feature_rows": rows,
            "finetune_cache": cache,
        }
        return self.selection(selected, scores=scores, extra=extra)

"""What does FastMTL's stage-1 discriminator see? Trains stage 1 (TD-MTDNN) as ``method=fastmtl``
does, then on every unused training example of every task measures: the discriminator's argmax
(a confusion matrix: can it tell the tasks apart from their inputs?), the mean and sd of the
primary-class score per task, and the AUC of that score between the related and the noise task
(0.5: the ranking cannot prefer one to the other). Markdown on stdout.

    nice -n 10 python research/fastmtl_discriminability.py primary=toy_sentiment seed=1
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from auxrun.hydra_setup import register_configs
    from auxrun.paths import CONF_DIR

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return OmegaConf.to_object(hydra_compose("config", overrides=overrides))


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (Mann-Whitney)."""
    from scipy.stats import rankdata

    r = rankdata(np.concatenate([pos, neg]))
    return float((r[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main(overrides: list[str]) -> None:
    from auxrun.data.features import collate
    from auxrun.methods.fastmtl import FastMTL, unused_indices
    from auxrun.run import build_context
    from auxrun.training.cost import CostLedger
    from auxrun.validate import validate_run

    cfg = compose(["method=fastmtl", "quiet=true", *overrides])
    specs = validate_run(cfg)
    torch.manual_seed(cfg.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = build_context(cfg, Path(tmp), specs, CostLedger())
        method = FastMTL(cfg.method, ctx)
        subsets = method.subsets()
        model, trainer = method.train_td(subsets)
    pool = ctx.pool
    tasks = pool.tasks
    model.eval()
    confusion = np.zeros((len(tasks), len(tasks)), dtype=np.int64)
    primary_scores: dict[str, np.ndarray] = {}
    seen: dict[str, bool] = {}
    p = model.task_ids[pool.primary]
    for t in tasks:
        split = pool.split(t, "train")
        idx = unused_indices(len(split), subsets[t]).tolist()
        if not idx:  # every example went into stage 1 (the primaries): show those, marked *
            idx, seen[t] = list(subsets[t]), True
        chunks = []
        for s in range(0, len(idx), 256):
            batch = collate(split, idx[s : s + 256], pool.specs[t].objective, trainer.pad_id)
            chunks.append(model.task_scores(batch).float().numpy())
        if not chunks:
            continue
        scores = np.concatenate(chunks)
        for k in scores.argmax(-1):
            confusion[tasks.index(t), k] += 1
        primary_scores[t] = scores[:, p]
    planted = cfg.task_set.planted.get(pool.primary, {})
    role = {x: k for k, v in planted.items() for x in v}
    print(
        f"primary {pool.primary}, seed {cfg.seed}, loss {cfg.method.discriminator_loss}, multitask {cfg.method.td_multitask}\n"
    )
    print("Discriminator argmax on unused examples (rows: true task, %; * = stage-1 examples)\n")
    print("| true \\ predicted | " + " | ".join(tasks) + " |")
    print("|---|" + "---|" * len(tasks))
    for i, t in enumerate(tasks):
        n = confusion[i].sum()
        if n:
            mark = "*" if seen.get(t) else ""
            print(f"| {t}{mark} | " + " | ".join(f"{100 * c / n:.0f}" for c in confusion[i]) + " |")
    print(f"\nScore of the primary class ({pool.primary}) per task\n")
    print("| task | role | n | mean | sd |\n|---|---|---|---|---|")
    for t, s in primary_scores.items():
        print(
            f"| {t}{'*' if seen.get(t) else ''} | {role.get(t, 'primary' if t == pool.primary else '-')} | {len(s)} | {s.mean():.4f} | {s.std():.4f} |"
        )
    rel, noise = planted.get("related", [None])[0], planted.get("noise", [None])[0]
    if rel in primary_scores and noise in primary_scores:
        print(f"\nAUC(related {rel} > noise {noise}) = {auc(primary_scores[rel], primary_scores[noise]):.3f}")
        name = "primary (stage-1 examples)" if seen.get(pool.primary) else "primary"
        print(
            f"AUC({name} {pool.primary} > noise {noise}) = "
            f"{auc(primary_scores[pool.primary], primary_scores[noise]):.3f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

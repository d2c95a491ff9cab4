"""What reward does AUTOSEM's bandit see from each planted role? A measurement, not a method.

AUTOSEM stage 1 (auxrun/methods/autosem_p1.py) pulls an arm, trains ``batches_per_round``
mini-batches of it and rewards the arm 1 when the primary's select_dev metric did not fall (Eq. 3;
the planted pool's settings break a tie by the select_dev loss). Each arm's utility estimates its
reward probability. This script measures that probability directly: train the bandit's trainer for
``--warm`` rounds (the primary with probability ``--primary-share``, else an auxiliary drawn uniformly:
a state like the bandit's, whose stronger primary prior pulls the primary about a third of the
time), snapshot it,
then for the primary and its related, unrelated and noise auxiliaries repeat ``--reps`` times:
restore the snapshot, train one round of that arm, and score the reward against the snapshot's
select_dev score. If the related and the noise arm earn rewards at the same rate, no number of
rounds lets the bandit rank them apart.

    python research/autosem_reward_probe.py --seeds 1 2 --warm 20 60 --reps 20
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from auxrun.hydra_setup import register_configs  # noqa: E402
from auxrun.methods.autosem_p1 import _primary_score, bandit_reward  # noqa: E402
from auxrun.paths import CONF_DIR  # noqa: E402
from auxrun.run import build_context  # noqa: E402
from auxrun.selection import Selection  # noqa: E402
from auxrun.training.controller import Controller  # noqa: E402
from auxrun.training.cost import CostLedger  # noqa: E402
from auxrun.validate import validate_run  # noqa: E402


class Rounds(Controller):
    """An epoch is one bandit round: the bandit's schedule (rounds x batches_per_round steps)."""

    def __init__(self, batches: int):
        self.batches = batches

    def epoch_steps(self, trainer) -> int:
        return self.batches


def probe(
    primary: str, seed: int, warms: list[int], reps: int, share: float, task_set: str, extra: list[str]
) -> list[dict]:
    register_configs()
    overrides = [
        f"task_set={task_set}",
        "method=autosem_p1",
        f"primary={primary}",
        f"seed={seed}",
        "quiet=true",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = OmegaConf.to_object(compose("config", overrides=[*overrides, *extra]))
    specs = validate_run(cfg)
    ctx = build_context(cfg, Path(tempfile.mkdtemp()), specs, CostLedger())
    m, pool = cfg.method, ctx.pool
    roles = OmegaConf.load(CONF_DIR / "task_set" / f"{task_set}.yaml").planted[primary]
    arms = {"primary": primary, **{k: roles[k][0] for k in ("related", "unrelated", "noise")}}
    trainer = ctx.new_trainer(
        Selection("reward_probe", primary, pool.auxiliaries, list(pool.auxiliaries)),
        "reward_probe",
        epochs=m.rounds,
        controller=Rounds(m.batches_per_round),
        eval_splits=["select_dev"],
        best_split="select_dev",
        progress=False,
    )
    metric = pool.specs[primary].main_metric
    rng = random.Random(seed)
    out, done = [], 0
    for warm in sorted(warms):
        while done < warm:
            arm = primary if rng.random() < share else rng.choice(pool.auxiliaries)
            trainer.train_batches(arm, m.batches_per_round)
            done += 1
        snap = trainer.snapshot()
        before = _primary_score(trainer, primary, metric)
        for role, arm in arms.items():
            rewards, d_metric, d_loss = [], [], []
            for _ in range(reps):
                trainer.restore(snap)
                trainer.train_batches(arm, m.batches_per_round)
                now = _primary_score(trainer, primary, metric)
                rewards.append(bandit_reward(metric, now, before, m.tie_break))
                d_metric.append(now[0] - before[0])
                d_loss.append(now[1] - before[1])
            row = {
                "primary": primary,
                "seed": seed,
                "warm": warm,
                "score": before[0],
                "role": role,
                "arm": arm,
                "reward_rate": statistics.mean(rewards),
                "d_metric": statistics.mean(d_metric),
                "d_loss": statistics.mean(d_loss),
            }
            out.append(row)
            print(
                f"{primary} seed {seed} after {warm} rounds (select_dev {before[0]:.1f}): {role:9s} {arm:17s} "
                f"reward {row['reward_rate']:.2f}  d{metric} {row['d_metric']:+.2f}  dloss {row['d_loss']:+.4f}",
                flush=True,
            )
        trainer.restore(snap)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task-set", default="toy_planted")
    ap.add_argument("--primaries", nargs="*", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--warm", type=int, nargs="+", default=[20, 60], help="rounds trained before probing")
    ap.add_argument("--primary-share", type=float, default=0.5, help="share of warm rounds on the primary")
    ap.add_argument("--reps", type=int, default=16)
    ap.add_argument("--extra", nargs="*", default=["backbone=tiny_planted"])
    args = ap.parse_args()
    planted = OmegaConf.load(CONF_DIR / "task_set" / f"{args.task_set}.yaml").planted
    rows = []
    for primary in args.primaries or list(planted):
        for seed in args.seeds:
            rows += probe(primary, seed, args.warm, args.reps, args.primary_share, args.task_set, args.extra)
    print("\n| primary | after rounds | primary | related | unrelated | noise |")
    print("|---|---|---|---|---|---|")
    keys = sorted({(r["primary"], r["warm"]) for r in rows}, key=lambda k: (list(planted).index(k[0]), k[1]))
    for p, w in keys:
        cells = []
        for role in ("primary", "related", "unrelated", "noise"):
            rs = [r["reward_rate"] for r in rows if (r["primary"], r["warm"], r["role"]) == (p, w, role)]
            cells.append(f"{statistics.mean(rs):.2f}")
        print(f"| {p} | {w} | " + " | ".join(cells) + " |")
    related = [r["reward_rate"] for r in rows if r["role"] == "related"]
    noise = [r["reward_rate"] for r in rows if r["role"] == "noise"]
    print(f"reward rate related {statistics.mean(related):.2f}, noise {statistics.mean(noise):.2f}")


if __name__ == "__main__":
    main()

"""The run's answer beside what it is an answer to: after training on the selection, train the
baselines named in ``compare`` (single_task: the primary alone; no_sel: every candidate) on the same
pool, seed, budget and hardware, and keep each one's best scores in results.json ``compare``.

Their cost goes to the ledger stage ``compare``, apart from the method's ``select`` and ``train``,
so the report's cost of a method is unchanged. A baseline that is the run's own method is skipped.
"""

from __future__ import annotations

from typing import Any

from auxrun.context import RunContext
from auxrun.errors import ConfigError
from auxrun.methods.registry import METHODS, baselines, load_all


def check_compare(names: list[str]) -> None:
    allowed = baselines()  # the methods whose class says ``baseline = True``
    bad = [n for n in names if n not in allowed]
    if bad:
        raise ConfigError(f"compare={names}: {bad} are not baselines; allowed: {allowed}")


def train_baselines(ctx: RunContext, names: list[str], progress: bool = True) -> dict[str, Any]:
    load_all()
    out: dict[str, Any] = {}
    for name in names:
        if name == ctx.cfg.method.name:
            continue
        cls, cfg_cls = METHODS[name]
        with ctx.ledger.stage(f"compare/{name}"):
            selection = cls(cfg_cls(name=name), ctx).select()
            summary = ctx.new_trainer(selection, f"compare_{name}", progress=progress).fit()
        out[name] = {
            "training_tasks": selection.training_tasks,
            "best": summary["best"],
            "best_epoch": summary["best_epoch"],
        }
    return out

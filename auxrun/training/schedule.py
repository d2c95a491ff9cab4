"""Which task each mini-batch of an epoch comes from (one task per mini-batch, as MT-DNN)."""

from __future__ import annotations

import math
import random

from auxrun.errors import ConfigError


def size_proportional(n_batches: dict[str, int], rng: random.Random) -> list[str]:
    """MT-DNN: every batch of every task once per epoch, in a shuffled order, so tasks are sampled
    in proportion to their size."""
    order = [t for t, n in n_batches.items() for _ in range(n)]
    rng.shuffle(order)
    return order


def mixing_ratio(n_batches: dict[str, int], ratios: dict[str, float], primary: str) -> list[str]:
    """AUTOSEM's mixing ratio eta_1:...:eta_k: each cycle trains eta_i mini-batches of task i in
    turn; an epoch has as many cycles as it takes to pass once over the primary's batches."""
    etas = {t: int(round(ratios.get(t, 0))) for t in n_batches}
    if etas.get(primary, 0) < 1:
        raise ConfigError(f"mixing ratio of the primary '{primary}' must be >= 1, got {ratios.get(primary)}")
    cycles = math.ceil(n_batches[primary] / etas[primary])
    cycle = [t for t, eta in etas.items() if eta > 0 for _ in range(eta)]
    return cycle * cycles


def epoch_schedule(
    kind: str, n_batches: dict[str, int], ratios: dict[str, float], primary: str, seed: int, epoch: int
) -> list[str]:
    rng = random.Random(f"schedule-{seed}-{epoch}")
    if kind == "ratio" or (kind == "auto" and ratios):
        return mixing_ratio(n_batches, ratios, primary)
    if kind in ("size_proportional", "auto"):
        return size_proportional(n_batches, rng)
    raise ConfigError(f"train.schedule='{kind}' is not one of ['size_proportional', 'ratio', 'auto']")

"""Random sampling, FastMTL's baseline (Kung et al. 2021, section 4.3; Glover and Hokamp 2019): N
auxiliary training examples drawn uniformly, without replacement, from the same pool FastMTL ranks
(every auxiliary example not among the stage-1 examples, auxrun/methods/fastmtl.py), then the same
stage 2 (MTL on all primary data plus the draw) and stage 3 (fine-tuning on the primary). The two
methods differ only in how the N are chosen.

Choices where the paper is silent: the stage-1 examples are left out of the pool although no
discriminator is trained (so the pools are identical, as the issue asks); the draw is a function of
the run's seed (random.Random over the union in pool order, then index order). Its ``scores`` are the
share of each task's pool the draw took: equal in expectation, so a planted check reads them as chance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from auxrun.methods.fastmtl import SamplingConfig, SamplingMethod
from auxrun.methods.registry import register
from auxrun.selection import Selection


@dataclass
class RandomSamplingConfig(SamplingConfig):
    name: str = "random_sampling"


def random_draw(unused: dict, order: list[str], n: int, seed: int) -> dict[str, list[int]]:
    """n (task, index) pairs uniformly without replacement from the union; each task's sorted."""
    union = [(t, int(i)) for t in order for i in unused[t]]
    picked = random.Random(f"{seed}-random_sampling").sample(union, min(n, len(union)))
    kept: dict[str, list[int]] = {t: [] for t in order}
    for t, i in picked:
        kept[t].append(i)
    return {t: sorted(v) for t, v in kept.items()}


@register("random_sampling", RandomSamplingConfig)
class RandomSampling(SamplingMethod):
    cfg: RandomSamplingConfig

    def select(self) -> Selection:
        subsets = self.subsets()
        unused = self.unused_pool(subsets)
        with self.ctx.ledger.stage("select/sampling"):
            kept = random_draw(unused, self.ctx.pool.auxiliaries, self.cfg.n_samples, self.ctx.cfg.seed)
        # the share of each task's pool the draw took: equal in expectation, so the chance line
        drawn = {t: len(kept[t]) / len(unused[t]) for t in kept if len(unused[t])}
        return self.sampled_selection(kept, unused, subsets, drawn)

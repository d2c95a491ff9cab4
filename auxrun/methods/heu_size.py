"""HEU-Size (Ma et al., 2021, GradTS section 5.3, Tables 6-7): the intuitive baseline that ranks the
candidates by training data size, largest first, then adds them greedily with GradTS-trial's
machinery (auxrun/methods/greedy.py) and keeps the best prefix.

Size is the number of examples in the task's official train file, as ``stage=inspect`` counts them
(auxrun/data/inspect.py ``train_statistics``): on the GLUE files exactly one more than Table 7 for
every task (Table 7 appears to count one line fewer; the ranking is the same). Where the paper is
silent: "keep adding tasks ... greedily and report the best score" is read as GradTS-trial's rule
(stop at the first drop; the prefix before it is the best evaluated), so HEU-Size differs from
GradTS-trial only in the ranking; equal sizes keep the pool's order; ``trial_rule`` and the other
trial keys work as for GradTS-trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auxrun.data.inspect import pool_statistics
from auxrun.methods.greedy import RankThenTrial, TrialConfig
from auxrun.methods.registry import register


@dataclass
class HeuSizeConfig(TrialConfig):
    name: str = "heu_size"


def rank_by_size(stats: dict[str, dict[str, Any]], candidates: list[str]) -> list[str]:
    return sorted(candidates, key=lambda t: -stats[t]["size"])  # stable: ties keep the pool's order


@register("heu_size", HeuSizeConfig)
class HeuSize(RankThenTrial):
    def rank(self):
        with self.ctx.ledger.stage("select/statistics"):
            stats = pool_statistics(self.ctx.pool.specs, self.ctx.cfg.data)
        ranked = rank_by_size(stats, self.ctx.pool.auxiliaries)
        return ranked, {t: float(stats[t]["size"]) for t in ranked}, {"statistics": stats}

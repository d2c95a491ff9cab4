"""HEU-Len (Ma et al., 2021, GradTS section 5.3, Tables 6-7): the intuitive baseline that ranks the
candidates by how close their average sentence length in words is to the primary's, closest first,
then adds them greedily with GradTS-trial's machinery (auxrun/methods/greedy.py) and keeps the best
prefix.

Length is the mean number of whitespace-separated words per sentence of the task's official train
file, each sentence of a pair counted on its own (Table 7's LEN: RTE's 26.18 is the mean of its long
premises and short hypotheses, not their sum), as ``stage=inspect`` reports it (``mean_sentence_words``,
auxrun/data/inspect.py). Where the paper is silent: the distance is the absolute difference; ties
keep the pool's order; "keep adding tasks ... greedily and report the best score" is GradTS-trial's
rule (stop at the first drop, keep the prefix before it); ``trial_rule`` and the other trial keys
work as for GradTS-trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auxrun.data.inspect import pool_statistics
from auxrun.methods.greedy import RankThenTrial, TrialConfig
from auxrun.methods.registry import register


@dataclass
class HeuLenConfig(TrialConfig):
    name: str = "heu_len"


def rank_by_length(stats: dict[str, dict[str, Any]], primary: str, candidates: list[str]) -> list[str]:
    target = stats[primary]["mean_sentence_words"]
    return sorted(candidates, key=lambda t: abs(stats[t]["mean_sentence_words"] - target))


@register("heu_len", HeuLenConfig)
class HeuLen(RankThenTrial):
    def rank(self):
        pool = self.ctx.pool
        with self.ctx.ledger.stage("select/statistics"):
            stats = pool_statistics(pool.specs, self.ctx.cfg.data)
        ranked = rank_by_length(stats, pool.primary, pool.auxiliaries)
        target = stats[pool.primary]["mean_sentence_words"]
        # scores are higher = more useful: minus the distance in words
        closeness = {t: -abs(stats[t]["mean_sentence_words"] - target) for t in ranked}
        return ranked, closeness, {"statistics": stats}

"""HEU-Type (Ma et al., 2021, GradTS section 5.3, Tables 6-7): the intuitive baseline that keeps the
candidates of the primary's task type (Table 7's TYPE, Wang et al.'s GLUE categories), without trials.

The type is ``task_type`` in each task's YAML (conf/task/*.yaml): single_sentence,
paraphrase, inference, similarity, tagging, emotion, choice; the GLUE eight carry Table 7's types.
Where the paper is silent: no candidate of the primary's type selects nothing (the primary alone);
the selection keeps the pool's order. The paper trains all same-type tasks together, as here.
"""

from __future__ import annotations

from dataclasses import dataclass

from auxrun.config import MethodConfig
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.selection import Selection


@dataclass
class HeuTypeConfig(MethodConfig):
    name: str = "heu_type"


def same_type(types: dict[str, str], primary: str, candidates: list[str]) -> list[str]:
    return [t for t in candidates if types[t] == types[primary]]


@register("heu_type", HeuTypeConfig)
class HeuType(Method):
    def select(self) -> Selection:
        pool = self.ctx.pool
        types = {t: spec.task_type for t, spec in pool.specs.items()}
        kept = same_type(types, pool.primary, pool.auxiliaries)
        scores = {t: float(t in kept) for t in pool.auxiliaries}
        return self.selection(kept, scores=scores, extra={"task_types": types})

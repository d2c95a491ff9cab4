"""Single-label classification: a linear (or MLP) head on the first token, cross-entropy."""

from auxrun.objectives import register
from auxrun.objectives.base import Objective


@register
class Classification(Objective):
    name = "classification"

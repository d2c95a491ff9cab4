"""Objectives: everything that depends on what a task predicts, one module per objective.

An objective says how its head reads the encoder (first token, every token, one score per choice),
its per-example loss, how examples become label ids and batches, how logits become native
predictions and submission labels, how file and hub labels are parsed, its default metrics and the
label statistics ``stage=inspect`` prints. ``TaskSpec.objective`` names one; adding an objective is
adding a module here that subclasses ``Objective`` and decorates it with ``@register``.
"""

from __future__ import annotations

import importlib
import pkgutil

from auxrun.objectives.base import Objective

OBJECTIVES: dict[str, type[Objective]] = {}
_INSTANCES: dict[str, Objective] = {}


def register(cls: type[Objective]) -> type[Objective]:
    OBJECTIVES[cls.name] = cls
    return cls


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "base":
            importlib.import_module(f"{__name__}.{mod.name}")


def objective_names(task_files_only: bool = True) -> list[str]:
    """Registered objectives; by default those a task file may name (not internal ones)."""
    _load_all()
    return [n for n, c in OBJECTIVES.items() if c.task_file or not task_files_only]


def get_objective(name: str | Objective) -> Objective:
    """The objective called ``name`` (an instance with default options; objectives with options,
    such as task discrimination's loss, are built by calling their class)."""
    if isinstance(name, Objective):
        return name
    if name not in _INSTANCES:
        _load_all()
        if name not in OBJECTIVES:
            raise KeyError(f"objective '{name}' is not registered; known: {sorted(OBJECTIVES)}")
        _INSTANCES[name] = OBJECTIVES[name]()
    return _INSTANCES[name]


__all__ = ["OBJECTIVES", "Objective", "get_objective", "objective_names", "register"]

"""The Selection: the one artifact every method writes, and the only thing the trainer reads of it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from auxrun.errors import AuxrunError
from auxrun.io import write_json_atomic


@dataclass
class Selection:
    method: str
    primary: str
    candidates: list[str]
    selected_tasks: list[str]  # the auxiliaries kept (the primary is always trained)
    ratios: dict[str, float] = field(default_factory=dict)  # mixing ratio per task; empty: size-proportional
    scores: dict[str, float] = field(default_factory=dict)  # the method's score of each candidate
    instances: dict[str, dict[str, int]] = field(default_factory=dict)  # {task: {kept, total}}
    instance_indices: dict[str, list[int]] = field(default_factory=dict)  # kept train indices per task
    weights: dict[str, float] = field(default_factory=dict)  # per-task loss weights (default 1)
    extra: dict[str, Any] = field(default_factory=dict)  # method-specific records, saved at the top level

    @property
    def training_tasks(self) -> list[str]:
        return [self.primary] + [t for t in self.selected_tasks if t != self.primary]

    def fill_instances(self, train_sizes: dict[str, int]) -> None:
        for t in self.training_tasks:
            total = train_sizes[t]
            kept = len(self.instance_indices[t]) if t in self.instance_indices else total
            self.instances[t] = {"kept": kept, "total": total}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        return {**d, **extra}

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Selection:
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise AuxrunError(f"cannot read selection {path}: {e}") from None
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in d.items() if k in names}
        missing = {"method", "primary", "candidates", "selected_tasks"} - set(known)
        if missing:
            raise AuxrunError(f"{path}: selection lacks {sorted(missing)}")
        return cls(**known, extra={k: v for k, v in d.items() if k not in names})

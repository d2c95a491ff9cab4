"""The Selection: the one artifact every method writes, and the only thing the trainer reads of it.

``selection.json`` holds the task-level record. Per-instance arrays (the kept training indices of a
task, and the method's per-example scores with the indices they belong to) are ``.npy`` files in
``<stem>_instances/`` beside it (``selection_instances/mnli.kept.npy``), named under
``instance_files``: MNLI alone has 393k training examples, too many for a JSON list.
"""

from __future__ import annotations

import copy
import io
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from auxrun.errors import AuxrunError
from auxrun.io import write_bytes_atomic, write_json_atomic

ARRAYS = ("instance_indices", "scored_indices", "instance_scores")
_FILE_PART = {"instance_indices": "kept", "scored_indices": "scored", "instance_scores": "scores"}


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
    # A method's per-example scores: the train indices it scored and their scores, aligned.
    scored_indices: dict[str, np.ndarray] = field(default_factory=dict)
    instance_scores: dict[str, np.ndarray] = field(default_factory=dict)
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

    def _arrays(self) -> dict[str, dict[str, np.ndarray]]:
        out: dict[str, dict[str, np.ndarray]] = {}
        for name in ARRAYS:
            for task, values in getattr(self, name).items():
                dtype = np.float32 if name == "instance_scores" else np.int64
                out.setdefault(task, {})[_FILE_PART[name]] = np.asarray(values, dtype=dtype)
        return out

    def instance_files(self, stem: str = "selection") -> dict[str, dict[str, str]]:
        return {
            task: {part: f"{stem}_instances/{task}.{part}.npy" for part in parts}
            for task, parts in self._arrays().items()
        }

    def to_dict(self, stem: str = "selection") -> dict[str, Any]:
        skip = (*ARRAYS, "extra")
        d = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name not in skip}
        files = self.instance_files(stem)
        if files:
            d["instance_files"] = files
        return {**d, **self.extra}

    def save(self, path: Path) -> int:
        """selection.json and its .npy files (written first: a whole JSON implies whole arrays);
        returns the bytes of the arrays."""
        path = Path(path)
        written = 0
        files = self.instance_files(path.stem)
        for task, parts in self._arrays().items():
            for part, arr in parts.items():
                buf = io.BytesIO()
                np.save(buf, arr, allow_pickle=False)
                write_bytes_atomic(path.parent / files[task][part], buf.getvalue())
                written += buf.tell()
        write_json_atomic(path, self.to_dict(path.stem))
        return written

    @classmethod
    def load(cls, path: Path) -> Selection:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise AuxrunError(f"cannot read selection {path}: {e}") from None
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in d.items() if k in names}
        missing = {"method", "primary", "candidates", "selected_tasks"} - set(known)
        if missing:
            raise AuxrunError(f"{path}: selection lacks {sorted(missing)}")
        files = d.get("instance_files", {})
        part_of = {part: name for name, part in _FILE_PART.items()}
        for task, parts in files.items():
            for part, rel in parts.items():
                try:
                    arr = np.load(path.parent / rel, allow_pickle=False)
                except (OSError, ValueError) as e:
                    raise AuxrunError(
                        f"{path}: instance_files.{task}.{part}: cannot read {rel}: {e}"
                    ) from None
                name = part_of[part]
                known.setdefault(name, {})[task] = arr.tolist() if name == "instance_indices" else arr
        extra = {k: v for k, v in d.items() if k not in names and k != "instance_files"}
        return cls(**known, extra=extra)

"""The cost ledger: wall time, examples forwarded and back-propagated, peak memory, per stage.

The papers compare methods by cost (GradTS Table 3); auxrun records it for every stage so the
comparison comes from the same ledger for every method.
"""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch


@dataclass
class StageCost:
    wall_s: float = 0.0
    examples_forward: int = 0
    examples_backward: int = 0
    peak_mem_mb: float = 0.0
    bytes_written: int = 0  # checkpoints and cached artifacts written to disk
    # Back-propagations a cache hit saved: what computing the reused entries cost when they were made
    # (GradTS's and LogME's per-task fine-tuning). examples_backward + this = the cost on an empty cache.
    examples_backward_reused: int = 0


def _peak_mem_mb() -> float:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


class CostLedger:
    def __init__(self) -> None:
        self.stages: dict[str, StageCost] = {}
        self.notes: dict[str, list[str]] = {}
        self._active: list[str] = []
        self._started: dict[str, float] = {}  # open stage -> when its unrecorded time began

    def get(self, name: str) -> StageCost:
        return self.stages.setdefault(name, StageCost())

    @contextmanager
    def stage(self, name: str):
        """Time a stage. Stages nest: an outer stage's totals include its inner stages (``select``
        includes ``select/probe_rte``), and the inner ones give the breakdown."""
        cost = self.get(name)
        self._active.append(name)
        self._started[name] = time.perf_counter()
        try:
            yield cost
        finally:
            cost.wall_s += time.perf_counter() - self._started.pop(name)
            cost.peak_mem_mb = max(cost.peak_mem_mb, _peak_mem_mb())
            self._active.pop()

    @property
    def current(self) -> str:
        return self._active[-1] if self._active else "other"

    def count(
        self, forward: int = 0, backward: int = 0, bytes_written: int = 0, backward_reused: int = 0
    ) -> None:
        """Examples forwarded / back-propagated, bytes written and back-propagations a cache hit
        saved, added to every open stage."""
        for name in self._active or ["other"]:
            cost = self.get(name)
            cost.examples_forward += forward
            cost.examples_backward += backward
            cost.bytes_written += bytes_written
            cost.examples_backward_reused += backward_reused

    def note(self, stage: str, text: str) -> None:
        self.notes.setdefault(stage, []).append(text)

    def to_dict(self, prefix: str | None = None) -> dict:
        """Every stage (or those named ``prefix`` or ``prefix/...``); an open stage's wall time
        includes the time since it opened, so a checkpoint taken mid-stage loses none."""
        now = time.perf_counter()
        out = {}
        for name, c in self.stages.items():
            if prefix is not None and name != prefix and not name.startswith(prefix + "/"):
                continue
            d = asdict(c)
            d["wall_s"] += now - self._started[name] if name in self._started else 0.0
            out[name] = {k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()}
        return out

    def state_dict(self, prefix: str | None = None) -> dict:
        return {"stages": self.to_dict(prefix), "notes": self.notes}

    def load_state_dict(self, state: dict) -> None:
        """Put saved counts back (a resumed run). Open stages count on from now, not from when they
        opened, since the saved wall time already covers the time before the checkpoint."""
        now = time.perf_counter()
        for name, values in state.get("stages", {}).items():
            cost = self.get(name)  # update in place: an open ``stage()`` block keeps its reference
            for k, v in values.items():
                setattr(cost, k, v)
            if name in self._started:
                self._started[name] = now
        if "notes" in state:
            self.notes = {k: list(v) for k, v in state["notes"].items()}

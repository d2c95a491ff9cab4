"""The run folders below a directory, read for the report: each one's resolved config (flattened to
dotted keys), results, selection and best-epoch dev predictions; and the sweep points that never
finished (a folder with a config but no ``results.json``) with the reason their log gives."""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.errors import HydraException

from auxrun.methods.registry import decides_while_training

# Keys that say where or how a run was launched, not what it computed (compare: baselines trained
# after the run, which leave its own scores alone): they never split a cell.
NOT_GROUPING = {"seed", "resume", "quiet", "cache_dir", "stage", "selection", "compare"}
# Keys that only choose sweep points: task_set.primaries picks the primary where none is given
# (auxrun.validate) and the points of experiment=transfer_truth and transfer_selectors, as
# task_set.transfer_tasks picks transfer_truth's pools; once a run's config holds its primary and its
# tasks they change nothing it computes. Two sweeps that split the primaries between them
# ('task_set.primaries=[cola,mrpc,rte]', then the rest) give one table, not two.
SWEEP_CHOOSING = {"task_set.primaries", "task_set.transfer_tasks"}


@dataclass
class Run:
    path: Path
    config: dict[str, Any]  # flattened: {"method.name": ..., "train.lr": ..., "primary": ...}
    results: dict[str, Any] | None = None  # None: unfinished or failed
    selection: dict[str, Any] | None = None
    reason: str | None = None  # why it has no results, when the log says
    experiment: str | None = None  # Hydra's choice of the experiment group, if any
    planted: dict[str, Any] = field(default_factory=dict)  # task_set.planted of the run's pool

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def method(self) -> str:
        return str(self.config.get("method.name", "?"))

    @property
    def primary(self) -> str:
        return str(self.config.get("primary", "?"))

    @property
    def seed(self) -> Any:
        return self.config.get("seed")

    @property
    def main_metric(self) -> str | None:
        return (self.results or {}).get("main_metric")

    def score(self, split: str = "dev", metric: str | None = None) -> float | None:
        metric = metric or self.main_metric
        value = (self.results or {}).get("best", {}).get(split, {}).get(metric)
        return None if value is None else float(value)

    @property
    def selection_only(self) -> bool:
        """A ``stage=select`` run that wrote its selection.json: done, with nothing trained."""
        return self.results is None and self.selection is not None and self.config.get("stage") == "select"

    @property
    def status(self) -> str:
        if self.results is not None:
            return "finished"
        return "selection only" if self.selection_only else "unfinished"

    def task_scores(self) -> dict[str, float]:
        """The method's score per candidate, higher = more useful, from one of two places:

        - ``selection.json`` ``scores``: every selector writes them at selection time (GradTS's taus,
          AUTOSEM's utilities, FastMTL's mean discriminator score, TextEmb's cosines, ...);
        - results.json ``task_weights`` for a method that decides while training (avil, diw): its
          selection.json holds no scores, and its final task weights are its answer, so a
          ``stage=select`` run of it has none yet.

        Only candidates count; empty for a baseline or a run that has not got that far."""
        sel = self.selection or {}
        candidates = set(sel.get("candidates") or [])
        if decides_while_training(self.method):
            source = (self.results or {}).get("task_weights") or {}
        else:
            source = sel.get("scores") or {}
        return {t: float(v) for t, v in source.items() if t in candidates and v is not None}

    def wall_s(self) -> float:
        """Wall seconds of every top-level stage of the run's ledger (data, selection, training,
        baselines): what the run cost the machine."""
        cost = (self.results or {}).get("cost") or (self.selection or {}).get("cost") or {}
        return float(
            sum(v.get("wall_s") or 0 for k, v in cost.items() if isinstance(v, dict) and "/" not in k)
        )

    def cost(self, what: str = "examples_backward") -> float:
        """Selection plus training (and any later top-level stage, e.g. fine-tuning), from the ledger;
        the data stage and the ``compare`` baselines are not the method's cost."""
        cost = (self.results or {}).get("cost") or (self.selection or {}).get("cost") or {}  # stage=select
        stages = [
            s for s in cost if "/" not in s and s not in ("data", "other") and not s.startswith("compare")
        ]
        return float(sum(cost[s].get(what, 0) or 0 for s in stages))

    def cold_cost(self) -> float:
        """Back-propagated examples on an empty cache: ``cost()`` plus what the cache entries the
        run reused took to compute (the ledger's ``examples_backward_reused``: GradTS's and LogME's
        per-task fine-tuning, paid by whichever run computed it first)."""
        return self.cost() + self.cost("examples_backward_reused")

    def predictions(self, split: str = "dev") -> dict[str, Any] | None:
        path = self.path / "predictions" / f"{self.primary}_{split}.json"
        if not path.is_file():
            return None
        saved = _read_json(path)
        if saved is None:  # cut short: the report goes on without it, and says so in one line
            print(f"auxrun-report: {path} is damaged (not JSON); read as absent", file=sys.stderr)
        return saved


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v and k != "planted":
                out.update(flatten(v, key))
            else:
                out[key] = tuple(v) if isinstance(v, list) else v
    return out


def _config_from_results(res: dict[str, Any]) -> dict[str, Any]:
    """Runs without a config.yaml (older folders): what results.json says about the config."""
    cfg = {"method.name": res.get("method"), "primary": res.get("primary"), "seed": res.get("seed")}
    if res.get("task_set") is not None:
        cfg["task_set.name"] = res["task_set"]
    if res.get("pool") is not None:
        cfg["task_set.tasks"] = tuple(res["pool"])
    if res.get("backbone") is not None:
        cfg["backbone.name"] = res["backbone"]
    return cfg


def failure_reason(folder: Path) -> str | None:
    """The last error line of the run's logs (Hydra's job log, submitit's stderr), if any."""
    logs = (
        sorted(folder.glob("error.txt"))  # auxrun's own line: a failed point, or one Slurm killed
        + sorted(folder.glob("*.log"))
        + sorted(folder.glob(".submitit/**/*.err"))
        + sorted(folder.glob("*.err"))
    )
    pattern = re.compile(r"(error|exception|killed|cancelled|out of memory|timeout)", re.IGNORECASE)
    for log in logs:
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        hits = [line.strip() for line in lines if pattern.search(line)]
        if hits:
            return hits[-1][:300]
    return None


def _experiment_choice(folder: Path) -> str | None:
    path = folder / ".hydra" / "hydra.yaml"
    if not path.is_file():
        return None
    try:
        hc = yaml.safe_load(path.read_text())
        return hc["hydra"]["runtime"]["choices"].get("experiment")
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def collect(root: Path) -> list[Run]:
    """Every run folder below ``root``: folders with results.json, config.yaml or Hydra's .hydra/.
    Symbolic links to folders are followed (a report over sweeps gathered by links), each real
    folder once."""
    folders, seen = set(), set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        if {"results.json", "config.yaml", ".hydra"} & (set(filenames) | set(dirnames)):
            folders.add(Path(dirpath))
    runs = []
    for folder in sorted(folders):
        rel = folder.relative_to(root).parts if folder != root else ()
        if any(part.startswith(".") or part in ("checkpoints", "predictions", "figures") for part in rel):
            continue  # Hydra's .hydra/, submitit's .submitit/ and a run's own subfolders
        if (folder / "multirun.yaml").is_file() and not (folder / "config.yaml").is_file():
            continue  # a sweep folder itself
        res = _read_json(folder / "results.json") if (folder / "results.json").is_file() else None
        cfg_path = folder / "config.yaml"
        if cfg_path.is_file():
            raw = yaml.safe_load(cfg_path.read_text()) or {}
        elif (folder / ".hydra" / "config.yaml").is_file():
            raw = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text()) or {}
        else:
            raw = None
        config = flatten(raw) if raw else _config_from_results(res or {})
        run = Run(path=folder, config=config, results=res, experiment=_experiment_choice(folder))
        if raw:
            run.planted = (raw.get("task_set") or {}).get("planted") or {}
        if res is not None and config.get("primary") is None:
            config["primary"] = res.get("primary")
        sel = folder / "selection.json"
        run.selection = _read_json(sel) if sel.is_file() else None
        if run.selection_only:
            run.reason = "selection only (stage=select)"
        elif res is None:
            run.reason = failure_reason(folder) or (
                "no results.json and no error in the log (still running, killed, or never started)"
            )
        runs.append(run)
    return runs


def varying_keys(runs: list[Run]) -> list[str]:
    """Config keys whose value differs between runs (seed and launch keys excepted, and the keys that
    only choose sweep points where every run holds its primary). A ``method.*`` key counts only when
    it differs between runs of the same method, since methods have their own."""
    out = []
    ignored = NOT_GROUPING | {"method.name"}
    if all(r.config.get("primary") is not None for r in runs):
        ignored |= SWEEP_CHOOSING
    all_keys = sorted({k for r in runs for k in r.config} - ignored)
    for k in all_keys:
        if k.startswith("method."):
            by_method: dict[str, set] = {}
            for r in runs:
                by_method.setdefault(r.method, set()).add(repr(r.config.get(k, "<unset>")))
            if any(len(v) > 1 for v in by_method.values()):
                out.append(k)
        elif len({repr(r.config.get(k, "<unset>")) for r in runs}) > 1:
            out.append(k)
    return out


def _override(key: str, value: str):
    """Hydra's own reading of ``key=value`` (auxrun's grid and folders are read as Hydra made them)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides([f"{key}={value}"])[0]


def sweep_values(key: str, value: Any) -> list[Any]:
    """The values Hydra sweeps for ``key=value``: ``a,b,c``, ``range(1,4)``, ``[a,b],[c]`` (a list
    each), or the one value of a plain override; parsed (``3e-4`` and ``0.0003`` are one float)."""
    o = _override(key, str(value))
    return list(o.sweep_iterator()) if o.is_sweep_override() else [o.value()]


def _same(v: Any) -> Any:
    """A hashable stand-in for a parsed value: equal values (1e-3, 0.001) give equal stand-ins."""
    if isinstance(v, list | tuple):
        return tuple(_same(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _same(x)) for k, x in v.items()))
    return v


def missing_points(root: Path) -> list[dict[str, Any]]:
    """Sweep points that have no folder at all (never launched, or lost before Hydra made one): the grid
    of each ``multirun.yaml`` below ``root`` (its sweeper params, the command line winning) against
    the overrides each job folder records in ``.hydra/overrides.yaml``, matched by value, not by how
    the value was spelt (Hydra writes ``train.lr=3e-4`` as ``train.lr=0.0003`` in the job's folder)."""
    missing = []
    for mr in sorted(root.rglob("multirun.yaml")):
        try:
            hc = (yaml.safe_load(mr.read_text()) or {}).get("hydra", {})
        except yaml.YAMLError:
            continue
        params = dict(((hc.get("sweeper") or {}).get("params") or {}).items())
        for o in (hc.get("overrides") or {}).get("task", []):
            key, _, value = o.partition("=")
            if not key.startswith(("+", "~", "hydra")):
                params[key] = value
        grid = {}
        for k, v in params.items():
            try:
                grid[k] = sweep_values(k, v)
            except (
                HydraException
            ):  # unresolved, e.g. transfer_truth's ${auxrun.transfer_grid:...}: not checked
                continue
        swept = {k: v for k, v in grid.items() if len(v) > 1}
        if not swept:
            continue
        done = set()
        for ov in mr.parent.glob("*/.hydra/overrides.yaml"):
            got = {}
            for o in yaml.safe_load(ov.read_text()) or []:
                key, _, value = o.partition("=")
                if key in swept:
                    got[key] = _same(_override(key, value).value())
            done.add(tuple(got.get(k) for k in swept))
        for values in itertools.product(*swept.values()):
            if tuple(_same(v) for v in values) not in done:
                fixed = {k: v[0] for k, v in grid.items() if k == "primary" and len(v) == 1}
                missing.append({"sweep": str(mr.parent), **fixed, **dict(zip(swept, values))})
    return missing

"""The commands that produced the runs below a report's folder, for the page's header: one row per
sweep with its ``auxrun -m ...`` command, how many runs it left and their summed wall time.

A sweep's command is its folder's ``multirun.yaml``. Hydra writes that file once per sweep into the
sweep folder, so a later sweep into the same folder replaces it: experiment=transfer_truth's folder is
fixed by task set and backbone, and the glue6 measurement ran as two sweeps that split the primaries
(``'task_set.primaries=[cola,mrpc,rte]'``, then the other three). Each job's ``.hydra/hydra.yaml``
still holds the job's own overrides and the sweeper params it was expanded from; a job that the
folder's multirun.yaml does not produce gets its command rebuilt from them (its overrides less the
sweeper params that the experiment's grid gives, jobs that differ in one key joined as ``key=a,b``),
and the row says so. A run outside a sweep is its own command (results.json ``provenance.command``).
"""

from __future__ import annotations

import os
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.errors import HydraException

from auxrun.reporting.runs import Run, _override, _same, sweep_values


@dataclass
class Sweep:
    command: str  # "auxrun -m ..." (or "auxrun ..." for runs outside a sweep)
    folder: Path  # the sweep folder (the runs' common folder for runs outside a sweep)
    runs: list[Run] = field(default_factory=list)
    rebuilt: bool = False  # rebuilt from the jobs' overrides: the folder's multirun.yaml is another sweep's

    @property
    def wall_s(self) -> float:
        return sum(r.wall_s() for r in self.runs)


def _hydra_of(folder: Path) -> dict[str, Any]:
    for path in (folder / ".hydra" / "hydra.yaml", folder / "multirun.yaml"):
        if path.is_file():
            try:
                return (yaml.safe_load(path.read_text()) or {}).get("hydra") or {}
            except (OSError, yaml.YAMLError, AttributeError):
                return {}
    return {}


def _task(hc: dict[str, Any]) -> list[str]:
    return [str(o) for o in ((hc.get("overrides") or {}).get("task") or [])]


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _is_job_of_a_sweep(hc: dict[str, Any]) -> bool:
    return hc.get("mode") == "MULTIRUN" or "hydra.mode=MULTIRUN" in (
        (hc.get("overrides") or {}).get("hydra") or []
    )


def _sweep_folder(run: Run, root: Path) -> Path:
    """The nearest folder above the run that holds a multirun.yaml (within root), else its parent."""
    for folder in [run.path.parent, *run.path.parent.parents]:
        if (folder / "multirun.yaml").is_file():
            return folder
        if folder == root or root not in folder.parents:
            break
    return run.path.parent


def _values(override: str) -> set | None:
    """The parsed values a sweep override expands to; None where Hydra cannot read it alone
    (an interpolation such as transfer_truth's grid): any value then matches."""
    key, _, value = override.partition("=")
    try:
        return {_same(v) for v in sweep_values(key.lstrip("+"), value)}
    except (HydraException, ValueError, TypeError):
        return None


def produces(sweep_task: list[str], job_task: list[str], params: set[str]) -> bool:
    """Whether a sweep launched with ``sweep_task`` makes a job with overrides ``job_task``: every key
    of the sweep's command set to one of its values, and every other override one of the sweeper
    params (``params``, the experiment's grid)."""
    swept = {_key(o): _values(o) for o in sweep_task}
    job = {_key(o): o for o in job_task}
    if set(swept) - set(job):
        return False
    for key, o in job.items():
        if key not in swept:
            if key not in params:
                return False
            continue
        allowed = swept[key]
        if allowed is None:
            continue
        try:
            if _same(_override(key, o.partition("=")[2]).value()) not in allowed:
                return False
        except (HydraException, ValueError, TypeError):
            return False
    return True


def _join(groups: dict[tuple[tuple[str, tuple[str, ...]], ...], list[Run]]) -> dict[tuple, list[Run]]:
    """Rebuilt commands of one folder that differ in one key's value only become one ``key=a,b``."""
    merged = True
    while merged:
        merged = False
        keys = list(groups)
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                if [k for k, _ in a] != [k for k, _ in b]:
                    continue
                differ = [j for j, ((_, va), (_, vb)) in enumerate(zip(a, b)) if va != vb]
                if len(differ) != 1:
                    continue
                j = differ[0]
                joined = list(a)
                joined[j] = (a[j][0], tuple(dict.fromkeys(a[j][1] + b[j][1])))
                members = groups.pop(a) + groups.pop(b)
                groups.setdefault(tuple(joined), []).extend(members)
                merged = True
                break
            if merged:
                break
    return groups


def _command(parts: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    return shlex.join(["auxrun", "-m", *(f"{k}={','.join(vs)}" for k, vs in parts)])


def _parsed(key: str, value: str) -> Any:
    try:
        return _same(_override(key, value).value())
    except (HydraException, ValueError, TypeError):
        return value


def _rebuilt(groups: dict[tuple, list[Run]], grid: dict[str, set | None]) -> dict[str, list[Run]]:
    """Commands for jobs no multirun.yaml produces: their overrides, jobs that differ in one key joined
    (``seed=1,2``), and a sweeper param left out where the jobs hold the experiment's whole grid of it."""
    out: dict[str, list[Run]] = defaultdict(list)
    for parts, members in _join(groups).items():
        kept = tuple(
            (k, vs)
            for k, vs in parts
            if not (grid.get(_key(k)) and {_parsed(_key(k), v) for v in vs} == grid[_key(k)])
        )
        out[_command(kept)].extend(members)
    return out


def sweeps(runs: list[Run], root: Path) -> list[Sweep]:
    """The runs grouped by the command that made them (see the module's docstring)."""
    found: dict[tuple[Path, str, bool], Sweep] = {}
    rebuild: dict[Path, dict[tuple, list[Run]]] = defaultdict(dict)
    grids: dict[Path, dict[str, set | None]] = defaultdict(dict)
    singles: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        hc = _hydra_of(run.path) if (run.path / ".hydra").is_dir() else {}
        if not hc or not _is_job_of_a_sweep(hc):
            command = ((run.results or {}).get("provenance") or {}).get("command")
            if command is None and hc:
                command = shlex.join(["auxrun", *_task(hc)])
            singles[command or "unknown (no provenance in results.json, no .hydra/)"].append(run)
            continue
        folder = _sweep_folder(run, root)
        sweep_task = _task(_hydra_of(folder)) if (folder / "multirun.yaml").is_file() else None
        job_task = _task(hc)
        params = {str(k): str(v) for k, v in (((hc.get("sweeper") or {}).get("params")) or {}).items()}
        if sweep_task is not None and produces(sweep_task, job_task, set(params)):
            command = shlex.join(["auxrun", "-m", *sweep_task])
            found.setdefault((folder, command, False), Sweep(command, folder)).runs.append(run)
            continue
        # the experiment's grid of each param; None (an interpolation, e.g. transfer_truth's pools):
        # the experiment makes it, so the command leaves it out
        grid = {k: _values(f"{k}={v}") for k, v in params.items()}
        grids[folder].update(grid)
        parts = tuple(
            (o.partition("=")[0], (o.partition("=")[2],))
            for o in job_task
            if not (_key(o) in grid and grid[_key(o)] is None)
        )
        rebuild[folder].setdefault(parts, []).append(run)
    for folder, groups in rebuild.items():
        for command, members in _rebuilt(groups, grids[folder]).items():
            found.setdefault((folder, command, True), Sweep(command, folder, rebuilt=True)).runs.extend(
                members
            )
    out = sorted(found.values(), key=lambda s: (str(s.folder), s.rebuilt, s.command))
    for command, members in sorted(singles.items()):
        common = Path(os.path.commonpath([str(r.path) for r in members]))
        out.append(Sweep(command, common, members))
    return out


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def _count(runs: list[Run]) -> str:
    finished = sum(r.status == "finished" for r in runs)
    selected = sum(r.status == "selection only" for r in runs)
    other = len(runs) - finished - selected
    if finished == len(runs):
        return str(finished)
    if selected == len(runs):
        return f"{selected} selection only"
    parts = [
        f"{n} {what}"
        for n, what in ((finished, "finished"), (selected, "selection only"), (other, "unfinished"))
        if n
    ]
    return f"{len(runs)}: {', '.join(parts)}"


def sweeps_table(runs: list[Run], root: Path) -> tuple[list[str], list[list[str]]]:
    """A row per sweep: its folder (relative to root), runs, summed wall time, the command."""
    rows = []
    for s in sweeps(runs, root):
        where = s.folder.relative_to(root).as_posix() if s.folder.is_relative_to(root) else str(s.folder)
        command = "`" + s.command.replace("|", "\\|") + "`"
        if s.rebuilt:
            command += " (rebuilt from the runs' overrides: a later sweep into this folder replaced its multirun.yaml)"
        rows.append([f"`{where}`", _count(s.runs), _duration(s.wall_s), command])
    return ["sweep folder", "runs", "wall time (stages summed)", "command"], rows

"""What produced a run: package versions, the git commit, the device, the command, and under Slurm the
job (results.json)."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from typing import Any

from auxrun.paths import PACKAGE_DIR, REPO_DIR


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """The commit of the checkout auxrun runs from; None for an installed copy (no clone around it).
    ``+dirty`` marks uncommitted changes to tracked files."""
    try:
        top = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if top.returncode != 0:
            return None
        toplevel, commit = top.stdout.split()[:2]
        if platform.system() != "Windows" and toplevel != str(REPO_DIR):
            return None  # auxrun installed inside some other repository's tree
        dirty = subprocess.run(
            ["git", "-C", str(REPO_DIR), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


_AT_START: list[str | None] = []


def commit_at_start() -> str | None:
    """The commit of the code this process runs: ``git_commit()`` at its first call, which
    ``run_job`` makes as a job starts. A sweep's points run in one process on the code it imported
    when it started: a commit or an edit made while it runs must not be credited to its later points."""
    if not _AT_START:
        _AT_START.append(git_commit())
    return _AT_START[0]


def device_name(device: str) -> str:
    """The device a run trained on. On the CPU this names the kernel set torch dispatched to
    (``AVX512``, ``AVX2``, ``DEFAULT``; ``ATEN_CPU_CAPABILITY`` chooses another): two machines with
    different kernel sets sum in another order, and their float metrics may differ from the fourth
    decimal (docs/guides/resume-and-caches.md, Determinism)."""
    import torch

    if device != "cpu" and torch.cuda.is_available():
        index = int(device.split(":")[1]) if device.startswith("cuda:") else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    kernels = torch.backends.cpu.get_cpu_capability()
    return f"cpu ({platform.processor() or platform.machine()}, {kernels} kernels)"


def command() -> str:
    """This run's command: ``auxrun`` and its overrides (a sweep point's own, not the sweep's)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return shlex.join(["auxrun", *HydraConfig.get().overrides.task])
    return shlex.join(["auxrun", *sys.argv[1:]])


def slurm_job() -> dict[str, Any] | None:
    """The Slurm job that ran this: its id, the array job and index of a sweep point, how many times
    Slurm requeued it (a preemption, a time limit); None outside Slurm."""
    env = os.environ
    if "SLURM_JOB_ID" not in env:
        return None

    def number(key: str) -> int | None:
        return int(env[key]) if env.get(key, "").isdigit() else None

    return {
        "job_id": env["SLURM_JOB_ID"],
        "array_job_id": env.get("SLURM_ARRAY_JOB_ID"),
        "array_task_id": number("SLURM_ARRAY_TASK_ID"),
        "restart_count": number("SLURM_RESTART_COUNT") or 0,
        "node": env.get("SLURMD_NODENAME"),
    }


def provenance(device: str) -> dict[str, Any]:
    import auxrun

    out = {
        "auxrun": _version("auxrun") or auxrun.__version__,
        "git_commit": commit_at_start(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "datasets": _version("datasets"),
        "device": device_name(device),
        "command": command(),
    }
    if (job := slurm_job()) is not None:  # absent outside Slurm
        out["slurm"] = job
    return out

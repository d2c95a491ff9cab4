"""Hydra's submitit launchers as auxrun runs sweeps with them (``hardware=slurm``, ``hardware=local_parallel``).

What they add to ``hydra_submitit_launcher``'s, each for something seen on a real Slurm:

- **In the job**, before the point runs: a result file left by an earlier attempt of this job (one
  that Slurm killed while submitit was writing it leaves ``<job>_result.pkl.save_tmp``, on which
  every later attempt's save fails) is removed; two tasks of one job (``tasks_per_node=2``) get
  torch.distributed's variables (``hardware=multi_gpu`` under Slurm, no torchrun); after Slurm's
  SIGTERM (requeue, preemption, scancel), an error on the way out is not the point's failure: the
  job waits for the SIGKILL without a result, and its requeued attempt resumes the run.
- **In the driver**, a point whose job ends without a result (``scancel``, a node failure, killed for
  good) is a failed point like any other: ``error.txt`` in its folder says why, every other point is
  still collected, and the sweep summary and ``auxrun-report`` list it.
- **Job states without accounting.** submitit asks ``sacct``; on a cluster without accounting (many
  small ones) that fails at every poll with three warnings, and a job that ended without a result is
  never seen to end, so the driver polled forever. Where ``AccountingStorageType`` is
  ``accounting_storage/none`` the states come from ``scontrol show job`` (which keeps a finished job
  for ``MinJobAge``, 300 s by default), said once in one line.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
from omegaconf import open_dict

log = logging.getLogger("auxrun")


def prepare_job() -> None:
    """In the job, before the point runs (every attempt: a requeued job starts here again)."""
    import submitit

    env = submitit.JobEnvironment()
    result = env.paths.result_pickle
    result.with_name(result.name + ".save_tmp").unlink(missing_ok=True)
    result.unlink(missing_ok=True)  # an earlier attempt's: this attempt writes its own
    _note_sigterm()
    if env.num_tasks > 1:  # data parallel across the job's tasks (auxrun/training/distributed.py)
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def _note_sigterm() -> None:
    """Chain a SIGTERM handler before submitit's (which lets the job carry on until Slurm's SIGKILL):
    it marks the job as terminating (auxrun.job.TERMINATING), so that an error on the way out is not
    written down as the point's failure."""
    import signal

    from auxrun.job import TERMINATING

    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        TERMINATING.set()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


class _AuxrunLauncher:
    _EXECUTOR: str

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        prepare_job()
        return super().__call__(*args, **kwargs)  # type: ignore[misc]

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Hydra's launch (hydra_submitit_launcher 1.2), collecting each job's result on its own: a
        job that ends without a result is a failed point; the others are collected as usual."""
        import submitit
        from hydra.core.singleton import Singleton
        from hydra.core.utils import filter_overrides
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from omegaconf import OmegaConf

        params = dict(self.params)  # type: ignore[attr-defined]
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in base else f"{self._EXECUTOR}_{k}": v for k, v in params.items()}
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))  # type: ignore[attr-defined]
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Submitit '%s' sweep output dir : %s", self._EXECUTOR, sweep_dir)
        args = []
        for i, overrides in enumerate(job_overrides):
            log.info("\t#%d : %s", initial_job_idx + i, " ".join(filter_overrides(overrides)))
            num = initial_job_idx + i
            args.append((list(overrides), "hydra.sweep.dir", num, f"job_id_for_{num}", Singleton.get_state()))
        jobs = self._submit(executor, args)
        returns = []
        for (overrides, _, num, _, _), job in zip(args, jobs, strict=True):
            try:
                returns.append(job.results()[0])
            except Exception as e:  # the job ended without a result, or submitit's own code raised
                returns.append(self._failed(overrides, num, job, e))
        return returns

    def _submit(self, executor: Any, args: list[tuple[Any, ...]]) -> list[Any]:
        return executor.map_array(self, *zip(*args, strict=True))

    def _failed(self, overrides: list[str], num: int, job: Any, error: Exception) -> JobReturn:
        """A point whose job gave no result: ``error.txt`` in its folder, as a failed point writes."""
        import sys

        from auxrun.io import write_text_atomic
        from auxrun.job import ERROR_FILE

        folder = self._point_folder(overrides, num)
        message = _why(job, error)
        if not (folder / ERROR_FILE).is_file() and not (folder / "results.json").is_file():
            write_text_atomic(folder / ERROR_FILE, message + "\n")
        print(f"auxrun: error: sweep point {num} ({folder}): {message}", file=sys.stderr)
        return JobReturn(
            overrides=overrides, working_dir=str(folder), status=JobStatus.COMPLETED, _return_value=None
        )

    def _point_folder(self, overrides: list[str], num: int) -> Path:
        loader = self.hydra_context.config_loader  # type: ignore[attr-defined]
        config = loader.load_sweep_config(self.config, overrides)  # type: ignore[attr-defined]
        with open_dict(config.hydra.job):
            config.hydra.job.num = num
        return Path(str(self.config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)  # type: ignore[attr-defined]


def _why(job: Any, error: Exception) -> str:
    """One line: why a job gave no result, and where its log is."""
    state = ""
    try:
        info = job.watcher.get_info(job.job_id, mode="cache")
        state = " ".join(v for v in (info.get("State"), info.get("Reason")) if v and v != "None")
    except Exception:
        pass
    stderr = job.paths.stderr
    text = str(error).strip().splitlines()
    last = next((ln.strip() for ln in reversed(text) if ln.strip()), type(error).__name__)
    from submitit.core.utils import UncompletedJobError

    if isinstance(error, UncompletedJobError) or not text:  # no result file: killed, never started
        return f"Slurm job {job.job_id} ended {state or 'without a state'} and gave no result; log: {stderr}"
    return f"{last} (job {job.job_id}; log: {stderr})"


class AuxrunSlurmLauncher(_AuxrunLauncher, SlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from submitit.slurm.slurm import SlurmJob

        if not isinstance(SlurmJob.watcher, SlurmStates):
            SlurmJob.watcher = SlurmStates(delay_s=60)
        return super().launch(job_overrides, initial_job_idx)


class AuxrunLocalLauncher(_AuxrunLauncher, LocalLauncher):
    """submitit's local executor starts every point at once (270 processes for the planted check on
    a 2-core machine); this one keeps at most ``array_parallelism`` running, as Slurm's array limit
    does, and starts the next point as one ends. Unset, it is the machine's cores over
    ``cpus_per_task``."""

    _POLL_S = 0.5

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        self.params = dict(self.params)  # type: ignore[attr-defined]
        self._width = self.params.pop("array_parallelism", None) or local_width(
            self.params.get("cpus_per_task")
        )
        return super().launch(job_overrides, initial_job_idx)

    def _submit(self, executor: Any, args: list[tuple[Any, ...]]) -> list[Any]:
        jobs: list[Any] = []
        running: list[Any] = []
        for a in args:
            while len(running) >= self._width:
                time.sleep(self._POLL_S)
                running = [j for j in running if not j.done()]
            job = executor.submit(self, *a)
            jobs.append(job)
            running.append(job)
        return jobs


def local_width(cpus_per_task: int | None) -> int:
    """How many sweep points ``hardware=local_parallel`` runs at once by default."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, int(cpus_per_task or 1)))


PLUGIN_NAMES = "hydra_plugins.auxrun"  # the names conf/hydra/launcher/auxrun_*.yaml give as _target_


def register_launchers() -> None:
    """Hydra instantiates a launcher only by a class name under ``hydra_plugins.`` that its plugin
    discovery knows. auxrun's launchers stay in this module (where a job unpickling one finds it:
    auxrun ships no ``hydra_plugins`` package) and are made known under ``hydra_plugins.auxrun.*``."""
    from hydra.core.plugins import Plugins

    plugins = Plugins.instance()
    for cls in (AuxrunSlurmLauncher, AuxrunLocalLauncher):
        plugins.class_name_to_class[f"{PLUGIN_NAMES}.{cls.__name__}"] = cls


# ---- job states on a cluster without accounting -----------------------------------------------------


def _expand(tasks: str) -> list[str]:
    """``0-3%2`` / ``1,4-5`` (scontrol's ArrayTaskId of a pending array) as task indices."""
    out = []
    for part in tasks.split("%")[0].split(","):
        if "-" in part:
            low, high = part.split("-")
            out += [str(i) for i in range(int(low), int(high) + 1)]
        elif part:
            out.append(part)
    return out


def parse_scontrol_jobs(text: str) -> dict[str, dict[str, str]]:
    """``scontrol show job -o`` (one job a line) as {submitit job id: {"State", "Reason", ...}}."""
    jobs: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "JobId" not in fields:
            continue
        info = {"State": fields.get("JobState", "UNKNOWN"), "Reason": fields.get("Reason", "")}
        array, task = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
        if array and task:
            for t in _expand(task):
                jobs[f"{array}_{t}"] = info
        else:
            jobs[fields["JobId"]] = info
    return jobs


def accounting_enabled() -> bool:
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return True  # cannot tell: submitit's own sacct polling
    return "accounting_storage/none" not in out.stdout


def _slurm_states_watcher() -> type:
    from submitit.slurm.slurm import SlurmInfoWatcher

    class SlurmStates(SlurmInfoWatcher):
        """sacct where the cluster keeps accounting; ``scontrol show job`` where it does not."""

        accounting: bool | None = None

        def update(self) -> None:
            if self.accounting is None:
                self.accounting = accounting_enabled()
                if not self.accounting:
                    log.info("Slurm accounting is off: job states from scontrol show job")
            if self.accounting:
                super().update()
                return
            pending = self._registered - self._finished
            if not pending:
                return
            self._num_calls += 1
            try:
                out = subprocess.run(
                    ["scontrol", "show", "job", "-o"], capture_output=True, text=True, timeout=60, check=True
                ).stdout
            except (OSError, subprocess.SubprocessError):  # slurmctld busy: the next poll asks again
                self._last_status_check = time.time()
                return
            known = parse_scontrol_jobs(out)
            for job_id in pending:  # absent: ended longer than MinJobAge ago, or never known
                self._info_dict[job_id] = known.get(job_id, {"State": "GONE", "Reason": "not in scontrol"})
            self._last_status_check = time.time()
            for job_id in pending:
                if self.is_done(job_id, mode="cache"):
                    self._finished.add(job_id)

    return SlurmStates


SlurmStates = _slurm_states_watcher()

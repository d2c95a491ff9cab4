"""One Hydra job (a run, or one point of a sweep): pick the config, validate, run, report a failure.

A failure is one line, ``auxrun: error: ...``. A single run then exits with status 2 and leaves no
folder of its own behind. A sweep point instead writes the line to ``error.txt`` in its folder and
returns, so the other points run; ``auxrun.sweep.SweepSummary`` counts the failures at the end.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from auxrun.errors import AuxrunError, ConfigError
from auxrun.provenance import commit_at_start

log = logging.getLogger("auxrun")
ERROR_FILE = "error.txt"


def _cleanup_if_empty(run_dir: Path) -> None:
    """Remove the folder Hydra made when the run failed before writing any output of its own."""
    if not run_dir.is_dir():
        return
    leftovers = [p for p in run_dir.iterdir() if p.name != ".hydra" and not p.name.endswith(".log")]
    if not leftovers:
        shutil.rmtree(run_dir, ignore_errors=True)


def _check_choices(hc) -> None:
    """A ``*_schema`` entry is the schema behind a group's options, not an option itself."""
    for group, choice in hc.runtime.choices.items():
        if choice and str(choice).endswith("_schema") and not str(group).startswith("hydra"):
            raise ConfigError(
                f"{group}={choice} is not an option; see `auxrun --help` for the {group} options"
            )


def _run(dcfg: DictConfig, hc, run_dir: Path) -> float | None:
    from auxrun.io import check_writable
    from auxrun.resume import job_config
    from auxrun.run import cache_dir_of, run, save_config
    from auxrun.validate import validate_run

    _check_choices(hc)
    cfg = job_config(dcfg, run_dir, list(hc.overrides.task))
    if cfg.resume:
        done = _finished(run_dir, cfg.stage)
        if done is not None:  # resuming a finished run: its results stand (a re-run sweep skips it)
            what = "selection.json" if cfg.stage == "select" else "results.json"
            print(f"auxrun: {run_dir} finished already ({what}); skipped", file=sys.stderr)
            return _metric(done)
    specs = validate_run(cfg)
    check_writable(run_dir, "run folder")
    check_writable(cache_dir_of(cfg), "cache folder (cache_dir, $AUXRUN_CACHE)")
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    if not cfg.resume or _widened(run_dir, cfg.stage):
        save_config(cfg, run_dir)  # a widened stage (select -> all) is what the folder now holds
    return _metric(run(cfg, run_dir, specs))


def _widened(run_dir: Path, stage: str) -> bool:
    """A resumed stage=select run that now goes on to train (auxrun.resume.WIDENING)."""
    from omegaconf import OmegaConf

    try:
        return stage != "select" and OmegaConf.load(run_dir / "config.yaml").get("stage") == "select"
    except Exception:
        return False


def _finished(run_dir: Path, stage: str = "all") -> dict | None:
    """The run folder's results.json when it holds a finished run's results (with stage=select: its
    selection.json, once written whole); None otherwise (a damaged file means the run did not finish:
    it is resumed and rewritten)."""
    import json

    name, key = ("selection.json", "selected_tasks") if stage == "select" else ("results.json", "best")
    try:
        results = json.loads((run_dir / name).read_text())
    except (OSError, ValueError):
        return None
    return results if isinstance(results, dict) and key in results else None


def _metric(results) -> float | None:
    """The best epoch's dev main metric: what a Hydra sweeper optimises."""
    best = results.get("best", {}) if isinstance(results, dict) else {}
    main = results.get("main_metric") if isinstance(results, dict) else None
    return best.get("dev", {}).get(main) if main else None


# Set when Slurm terminates this job (SIGTERM: a requeue, a preemption, scancel; see auxrun/launcher.py).
TERMINATING = threading.Event()
KILL_WAIT_LIMIT_S = 600  # Slurm's KillWait is seconds to minutes; a SIGTERM not from Slurm ends the wait


def _yield_to_slurm(error: BaseException) -> None:
    """A job Slurm is terminating that fails on the way (its DataLoader workers got the SIGTERM too)
    has not failed as a point: it ends without a result and without error.txt, waiting for the
    SIGKILL, and its requeued attempt resumes the run (scancel: the driver reports it killed)."""
    log.warning("Slurm is terminating this job; %s on the way is left to the requeue", type(error).__name__)
    deadline = time.monotonic() + KILL_WAIT_LIMIT_S
    while time.monotonic() < deadline:
        time.sleep(1)


def interrupted(run_dir: Path | None, sweep_dir: Path | None) -> None:
    """Exit 130 (as a shell does after Ctrl-C) with one line: where the run stands, how to resume."""
    from auxrun.resume import resume_command, standing

    where = f"{run_dir}: {standing(run_dir)}" if run_dir is not None and run_dir.is_dir() else "nothing ran"
    command = resume_command(run_dir, sweep_dir, sys.argv[1:])
    print(f"auxrun: interrupted; {where}; resume with: {command}", file=sys.stderr)
    sys.exit(130)


def run_job(dcfg: DictConfig) -> float | None:
    commit_at_start()  # the code this process runs, before anyone edits the checkout (provenance)
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    sweep = hc.mode == RunMode.MULTIRUN
    had_config = (run_dir / "config.yaml").exists()
    try:
        return _run(dcfg, hc, run_dir)
    except KeyboardInterrupt:  # Ctrl-C: one line, where the run stands and how to continue it
        interrupted(run_dir, Path(str(hc.sweep.dir)) if sweep else None)
    except AuxrunError as e:
        message = str(e)
    except OSError as e:
        if e.filename is None and not sweep:
            raise
        log.debug("OS error", exc_info=True)
        where = f"{e.filename}: " if e.filename else ""
        message = f"cannot write or read {where}{e.strerror or type(e).__name__}"
    except Exception as e:  # a bug or a crash in one sweep point must not stop the others
        if TERMINATING.is_set():
            _yield_to_slurm(e)
        if not sweep:
            raise
        log.exception("sweep point %s failed", hc.job.num)
        message = f"{type(e).__name__}: {' '.join(str(e).split())} (traceback in {run_dir / 'cli.log'})"
    if not had_config and not (run_dir / "selection.json").exists():
        (run_dir / "config.yaml").unlink(missing_ok=True)
    if sweep:
        from auxrun.io import write_text_atomic

        try:
            write_text_atomic(run_dir / ERROR_FILE, message + "\n")
        except OSError:
            pass  # the folder itself is what failed; the line below still reports it
        print(f"auxrun: error: sweep point {hc.job.num} ({run_dir}): {message}", file=sys.stderr)
        return None
    if not had_config:
        _cleanup_if_empty(run_dir)
    print(f"auxrun: error: {message}", file=sys.stderr)
    sys.exit(2)

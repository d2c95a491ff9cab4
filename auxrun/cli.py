"""The ``auxrun`` entry point: compose the config with Hydra, then run the job (auxrun/job.py).

Errors a user can fix, Hydra's composition errors included, are one line and exit status 2; a sweep
runs every point, reports each failed one, and exits with status 1 when any failed.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

import hydra
from omegaconf import DictConfig

from auxrun.hydra_setup import register_configs
from auxrun.paths import CONF_DIR
from auxrun.sweep import (
    FAILED,
    completion_query,
    filter_completions,
    hydra_error_line,
    precheck,
    sweep_dir_of,
)

register_configs()


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(dcfg: DictConfig) -> float | None:
    from auxrun.job import run_job

    return run_job(dcfg)


def _fail(message: str) -> None:
    print(f"auxrun: error: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = sys.argv[1:]
    if completion_query(argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            _hydra_main()
        sys.stdout.write(filter_completions(out.getvalue()))
        return
    problem = precheck(argv)
    if problem:
        _fail(problem)
    if "-m" in argv or "--multirun" in argv:
        from auxrun.launcher import register_launchers

        register_launchers()  # hardware=slurm / local_parallel: auxrun's submitit launchers
    user_full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra's errors reach us, to print them in one line
    try:
        _hydra_main()
    except KeyboardInterrupt:  # outside a job (composing, or a sweep's driver waiting for its jobs)
        from auxrun.job import interrupted

        interrupted(None, sweep_dir_of(argv))
    except Exception as e:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        if user_full_error:
            raise
        if isinstance(e, HydraException | OmegaConfBaseException):
            _fail(hydra_error_line(e))
        if isinstance(e, OSError) and e.filename is not None:  # Hydra could not make the run folder
            _fail(f"cannot create or write {e.filename}: {e.strerror}")
        raise
    if FAILED:
        sys.exit(1)


if __name__ == "__main__":
    main()

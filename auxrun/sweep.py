"""What the ``auxrun`` command does around Hydra: the end-of-sweep summary, Hydra's own errors as
one line, the checks that must run before Hydra creates a folder, and the options offered to a user.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

# Config groups a user does not pick: task/ holds task files read by auxrun, setting/ is chosen from
# task_set and method; ``*_schema`` entries are the schemas behind the options.
HIDDEN_GROUPS = ("task", "setting", "parts")
FAILED: list[str] = []  # the failed points of the sweep that just ended (read by cli.main)
LAST_SWEEP: list[Path] = []  # the folder of the sweep that started last (an interrupted driver's)


def _hidden(option: str) -> bool:
    name = option.lstrip("+~")
    group = re.split(r"[=/]", name, maxsplit=1)[0]
    return group in HIDDEN_GROUPS or name.endswith("_schema")


class SweepSummary(Callback):
    """After a sweep: how many points ran, how many failed, and each failed point's folder."""

    started: float | None = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        LAST_SWEEP[:] = [Path(str(config.hydra.sweep.dir))]
        self.started = time.time() - 2.0  # a margin for file times on a shared file system

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        from auxrun.job import ERROR_FILE

        sweep_dir = Path(str(config.hydra.sweep.dir))
        since = self.started or 0.0

        def fresh(path: Path) -> bool:  # written by this sweep: a fixed sweep folder holds earlier ones
            try:
                return path.stat().st_mtime >= since
            except OSError:
                return False

        points = (  # a point whose job never started has no .hydra/, only the error.txt the driver wrote
            sorted(
                p
                for p in sweep_dir.iterdir()
                if fresh(p / ".hydra" / "overrides.yaml") or fresh(p / ERROR_FILE)
            )
            if sweep_dir.is_dir()
            else []
        )
        failed = [p for p in points if fresh(p / ERROR_FILE)]
        FAILED[:] = [str(p) for p in failed]
        if failed:
            print(f"auxrun: {len(failed)} of {len(points)} sweep points failed:", file=sys.stderr)
            for p in failed:
                print(f"  {p}: {(p / ERROR_FILE).read_text().strip()}", file=sys.stderr)
        else:
            print(f"auxrun: all {len(points)} sweep points finished ({sweep_dir})", file=sys.stderr)


def hydra_error_line(e: BaseException) -> str:
    """A Hydra composition error as one line, without the ``*_schema`` entries among the options."""
    text = str(e)
    if e.__cause__ is not None and str(e.__cause__) not in text:
        text += "\n" + str(e.__cause__)
    text = text.split("\nConfig search path:")[0]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not _hidden(ln) and not ln.startswith(("full_key:", "object_type="))]
    out, options = [], []
    for ln in lines:
        if out and out[-1].lower().startswith("available options") and re.fullmatch(r"[\w.-]+", ln):
            options.append(ln)
            continue
        if options:
            out[-1] += " " + ", ".join(options)
            options = []
        out.append(ln)
    if options:
        out[-1] += " " + ", ".join(options)
    out = [ln for ln in out if not ln.startswith("To append to your config use")]
    line = "; ".join(out).replace(".; ", ": ")
    return line


def _override(argv: list[str], key: str) -> str | None:
    for a in argv:
        if a.startswith(f"{key}="):
            return a.split("=", 1)[1]
    return None


def sweep_dir_of(argv: list[str]) -> Path | None:
    """The sweep folder of a ``-m`` command, when it names one (``hydra.sweep.dir=``); the last sweep
    the driver started otherwise; None for a single run."""
    if "-m" not in argv and "--multirun" not in argv:
        return None
    named = _override(argv, "hydra.sweep.dir")
    return Path(named) if named else LAST_SWEEP[0] if LAST_SWEEP else Path("<the sweep folder>")


def precheck(argv: list[str]) -> str | None:
    """Errors to report before Hydra makes a run folder: ``resume=true`` on a folder without a run."""
    resume = _override(argv, "resume")
    if resume is None or resume.lower() != "true" or "-m" in argv or "--multirun" in argv:
        return None
    run_dir = _override(argv, "hydra.run.dir")
    if run_dir is None:
        return "resume=true needs hydra.run.dir=<run folder> (a folder holding config.yaml)"
    if not (Path(run_dir) / "config.yaml").is_file():
        return f"resume=true: {Path(run_dir) / 'config.yaml'} not found; point hydra.run.dir at an auxrun run folder"
    return None


def completion_query(argv: list[str]) -> bool:
    return any(a in ("-sc", "--shell-completion") for a in argv) and any(a.startswith("query=") for a in argv)


def filter_completions(text: str) -> str:
    """Tab completion prints the candidates space-separated; drop the ones a user does not pick."""
    out = []
    for line in text.splitlines():
        words = [w for w in line.split(" ") if w and not _hidden(w)]
        out.append(" ".join(words))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def help_groups() -> str:
    """The ``Config groups`` block of ``auxrun --help``: each group a user picks, with its options."""
    from auxrun.paths import CONF_DIR

    lines = []
    for group in sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir()):
        if group in HIDDEN_GROUPS or group == "hydra":
            continue
        options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        lines.append(f"{group}: {', '.join(options)}")
    return "\n".join(lines)

"""The planted check with ``--jobs 2`` against ``--jobs 1``, one after the other in this process.

Runs ``scripts/planted_check.py --method M`` (default random_sampling: short runs, so start-up is a
fair share of each) on the planted pool for ``--seeds``, once one run at a time and once two at a
time, each with a fresh artifact cache built beforehand by an untimed warm-up check (so neither pays
for the toy files or the backbone). Prints both wall times and the CPU seconds the check reports.
Run it alone: on a 2-core machine a second job on the cores is what ``--jobs 2`` measures.
Last line: ``speedup <jobs-1 wall / jobs-2 wall>``.

    python bench/planted_check_jobs.py [--method random_sampling] [--seeds 1-2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def check(method: str, seeds: str, jobs: int, out: Path, cache: Path) -> tuple[float, float]:
    """(wall seconds, the check's own CPU seconds) of one planted check."""
    cmd = [sys.executable, str(REPO / "scripts" / "planted_check.py"), "--method", method]
    cmd += ["--seeds", seeds, "--jobs", str(jobs), "--out", str(out), "--cache", str(cache)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"planted check failed (--jobs {jobs}):\n{r.stderr[-2000:]}")
    return wall, json.loads((out / "planted_check.json").read_text())["cpu_seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="random_sampling")
    ap.add_argument("--seeds", default="1-2")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        check(args.method, "1", 1, Path(tmp) / "warm", cache)  # builds the toy files and the backbone
        walls = {}
        for jobs in (1, 2):
            wall, cpu = check(args.method, args.seeds, jobs, Path(tmp) / f"jobs{jobs}", cache)
            walls[jobs] = wall
            print(f"--jobs {jobs}: {wall:.1f} s wall, {cpu:.1f} s CPU in the runs", flush=True)
    print(f"speedup {walls[1] / walls[2]:.2f}")


if __name__ == "__main__":
    main()

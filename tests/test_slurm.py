"""Sweeps on a real one-node Slurm (scripts/slurm_local.sh): a job array, a requeue mid-epoch with and
without DataLoader workers, the time-limit signal, a point killed for good, a cache entry two points
need at once, and data parallelism across two tasks of one job. Each ends in the results of an
uninterrupted local run of the same point.

Needs root and Debian's slurm-wlm and munge (installed with apt-get when missing); skipped only
where they cannot be installed."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAST, REPO, run_auxrun

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]  # one cluster: one worker

SLURM = [
    "hardware=slurm",
    "hardware.device=cpu",
    "hardware.precision=fp32",
    "hardware.num_threads=1",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.partition=debug",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=30",
    "quiet=true",
]
POINT = ["method=single_task", *FAST, "hardware.num_threads=1"]


def _installed() -> bool:
    return all(shutil.which(c) for c in ("munged", "slurmctld", "slurmd", "sbatch"))


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node cluster for this module's tests; its daemons are stopped after them."""
    if not _installed() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"],
            env=env,
            capture_output=True,
            timeout=900,
        )
    if not _installed() or os.geteuid() != 0:
        pytest.skip("a local Slurm needs root and slurm-wlm + munge, which cannot be installed here")
    folder = tmp_path_factory.mktemp("slurm")
    script = REPO / "scripts" / "slurm_local.sh"
    env = {**os.environ, "KILL_WAIT": "2"}
    start = subprocess.run(
        ["bash", str(script), "start", str(folder)], env=env, capture_output=True, text=True
    )
    assert start.returncode == 0, start.stderr
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(folder / "slurm.conf")
    yield folder
    subprocess.run(["bash", str(script), "stop", str(folder)], capture_output=True)
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old


def _sweep(args: list[str], sweep: Path, cache: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    if cache is not None:
        env["AUXRUN_CACHE"] = str(cache)
    return subprocess.Popen(
        [sys.executable, "-m", "auxrun.cli", "-m", *SLURM, *args, f"hydra.sweep.dir={sweep}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(base: Path, pattern: str, p: subprocess.Popen, timeout: float = 300) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline and p.poll() is None:
        hits = sorted(base.glob(pattern))
        if hits:
            return hits[0]
        time.sleep(0.1)
    raise AssertionError(f"{base / pattern} never appeared (driver exit {p.poll()})")


def _job_of(point: int) -> str:
    """The Slurm id (``<array>_<index>``, or the id of a sweep's one job) of a point's running job."""
    out = subprocess.run(["squeue", "-h", "--array", "-o", "%i %T"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        job, state = line.split()
        one = "_" not in job and point == 0  # a sweep of one point is a plain job
        if (one or job.endswith(f"_{point}")) and state == "RUNNING":
            return job
    raise AssertionError(f"point {point} is not running: {out}")


def _release_requeued(job: str, timeout: float = 120) -> None:
    """Slurm holds a requeued job for a while (its begin time set ahead, reason BeginTime); a test
    lets it start at once."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout
        if out.strip() == "PENDING":
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True)
            return
        time.sleep(0.2)


def _queue_empty(timeout: float = 120) -> None:
    """Until no job is left (a requeued job that ended may run once more, and skips)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip():
            return
        time.sleep(0.5)


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def _same_as_local(results: dict, point: list[str], tmp_path: Path) -> None:
    local = run_auxrun(point, tmp_path / f"local{len(list(tmp_path.iterdir()))}")
    assert results["best"] == local["best"] and results["best_epoch"] == local["best_epoch"]


def test_a_sweep_runs_as_a_job_array_and_computes_a_shared_cache_entry_once(slurm, tmp_path):
    """Two points at once on a fresh shared cache: one computes the tokenized data, the other waits
    for it and reuses it; each point's scores are a local run's."""
    sweep, cache = tmp_path / "sweep", tmp_path / "shared-cache"
    p = _sweep([*POINT, "seed=1,2"], sweep, cache)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    assert "auxrun: all 2 sweep points finished" in err and "Bypassing sacct" not in err
    assert err.count("accounting is off") <= 1
    points = sorted(d for d in sweep.iterdir() if (d / "results.json").is_file())
    results = [_results(d) for d in points]
    jobs = [r["provenance"]["slurm"] for r in results]
    assert len({j["array_job_id"] for j in jobs}) == 1 and sorted(j["array_task_id"] for j in jobs) == [0, 1]
    notes = [n for r in results for n in r["cost_notes"].get("data/tokenized", [])]
    tasks = len(notes) // 2  # each point notes every task of the pool: computed once, reused once
    assert sum("computed" in n for n in notes) == tasks and sum("reused" in n for n in notes) == tasks, notes
    for r, seed in zip(results, (1, 2), strict=True):
        _same_as_local(r, [*POINT, f"seed={seed}"], tmp_path)


# epochs: enough that the job is still training when Slurm's SIGKILL comes (without workers an epoch
# takes a fifth of the time), so that the requeued attempt has to resume from the checkpoint
@pytest.mark.parametrize(("workers", "epochs"), [(2, 60), (0, 200)])
def test_a_requeue_mid_epoch_loses_nothing_and_reports_success(slurm, tmp_path, workers, epochs):
    point = [*POINT, f"train.epochs={epochs}", f"hardware.num_workers={workers}"]
    sweep = tmp_path / "sweep"
    p = _sweep(point, sweep)
    _wait_for(sweep, "*/checkpoints/train.pt", p)
    job = _job_of(0)
    subprocess.run(["scontrol", "requeue", job], check=True)
    _release_requeued(job)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    assert "all 1 sweep points finished" in err
    (folder,) = [d for d in sweep.iterdir() if (d / ".hydra").is_dir()]
    results = _results(folder)
    assert results["provenance"]["slurm"]["restart_count"] >= 1
    log = (folder / "cli.log").read_text()
    assert "resume: continuing after epoch" in log and "is killed by signal" not in log
    assert not list(sweep.glob(".submitit/*/*.save_tmp"))
    _queue_empty()
    _same_as_local(results, [*POINT, f"train.epochs={epochs}"], tmp_path)


def test_the_time_limit_signal_checkpoints_requeues_and_continues(slurm, tmp_path):
    """USR2, as ``--signal=USR2@N`` sends it before the time limit (hydra.launcher.signal_delay_s)."""
    point = [*POINT, "train.epochs=60", "hardware.num_workers=2"]
    sweep = tmp_path / "sweep"
    p = _sweep(point, sweep)
    _wait_for(sweep, "*/checkpoints/train.pt", p)
    job = _job_of(0)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    _release_requeued(job)  # submitit requeued it (scontrol requeue)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    (folder,) = [d for d in sweep.iterdir() if (d / ".hydra").is_dir()]
    log = (folder / "cli.log").read_text()
    assert "this job is preempted" in log and "resume: continuing after epoch" in log
    results = _results(folder)
    assert results["provenance"]["slurm"]["restart_count"] >= 1
    _queue_empty()
    _same_as_local(results, [*POINT, "train.epochs=60"], tmp_path)


def test_a_point_killed_for_good_is_reported_and_the_others_finish(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    p = _sweep([*POINT, "train.epochs=60", "primary=toy_sentiment,toy_pair"], sweep)
    _wait_for(sweep, "0_*/checkpoints/train.pt", p)
    subprocess.run(["scancel", _job_of(0)], check=True)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 1, err[-3000:]
    assert "Traceback" not in err
    killed = next(sweep.glob("0_*"))
    reason = (killed / "error.txt").read_text().strip()
    assert "CANCELLED" in reason and "gave no result" in reason
    assert "auxrun: 1 of 2 sweep points failed:" in err and f"  {killed}: {reason}" in err
    assert (next(sweep.glob("1_*")) / "results.json").is_file()
    report = subprocess.run(
        [sys.executable, "-m", "auxrun.reporting.report", str(sweep)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    unfinished = [ln for ln in report.stdout.splitlines() if killed.name in ln and "CANCELLED" in ln]
    assert unfinished, report.stdout  # the report's table of unfinished runs gives the reason


def test_two_tasks_of_one_job_train_data_parallel_as_one_process(slurm, tmp_path):
    """hardware=multi_gpu under Slurm: two tasks of one job (gloo on CPU), no torchrun."""
    args = ["method=no_sel", "task_set.tasks=[toy_sentiment,toy_rating]", "train.dropout=0", *FAST]
    single = run_auxrun([*args, "hardware.num_threads=1"], tmp_path / "one")
    sweep = tmp_path / "sweep"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        *SLURM,
        "hardware=multi_gpu",
        "hardware.num_workers=0",
        "hydra/launcher=auxrun_slurm",
        "hydra.launcher.tasks_per_node=2",
        *args,
        f"hydra.sweep.dir={sweep}",
    ]
    cmd = [c for c in cmd if c != "hardware=slurm"]
    proc = subprocess.run(
        [sys.executable, "-m", "auxrun.cli", "-m", *cmd],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder,) = [d for d in sweep.iterdir() if (d / "results.json").is_file()]
    results = _results(folder)
    ours, theirs = results["cost"]["train"]["examples_backward"], single["cost"]["train"]["examples_backward"]
    assert 0.45 * theirs <= ours <= 0.55 * theirs  # rank 0 ran half of each global batch
    assert results["best_epoch"] == single["best_epoch"]
    for split, scores in single["best"].items():
        for metric, value in scores.items():
            assert results["best"][split][metric] == pytest.approx(value, rel=1e-5), (split, metric)

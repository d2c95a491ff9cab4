"""Sweeps on a cluster: a failing point does not stop the others; a preempted job is requeued and ends
as an uninterrupted one; provenance; the Slurm settings users change."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, compose, run_auxrun


def _auxrun(args, cwd=REPO, **kw):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "auxrun.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_a_failing_point_does_not_stop_the_sweep(tmp_path):
    p = _auxrun(
        [
            "-m",
            "method=no_sel",
            "primary=bogus,toy_pair",
            "stage=inspect",
            "quiet=true",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    out, err = p.communicate(timeout=600)
    assert p.returncode == 1, err[-2000:]
    assert "Traceback" not in err
    bad, good = tmp_path / "0_toy_no_sel_bogus", tmp_path / "1_toy_no_sel_toy_pair"
    assert (good / "inspect.json").is_file()  # job 1 ran after job 0 failed
    assert "primary='bogus' is not in task_set 'toy'" in (bad / "error.txt").read_text()
    lines = err.strip().splitlines()
    assert any(ln.startswith(f"auxrun: error: sweep point 0 ({bad}): primary='bogus'") for ln in lines)
    assert "auxrun: 1 of 2 sweep points failed:" in lines
    assert lines[-1].startswith(f"  {bad}: primary='bogus'")


def test_the_summary_counts_this_sweeps_points_only(tmp_path):
    """A fixed sweep folder (experiment=transfer_truth, transfer_selectors) holds earlier sweeps'
    points: the summary counts and names only the points this sweep ran, not an old failure."""
    args = ["method=no_sel", "stage=inspect", "quiet=true", f"hydra.sweep.dir={tmp_path}"]
    out, err = _auxrun(["-m", "primary=bogus", *args]).communicate(timeout=600)
    assert "auxrun: 1 of 1 sweep points failed:" in err
    p = _auxrun(["-m", "primary=toy_pair,toy_sentiment", *args, "hydra.sweep.subdir=${primary}"])
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-2000:]
    assert err.strip().splitlines()[-1] == f"auxrun: all 2 sweep points finished ({tmp_path})"
    assert (tmp_path / "0_toy_no_sel_bogus" / "error.txt").is_file()  # still there, not this sweep's


def _task_pid(sweep: Path) -> int | None:
    """The submitit task process running this sweep's job (what Slurm signals before a time limit)."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"submitit.core._submit" in cmd and any(str(sweep).encode() in c for c in cmd):
            return int(d.name)
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the job's process through /proc")
def test_preempted_job_is_requeued_and_ends_as_an_uninterrupted_one(tmp_path):
    """hardware=local_parallel runs the point through submitit's local executor, as hardware=slurm does
    through Slurm: USR2 (Slurm's warning before a time limit or a preemption) makes submitit
    checkpoint the job and start it again; the new process continues the same run folder."""
    args = ["hardware=local_parallel", "method=single_task", "data.toy_scale=0.3", "train.epochs=6"]
    sweep = tmp_path / "sweep"
    p = _auxrun(["-m", *args, "quiet=true", f"hydra.sweep.dir={sweep}"])
    deadline = time.time() + 400
    while not list(sweep.glob("*/checkpoints/train.pt")) and p.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    pid = _task_pid(sweep)
    assert pid is not None, "the job finished before it could be interrupted"
    os.kill(pid, signal.SIGUSR2)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-2000:]
    runs = [d for d in sweep.iterdir() if (d / ".hydra").is_dir()]
    assert len(runs) == 1  # the requeued job continued its own folder
    log = (runs[0] / "cli.log").read_text()
    assert "this job is preempted" in log and "Requeued job" in log
    assert "resume: continuing after epoch" in log
    resumed = json.loads((runs[0] / "results.json").read_text())

    full = run_auxrun(args, tmp_path / "full")
    assert resumed["best"] == full["best"] and resumed["best_epoch"] == full["best_epoch"]
    assert resumed["cost"]["train"]["examples_backward"] == full["cost"]["train"]["examples_backward"]


def test_resume_auto_starts_or_continues(tmp_path):
    from omegaconf import OmegaConf

    from auxrun.resume import job_config

    dcfg = OmegaConf.structured(compose(["resume=auto", "seed=3"]))
    cfg = job_config(dcfg, tmp_path, ["resume=auto", "seed=3"])
    assert cfg.resume is False  # nothing to continue: a new run
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    cfg = job_config(dcfg, tmp_path, ["resume=auto", "seed=3"])
    assert cfg.resume is True and cfg.seed == 3


def test_results_record_provenance(tmp_path):
    import platform

    import torch
    import transformers

    import auxrun
    from tests.conftest import FAST

    results = run_auxrun(["method=single_task", *FAST, "train.epochs=1"], tmp_path)
    prov = results["provenance"]
    assert set(prov) == {
        "auxrun",
        "git_commit",
        "python",
        "torch",
        "transformers",
        "datasets",
        "device",
        "command",
    }
    assert prov["auxrun"] == auxrun.__version__ and prov["python"] == platform.python_version()
    assert prov["torch"] == torch.__version__ and prov["transformers"] == transformers.__version__
    cpu = platform.processor() or platform.machine()
    assert prov["device"] == f"cpu ({cpu}, {torch.backends.cpu.get_cpu_capability()} kernels)"
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert prov["git_commit"].split("+")[0] == head.stdout.strip()
    assert json.loads((tmp_path / "results.json").read_text())["provenance"] == prov


def test_device_names_the_cpu_kernel_set():
    """Runs on machines with different kernel sets may differ in the fourth decimal: the provenance
    says which set a run used (ATEN_CPU_CAPABILITY picks one at torch's start)."""
    code = "from auxrun.provenance import device_name; print(device_name('cpu'))"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().endswith(", DEFAULT kernels)")


def test_git_commit_is_null_outside_a_clone(tmp_path, monkeypatch):
    from auxrun import provenance

    monkeypatch.setattr(provenance, "PACKAGE_DIR", tmp_path)
    assert provenance.git_commit() is None


def test_slurm_settings_are_overrides_of_hardware_slurm():
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from auxrun.hydra_setup import register_configs
    from auxrun.paths import CONF_DIR

    register_configs()
    overrides = [
        "hardware=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.account=proj42",
        "hydra.launcher.timeout_min=240",
        "hydra.launcher.gpus_per_node=2",
        "hydra.launcher.mem_gb=64",
        "hydra.launcher.array_parallelism=8",
        "hydra.launcher.signal_delay_s=300",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        default = hydra_compose("config", overrides=["hardware=slurm"], return_hydra_config=True)
        cfg = hydra_compose("config", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.account, launcher.timeout_min) == ("gpu", "proj42", 240)
    assert (launcher.gpus_per_node, launcher.mem_gb, launcher.array_parallelism) == (2, 64, 8)
    assert launcher.signal_delay_s == 300
    assert default.hydra.launcher.max_num_timeout > 0  # a timed-out job is requeued
    assert default.hardware.requeue is True  # and continues its run folder
    assert default.hydra.launcher.partition is None and default.hydra.launcher.timeout_min == 720


def test_a_process_credits_the_commit_it_started_on(monkeypatch):
    """A sweep's points run in one process on the code it imported: a commit made while it runs is
    not the code of its later points."""
    from auxrun import provenance

    commits = iter(["aaaa", "bbbb+dirty"])
    monkeypatch.setattr(provenance, "git_commit", lambda: next(commits))
    monkeypatch.setattr(provenance, "_AT_START", [])
    assert provenance.commit_at_start() == "aaaa"
    assert provenance.provenance("cpu")["git_commit"] == "aaaa"

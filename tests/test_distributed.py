"""Data-parallel training (hardware=multi_gpu) on two CPU processes with the gloo backend: the same
global batches on two processes give the scores one process gets.

Tolerance: the two runs differ only in float summation order (each process pads its share to its own
longest example and the gradients are summed across processes), so losses agree to 1e-5 relative and
the metrics, which are computed from argmax decisions, are equal.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from tests.conftest import FAST, REPO, compose

OVERRIDES = [
    "quiet=true",
    "task_set.tasks=[toy_sentiment,toy_rating,toy_pos]",
    "train.dropout=0",  # dropout masks would differ between one process and a shared batch
    *FAST,
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(distributed: bool, out_dir) -> dict:
    import dataclasses

    from auxrun.run import build_context
    from auxrun.selection import Selection
    from auxrun.training.cost import CostLedger
    from auxrun.validate import validate_run

    torch.set_num_threads(1)
    cfg = compose([*OVERRIDES, f"hardware.distributed={str(distributed).lower()}"])
    specs = validate_run(cfg)
    ctx = build_context(cfg, out_dir, specs, CostLedger())
    sel = Selection("t", "toy_sentiment", ctx.pool.auxiliaries, ["toy_rating", "toy_pos"])
    trainer = dataclasses.replace(ctx).new_trainer(sel, "train", epochs=2, progress=False)
    summary = trainer.fit()
    weights = float(sum(p.detach().double().sum() for p in trainer.model.parameters()))
    return {"history": summary["history"], "weights": weights, "parallel": trainer.data_parallel is not None}


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    from pathlib import Path

    from auxrun.training import distributed

    assert distributed.init("gloo")
    result = _train(True, Path(out_dir))
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
    torch.distributed.destroy_process_group()


def _assert_same_scores(one: list[dict], two: list[dict]) -> None:
    assert len(one) == len(two)
    for a, b in zip(one, two):
        assert a.keys() == b.keys()
        for k in a:
            if k.endswith("loss"):
                assert b[k] == pytest.approx(a[k], rel=1e-5), k
            else:
                assert b[k] == a[k], k


@pytest.mark.slow
def test_two_processes_train_as_one(tmp_path):
    single = _train(False, tmp_path)
    assert not single["parallel"]
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(r["parallel"] for r in ranks)
    assert ranks[0]["weights"] == ranks[1]["weights"]  # the ranks stay in step exactly
    assert ranks[0]["weights"] == pytest.approx(single["weights"], rel=1e-6)
    _assert_same_scores(single["history"], ranks[0]["history"])


@pytest.mark.slow
def test_torchrun_cli_run_matches_one_process(tmp_path):
    """The launch command of the README, with hardware.device=cpu: rank 0 selects and writes the run
    folder, both ranks train, and the scores equal a one-process run's."""
    from tests.conftest import run_auxrun

    args = ["method=no_sel", "task_set.tasks=[toy_sentiment,toy_rating]", "train.dropout=0", *FAST]
    single = run_auxrun(args, tmp_path / "one")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        "-m",
        "auxrun.cli",
        "hardware=multi_gpu",
        "hardware.device=cpu",
        "hardware.precision=fp32",
        "hardware.num_workers=0",
        f"hydra.run.dir={tmp_path / 'ddp'}",
        "quiet=true",
        *args,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "ddp" / "results.json").read_text())
    # rank 0 back-propagated its half of each global batch (its ledger is the one written)
    ours, theirs = results["cost"]["train"]["examples_backward"], single["cost"]["train"]["examples_backward"]
    assert 0.45 * theirs <= ours <= 0.55 * theirs
    assert results["best_epoch"] == single["best_epoch"]
    for split, scores in single["best"].items():
        for metric, value in scores.items():
            assert results["best"][split][metric] == pytest.approx(value, rel=1e-5), (split, metric)

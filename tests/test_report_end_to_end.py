"""A toy experiment end to end: `auxrun -m experiment=toy_planted` (narrowed to a tiny grid) into a
sweep folder, then `auxrun-report --out` into a report folder; and the first run's comparison."""

import csv
import json
import os
import subprocess
import sys

import pytest

from auxrun.errors import ConfigError
from tests.conftest import FAST, REPO, compose, run_auxrun


@pytest.mark.slow
def test_toy_experiment_runs_into_a_report_folder(tmp_path):
    sweep = tmp_path / "sweep"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "auxrun.cli",
            "-m",
            "experiment=toy_planted",
            "task_set=toy",  # the toy pool and tiny backbone: the report, not the planted pool, is tested
            "backbone=tiny",
            "method=single_task,gradts_thres",  # the command line narrows the experiment's grid
            "primary=toy_sentiment",
            "seed=1,2",
            "task_set.tasks=[toy_sentiment,toy_rating,toy_noise]",
            "task_set.planted_group=false",  # the experiment's group would add toy_sentiment's other roles
            *FAST,
            "train.epochs=1",
            "quiet=true",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(list(sweep.glob("*/results.json"))) == 4
    assert all((p / "predictions" / "toy_sentiment_dev.json").is_file() for p in sweep.glob("*_toy_*"))
    from auxrun.reporting.report import main

    out = tmp_path / "report"
    main([str(sweep), "--out", str(out), "--resamples", "50"])
    md = (out / "report.md").read_text()
    assert "2 cells" in md and "| gradts_thres | single_task |" in md  # compared on the dev examples
    assert "## Planted score" in md and "| gradts_thres | all | 2 |" in md
    cells = {c["method.name"]: c for c in csv.DictReader((out / "cells.csv").open())}
    assert cells["gradts_thres"]["seeds"] == "1 2" and cells["gradts_thres"]["single_task_p"] != ""
    runs = list(csv.DictReader((out / "runs.csv").open()))
    assert len(runs) == 4 and {r["status"] for r in runs} == {"finished"}
    assert (out / "figures" / "selection_gradts_thres_toy_tiny.png").is_file()
    assert any((out / "figures" / "runs").rglob("task_correlation.png"))  # the runs' own figures


def test_the_first_run_is_a_selection_with_its_baselines():
    cfg = compose([])
    assert (cfg.method.name, cfg.task_set.name, cfg.train.epochs) == ("gradts_trial", "toy", 10)
    assert cfg.compare == ["single_task", "no_sel"]
    assert compose(["method=single_task"]).compare == []  # only the demo's method trains them
    assert compose(["compare=[]"]).compare == []
    assert compose(["task_set=glue8"]).train.epochs == 3  # the toy epochs stay on the toy pool


@pytest.mark.slow
def test_compare_trains_the_baselines_beside_the_run(tmp_path, capsys):
    res = run_auxrun(
        [
            "method=single_task",
            "task_set.tasks=[toy_sentiment,toy_rating]",
            *FAST,
            "compare=[single_task,no_sel]",
        ],
        tmp_path,
    )
    assert list(res["compare"]) == ["no_sel"]  # the run itself is the single_task row
    assert res["compare"]["no_sel"]["training_tasks"] == ["toy_sentiment", "toy_rating"]
    assert set(res["compare"]["no_sel"]["best"]["dev"]) >= {"accuracy"}
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["compare"] == res["compare"] and "compare/no_sel" in saved["cost"]
    assert saved["cost"]["train"]["examples_backward"] < saved["cost"]["compare/no_sel"]["examples_backward"]
    with pytest.raises(ConfigError, match="not baselines"):
        run_auxrun(["method=single_task", *FAST, "compare=[gradts_fg]"], tmp_path / "bad")


def test_comparison_table_prints_the_three_rows(capsys):
    from auxrun.reporting.console import print_comparison

    best = lambda v: {"dev": {"accuracy": v}}  # noqa: E731
    print_comparison(
        {
            "primary": "p",
            "method": "gradts_trial",
            "main_metric": "accuracy",
            "best": best(70.0),
            "training_tasks": ["p", "a"],
            "compare": {
                "single_task": {"best": best(60.0), "training_tasks": ["p"]},
                "no_sel": {"best": best(80.0), "training_tasks": ["p", "a", "b"]},
            },
        }
    )
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "60.00" in line or "70.00" in line or "80.00" in line]
    assert [("60.00" in ln, "70.00" in ln, "80.00" in ln) for ln in lines] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]
    assert "primary + selected (gradts_trial)" in out and "a, b" in out

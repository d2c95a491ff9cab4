"""single_task and no_sel end to end on the toy pool with the tiny model; resume; clear errors."""

import json
import os
import subprocess
import sys

import pytest

from auxrun.training.trainer import MTLTrainer
from tests.conftest import FAST, REPO, run_auxrun


def test_single_task_end_to_end(tmp_path):
    res = run_auxrun(["method=single_task", "primary=toy_pair", *FAST], tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert sel["method"] == "single_task" and sel["selected_tasks"] == [] and sel["primary"] == "toy_pair"
    assert sel["instances"] == {"toy_pair": {"kept": 81, "total": 81}}  # 90 at scale .3, minus 10% select_dev
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == json.loads(json.dumps(res))
    assert saved["main_metric"] == "accuracy" and saved["best_epoch"] in (1, 2)
    assert set(saved["best"]) == {"select_dev", "dev"}
    assert 0 <= saved["best"]["dev"]["accuracy"] <= 100
    train = saved["cost"]["train"]
    assert train["examples_backward"] == 2 * 81 and train["examples_forward"] > train["examples_backward"]
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch,train_loss,select_dev/toy_pair/accuracy")
    assert (tmp_path / "config.yaml").is_file()


def test_no_sel_trains_every_task(tmp_path):
    res = run_auxrun(["method=no_sel", "primary=toy_ner", *FAST], tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert sorted(sel["selected_tasks"]) == sorted(sel["candidates"]) and len(sel["candidates"]) == 7
    assert set(sel["instances"]) == set(res["training_tasks"])
    total = sum(v["kept"] for v in sel["instances"].values())
    assert res["cost"]["train"]["examples_backward"] == 2 * total
    assert res["main_metric"] == "seqeval_f1"


def test_same_seed_same_scores(tmp_path):
    args = ["method=no_sel", "task_set.tasks=[toy_sentiment,toy_rating]", *FAST]
    a = run_auxrun(args, tmp_path / "a")
    b = run_auxrun(args, tmp_path / "b")
    c = run_auxrun([*args, "seed=7"], tmp_path / "c")
    assert a["best"] == b["best"]
    assert (tmp_path / "a" / "metrics.csv").read_text() == (tmp_path / "b" / "metrics.csv").read_text()
    assert c["best"] != a["best"]


def test_interrupted_run_resumes_to_the_same_results(tmp_path, monkeypatch):
    args = [
        "method=no_sel",
        "task_set.tasks=[toy_pair,toy_topic]",
        "primary=toy_pair",
        *FAST,
        "train.epochs=3",
    ]
    full = run_auxrun(args, tmp_path / "full")

    original = MTLTrainer.save_checkpoint
    calls = {"n": 0}

    def crash_after_first_epoch(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(MTLTrainer, "save_checkpoint", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_auxrun(args, tmp_path / "cut")
    assert not (tmp_path / "cut" / "results.json").exists()
    resumed = run_auxrun(["resume=true", *args], tmp_path / "cut")
    assert resumed["best"] == full["best"] and resumed["best_epoch"] == full["best_epoch"]
    assert (tmp_path / "cut" / "metrics.csv").read_text() == (tmp_path / "full" / "metrics.csv").read_text()
    assert resumed["cost"]["train"]["examples_backward"] == full["cost"]["train"]["examples_backward"]


def test_a_selection_run_goes_on_to_train_when_resumed_with_stage_all(tmp_path):
    """stage=select, then the same folder resumed with stage=all (the CLI, as a sweep would): it
    trains on the saved selection without selecting again, and ends with the results and the cost
    (selection included) of one stage=all run; its config.yaml then says stage: all."""
    args = [
        "method=tag",
        "task_set.tasks=[toy_sentiment,toy_rating,toy_topic]",
        "primary=toy_sentiment",
        "data.toy_scale=0.15",
        "train.epochs=1",
        "train.batch_size=16",
    ]
    # every step through the CLI, so all three run with the same threads (a test before this one may
    # have changed this process's torch threads, and with them the last digits of a loss)
    for folder, extra in (("full", []), ("two", ["stage=select"])):
        r = _cli([*args, *extra, "quiet=true", f"hydra.run.dir={tmp_path / folder}"], REPO)
        assert r.returncode == 0, r.stderr[-2000:]
    full = json.loads((tmp_path / "full" / "results.json").read_text())
    selected = (tmp_path / "two" / "selection.json").read_text()
    r = _cli(["resume=true", "stage=all", "quiet=true", f"hydra.run.dir={tmp_path / 'two'}"], REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "two" / "results.json").read_text())
    assert res["best"] == full["best"] and res["best_epoch"] == full["best_epoch"]
    for stage in ("select", "select/tag_pass", "train"):
        assert res["cost"][stage]["examples_backward"] == full["cost"][stage]["examples_backward"], stage
    assert (tmp_path / "two" / "selection.json").read_text() == selected
    assert "stage: all" in (tmp_path / "two" / "config.yaml").read_text()
    r = _cli(["resume=true", "stage=select", f"hydra.run.dir={tmp_path / 'two'}"], REPO)
    assert r.returncode == 2 and "stage (saved 'all', given 'select')" in r.stderr


def _cli(args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "auxrun.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["task_set.tasks=[toy_sentiment,nosuch]"], "unknown task 'nosuch'; available tasks: ["),
        (["primary=toy_nope"], "primary='toy_nope' is not in task_set 'toy'; allowed: ["),
    ],
)
def test_cli_errors_are_one_line_and_leave_nothing(tmp_path, args, message):
    run_dir = tmp_path / "run"
    r = _cli([*args, f"hydra.run.dir={run_dir}"], REPO)
    assert r.returncode == 2
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert err[-1].startswith("auxrun: error: ") and message in err[-1]
    assert "Traceback" not in r.stderr
    assert not run_dir.exists()


def test_malformed_data_file_names_file_and_line(tmp_path):
    tasks, data = tmp_path / "tasks", tmp_path / "data" / "BAD"
    tasks.mkdir()
    data.mkdir(parents=True)
    (tasks / "bad.yaml").write_text(
        "name: bad\nlabels: ['0', '1']\nsources:\n  local:\n    format: glue_tsv\n    dir: BAD\n"
        "    files: {train: train.tsv, dev: dev.tsv}\n    options: {columns: {text_a: sentence, label: label}}\n"
    )
    (data / "train.tsv").write_text("sentence\tlabel\nfine words\t1\nno label here\n")
    (data / "dev.tsv").write_text("sentence\tlabel\nfine\t0\n")
    run_dir = tmp_path / "run"
    args = [
        "task_set.tasks=[bad]",
        f"data.task_dirs=[{tasks}]",
        f"data.root={tmp_path / 'data'}",
        f"hydra.run.dir={run_dir}",
    ]
    r = _cli(args, REPO)
    assert r.returncode == 2, r.stderr
    assert f"{data / 'train.tsv'}: line 3" in r.stderr.strip().splitlines()[-1]
    assert not run_dir.exists()
    (data / "train.tsv").write_text("sentence\tlabel\nfine words\t1\nodd words\tmaybe\n")
    r = _cli(args, REPO)
    assert "unknown label 'maybe'; allowed: ['0', '1']" in r.stderr.strip().splitlines()[-1]
    assert not run_dir.exists()


def test_wandb_logger_runs_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run_auxrun(["logger=wandb", "method=single_task", *FAST, "train.epochs=1"], tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0


def test_unlabelled_test_split_is_predicted_into_glue_format(tmp_path):
    fixtures = REPO / "tests" / "fixtures" / "data"
    res = run_auxrun(
        [
            "method=single_task",
            "task_set=glue8",
            "backbone=tiny",
            "task_set.tasks=[rte]",
            "primary=rte",
            f"data.root={fixtures}",
            "train.epochs=1",
        ],
        tmp_path,
    )
    assert "test" not in res["best"]  # never scored
    lines = (tmp_path / "predictions" / "RTE.tsv").read_text().splitlines()
    test_rows = (fixtures / "glue_data" / "RTE" / "test.tsv").read_text().splitlines()[1:]
    assert lines[0] == "index\tprediction" and len(lines) == 1 + len(test_rows)
    assert [r.split("\t")[0] for r in lines[1:]] == [r.split("\t")[0] for r in test_rows]
    assert {r.split("\t")[1] for r in lines[1:]} <= {"entailment", "not_entailment"}

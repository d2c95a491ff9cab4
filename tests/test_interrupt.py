"""Interruptions a user meets: Ctrl-C, and every artifact auxrun reads back found damaged (cut short by
a full disk or a copy killed half-way). Each either heals (set aside as ``<name>.damaged``, said in
one line, computed again: the results are those of an uninterrupted run) or is named in one line."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAST, REPO, run_auxrun

ONE_THREAD = ["hardware.num_threads=1"]
SINGLE = ["method=single_task", *FAST, *ONE_THREAD]


def _cut(path: Path, keep: float = 0.5) -> None:
    """Truncate a file as a full disk or a killed copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _damage_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]


def test_ctrl_c_ends_in_one_line_with_the_command_that_resumes(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    args = [*SINGLE, "train.epochs=1000", "quiet=true", f"hydra.run.dir={run_dir}"]
    p = subprocess.Popen(
        [sys.executable, "-m", "auxrun.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # ... with Ctrl-C's default disposition: a shell starts a background job (`pytest &`) with SIGINT
        # ignored, and an ignored signal stays ignored across exec, so the run would never see it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    while (
        not (run_dir / "checkpoints" / "train.pt").is_file() and p.poll() is None and time.time() < deadline
    ):
        time.sleep(0.05)
    assert p.poll() is None, "the run ended before it could be interrupted"
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group, DataLoader workers included
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"auxrun: interrupted; {run_dir}: selection done, training interrupted with ")
    assert last.endswith(f"resume with: auxrun resume=true hydra.run.dir={run_dir}")


def test_standing_and_resume_command_of_a_sweep(tmp_path):
    from auxrun.resume import resume_command, standing

    assert standing(tmp_path).startswith("the selection stage had not finished")
    cmd = resume_command(None, tmp_path, ["-m", "method=a,b", "resume=true", "hydra.sweep.dir=x"])
    assert cmd == f"auxrun -m method=a,b resume=auto hydra.sweep.dir={tmp_path}"


def test_a_damaged_checkpoint_is_set_aside_and_training_starts_again(tmp_path, caplog):
    full = run_auxrun(SINGLE, tmp_path / "full")
    run = tmp_path / "cut"
    run_auxrun(SINGLE, run)
    (run / "results.json").unlink()  # as if interrupted after the last checkpoint
    ckpt = run / "checkpoints" / "train.pt"
    _cut(ckpt)
    with caplog.at_level(logging.WARNING, logger="auxrun"):
        resumed = run_auxrun(["resume=true"], run)
    (line,) = _damage_lines(caplog)
    assert line.startswith(f"{ckpt} is damaged (") and "set aside as train.pt.damaged" in line
    assert line.endswith("the train stage starts again from epoch 1")
    assert (run / "checkpoints" / "train.pt.damaged").is_file() and ckpt.is_file()
    assert resumed["best"] == full["best"] and resumed["best_epoch"] == full["best_epoch"]


def test_a_damaged_selection_is_set_aside_and_selection_runs_again(tmp_path, caplog):
    run = tmp_path / "run"
    first = run_auxrun(SINGLE, run)
    (run / "results.json").unlink()
    _cut(run / "selection.json")
    with caplog.at_level(logging.WARNING, logger="auxrun"):
        resumed = run_auxrun(["resume=true"], run)
    (line,) = _damage_lines(caplog)
    assert "selection.json is damaged" in line and line.endswith("selection runs again")
    assert json.loads((run / "selection.json").read_text())["method"] == "single_task"
    assert resumed["best"] == first["best"]


def test_a_damaged_config_is_named_in_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("method:\n  name: [single_task\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "auxrun.cli", "resume=true", f"hydra.run.dir={run}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith(f"auxrun: error: resume: {run / 'config.yaml'} is damaged (")


@pytest.mark.parametrize("fmt", ["tsv", "csv"])
def test_a_field_of_200000_characters_is_read(tmp_path, fmt):
    from auxrun.data.formats import read_glue_tsv, read_meld_csv
    from auxrun.data.spec import TaskSpec

    long = "word " * 40_000  # 200,000 characters, over csv's default limit of 131072
    spec = TaskSpec(name="t", labels=["0", "1"])
    if fmt == "tsv":
        path = tmp_path / "train.tsv"
        path.write_text(f"sentence\tlabel\n{long}\t1\nshort\t0\n")
        rows = read_glue_tsv(path, spec, "train", {"columns": {"text_a": "sentence", "label": "label"}})
    else:
        path = tmp_path / "train.csv"
        path.write_text(f'Sr No.,Utterance,Emotion\n1,"{long}",1\n2,short,0\n')
        options = {"columns": {"uid": "Sr No.", "text_a": "Utterance", "label": "Emotion"}}
        rows = read_meld_csv(path, spec, "train", options)
    assert len(rows) == 2 and rows[0].text_a.strip() == long.strip()


def test_damaged_cache_entries_are_computed_again(tmp_path, caplog, monkeypatch):
    """Tokenized splits and the tiny tokenizer: a damaged entry is replaced, said in one line."""
    monkeypatch.setenv("AUXRUN_CACHE", str(tmp_path / "cache"))
    first = run_auxrun([*SINGLE, "train.epochs=1"], tmp_path / "a")
    entries = sorted((tmp_path / "cache").glob("artifacts/*/*.pt"))
    tokenizers = sorted((tmp_path / "cache").glob("tokenizers/*/tokenizer.json"))
    assert entries and tokenizers
    for path in [*entries, *tokenizers]:
        _cut(path)
    with caplog.at_level(logging.WARNING, logger="auxrun"):
        again = run_auxrun([*SINGLE, "train.epochs=1"], tmp_path / "b")
    lines = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(lines) == len(entries) + len(tokenizers)
    assert again["best"] == first["best"]


def test_damaged_autosem_state_is_set_aside_and_the_search_runs_again(tmp_path, caplog, monkeypatch):
    """The bandit's checkpoint (bandit.pt) and the GP's observations (gp.json), cut short while the
    GP search was interrupted: both start again, and the selection is the uninterrupted one."""
    from auxrun.methods import autosem as autosem_mod
    from tests.test_autosem import FULL, _without_wall

    full = run_auxrun([*FULL, *ONE_THREAD], tmp_path / "full")
    cut = tmp_path / "cut"
    orig = autosem_mod.save_gp_observations

    def gp_then_stop(path, state):
        orig(path, state)
        if len(state["observations"]) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(autosem_mod, "save_gp_observations", gp_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_auxrun([*FULL, *ONE_THREAD], cut)
    monkeypatch.setattr(autosem_mod, "save_gp_observations", orig)
    _cut(cut / "autosem" / "bandit.pt")
    _cut(cut / "autosem" / "gp.json")
    with caplog.at_level(logging.WARNING, logger="auxrun"):
        resumed = run_auxrun(["resume=true"], cut)
    lines = _damage_lines(caplog)
    assert len(lines) == 2
    assert any("bandit.pt is damaged" in x and x.endswith("the bandit starts again") for x in lines)
    assert any("gp.json is damaged" in x and x.endswith("the GP search starts again") for x in lines)
    a = json.loads((tmp_path / "full" / "selection.json").read_text())
    b = json.loads((cut / "selection.json").read_text())
    keep = ("method", "selected_tasks", "ratios", "gp_observations", "utilities")
    assert {k: _without_wall(a.get(k)) for k in keep} == {k: _without_wall(b.get(k)) for k in keep}
    assert resumed["best"] == full["best"]


def test_damaged_predictions_are_read_as_absent_in_one_line(tmp_path, capsys):
    from auxrun.reporting.runs import collect

    run_auxrun([*SINGLE, "train.epochs=1"], tmp_path / "run")
    pred = tmp_path / "run" / "predictions" / "toy_sentiment_dev.json"
    assert pred.is_file()
    _cut(pred)
    (run,) = collect(tmp_path)
    assert run.predictions("dev") is None
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"auxrun-report: {pred} is damaged (not JSON); read as absent"]

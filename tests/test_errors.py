"""Issue 13 section 2: every bad input or fault gets one line naming what is wrong, exit status 2, and
leaves no output behind."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auxrun.config import DataConfig
from auxrun.data.formats import READERS
from auxrun.data.sources import load_raw_splits
from auxrun.data.spec import TaskSpec, load_task_spec
from auxrun.errors import ConfigError, DataError
from tests.conftest import REPO, compose

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def _cli(args, cwd=REPO, env=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", "auxrun.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def _one_line(r, *expected):
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("auxrun: error: "), r.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# --- paths auxrun cannot create or write ---------------------------------------------------------


def test_output_folder_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    r = _cli(["stage=inspect", f"hydra.run.dir={tmp_path / 'afile' / 'run'}"])
    _one_line(r, str(tmp_path / "afile"), "Not a directory")


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs a read-only /sys")
def test_output_folder_on_a_read_only_file_system(tmp_path):
    r = _cli(["stage=inspect", "hydra.run.dir=/sys/auxrun-test/run"])
    _one_line(r, "/sys/auxrun-test")


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs a read-only /sys")
def test_read_only_cache(tmp_path):
    run_dir = tmp_path / "run"
    r = _cli(["stage=inspect", f"hydra.run.dir={run_dir}"], env={"AUXRUN_CACHE": "/sys/kernel"})
    _one_line(r, "cache folder", "/sys/kernel is not writable")
    assert not run_dir.exists()


# --- data files -----------------------------------------------------------------------------------


def _copy(tmp_path: Path, rel: str) -> Path:
    dest = tmp_path / rel
    dest.mkdir(parents=True)
    for f in (FIXTURES / rel).iterdir():
        dest.joinpath(f.name).write_bytes(f.read_bytes())
    return dest


def _load(task: str, root: Path):
    return load_raw_splits(load_task_spec(task), DataConfig(root=str(root), source="local"))


def test_header_only_train_file_is_rejected_naming_the_file(tmp_path):
    folder = _copy(tmp_path, "glue_data/RTE")
    (folder / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n")
    with pytest.raises(DataError, match=rf"{folder / 'train.tsv'} holds no examples \(split 'train'\)"):
        _load("rte", tmp_path)


def test_a_one_example_train_split_cannot_hold_out_select_dev(tmp_path):
    folder = _copy(tmp_path, "glue_data/RTE")
    (folder / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
    with pytest.raises(DataError, match=r"train split has 1 example\(s\) \(.*RTE/train\.tsv\)"):
        _load("rte", tmp_path)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["train.max_train_examples=1"],
            "1 training example(s) (train.max_train_examples=1) leave 1 for train and 0",
        ),
        (
            ["data.select_dev_fraction=0.95", "data.toy_scale=0.001"],
            "8 training example(s) leave 0 for train and 8",
        ),
    ],
)
def test_a_split_left_empty_by_the_select_dev_carve_is_an_error(tmp_path, overrides, expected):
    run_dir = tmp_path / "run"
    args = ["task_set=toy", "primary=toy_sentiment", "method=single_task", f"hydra.run.dir={run_dir}"]
    env = {"AUXRUN_CACHE": str(tmp_path / "cache")}
    _one_line(_cli([*args, *overrides], env=env), "task 'toy_", expected)
    assert not (run_dir / "results.json").exists()


def _task_dir(tmp_path: Path, text: str) -> Path:
    tasks = tmp_path / "tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "mytask.yaml").write_text(text)
    return tasks


TASK = """name: mytask
labels: ['0', '1']
eval_splits: [dev]
sources:
  local:
    format: glue_tsv
    dir: MY
    files: {train: train.tsv, dev: dev.tsv}
    options: {columns: {text_a: sentence, label: label}}
"""


def test_misspelt_reader_option_is_rejected_with_file_and_key(tmp_path):
    tasks = _task_dir(tmp_path, TASK.replace("columns:", "colums:"))
    with pytest.raises(ConfigError, match=r"mytask\.yaml: sources\.local\.options: unknown key 'colums'"):
        load_task_spec("mytask", [str(tasks)])
    tasks = _task_dir(tmp_path, TASK.replace("label: label", "lable: label"))
    with pytest.raises(
        ConfigError, match=r"mytask\.yaml: sources\.local\.options\.columns: unknown key 'lable'"
    ):
        load_task_spec("mytask", [str(tasks)])


def test_reported_split_missing_from_the_source_is_an_error_before_compute(tmp_path):
    tasks = _task_dir(tmp_path, TASK.replace("eval_splits: [dev]", "eval_splits: [dev, dev_extra]"))
    with pytest.raises(
        ConfigError, match=r"eval_splits lists 'dev_extra', which sources\.local does not provide"
    ):
        load_task_spec("mytask", [str(tasks)])
    # a source that reads fewer splits than its task file promises (e.g. a hub copy) fails after reading
    spec = load_task_spec("rte")
    spec.eval_splits = ["dev", "dev_extra"]
    with pytest.raises(DataError, match=r"reported split\(s\) \['dev_extra'\] were not read"):
        load_raw_splits(spec, DataConfig(root=str(FIXTURES), source="local"))


def test_conllu_id_column_must_be_a_word_index(tmp_path):
    path = tmp_path / "x.conllu"
    row = "\t".join(["{}", "Wow", "wow", "INTJ", "UH", "_", "0", "dep", "_", "_"])
    path.write_text("# sent_id = a\n" + row.format("1") + "\n" + row.format("2a") + "\n")
    with pytest.raises(
        DataError, match=rf"{path}: line 3: ID column \(column 1\) '2a' is not N, N-M or N\.M"
    ):
        READERS["conllu"](path, load_task_spec("pos"), "dev", {})
    path.write_text(row.format("1") + "\n" + row.format("1-2") + "\n" + row.format("1.1") + "\n")
    assert [e.tokens for e in READERS["conllu"](path, load_task_spec("pos"), "dev", {})] == [["Wow"]]


def test_conll_errors_count_columns_from_one_and_quote_the_tag_as_written(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("Bo NNP B-NP\n")
    with pytest.raises(
        DataError, match=r"line 1: no token column 6 \(options\.token_column=5\); the line has 3"
    ):
        READERS["conll"](path, load_task_spec("chunk"), "train", {"token_column": 5})


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_regression_label_must_be_finite(tmp_path, value):
    folder = _copy(tmp_path, "glue_data/STS-B")
    lines = (folder / "dev.tsv").read_text().splitlines()
    cols = lines[1].split("\t")
    cols[-1] = value
    lines[1] = "\t".join(cols)
    (folder / "dev.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"dev\.tsv: line 2: label '{value}' is not a finite number"):
        _load("stsb", tmp_path)


def test_no_nan_reaches_a_json_file(tmp_path):
    import numpy as np

    from auxrun.io import write_json_atomic

    write_json_atomic(tmp_path / "r.json", {"pearson": float("nan"), "x": [np.float32("inf"), 1.5], "n": 2})
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"pearson": None, "x": [None, 1.5], "n": 2}
    assert math.isnan(float("nan"))


# --- config ----------------------------------------------------------------------------------------


def test_backbone_path_with_a_backbone_that_ignores_it(tmp_path):
    from auxrun.validate import validate_run

    with pytest.raises(
        ConfigError, match=r"backbone\.path=.* is read only by hub backbones.*'tiny' \(kind tiny\)"
    ):
        validate_run(compose([f"backbone.path={tmp_path}"]))


def test_unknown_key_added_with_plus_is_rejected():
    r = _cli(["+train.colums=3", "stage=inspect"])
    _one_line(r, "unknown key 'train.colums'; known keys under train: [")
    r = _cli(["+foo=1", "stage=inspect"])
    _one_line(r, "unknown key 'foo'")


def test_hydra_composition_errors_are_one_line():
    line = _one_line(
        _cli(["method=bogus"]), "Could not find 'method/bogus'", "no_sel, random_sampling, single_task"
    )
    assert "_schema" not in line
    _one_line(_cli(["train.epochs=abc"]), "train.epochs=abc", "could not be converted to Integer")


def test_schema_entries_are_not_options(tmp_path):
    _one_line(
        _cli(["method=no_sel_schema", f"hydra.run.dir={tmp_path / 'r'}"]),
        "method=no_sel_schema is not an option",
    )
    assert not (tmp_path / "r").exists()
    help_text = _cli(["--help"]).stdout
    assert "method: autosem, autosem_p1, avil, diw, fastmtl, gradts_fg" in help_text
    assert "_schema" not in help_text and "\ntask:" not in help_text and "\nsetting:" not in help_text
    env = {"COMP_LINE": "auxrun ", "COMP_POINT": "7"}
    groups = _cli(["-sc", "query=bash"], env=env).stdout.split()
    assert "method=" in groups and "backbone=" in groups
    assert not any(g.startswith(("task=", "setting=")) for g in groups)
    env = {"COMP_LINE": "auxrun method=", "COMP_POINT": "14"}
    options = _cli(["-sc", "query=bash"], env=env).stdout.split()
    assert "method=no_sel" in options and not any(o.endswith("_schema") for o in options)


def test_resume_on_a_folder_that_is_not_a_run_leaves_nothing(tmp_path):
    folder = tmp_path / "notarun"
    folder.mkdir()
    (folder / "mine.txt").write_text("x")
    _one_line(_cli(["resume=true", f"hydra.run.dir={folder}"]), f"{folder / 'config.yaml'} not found")
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]


def test_resume_refuses_overrides_that_change_the_run(tmp_path):
    from omegaconf import OmegaConf

    from auxrun.resume import job_config
    from auxrun.run import save_config

    saved = compose(["method=no_sel", "train.epochs=2", "seed=1"])
    save_config(saved, tmp_path)
    overrides = ["resume=true", "train.epochs=5", "seed=1", "method=no_sel", "quiet=true"]
    dcfg = OmegaConf.structured(compose(overrides))
    with pytest.raises(
        ConfigError, match=r"change train\.epochs \(saved 2, given 5\) from .*config\.yaml"
    ) as e:
        job_config(dcfg, tmp_path, overrides)
    assert "seed" not in str(e.value) and "quiet" not in str(e.value)  # unchanged or harmless
    same = ["resume=true", "method=no_sel", "seed=1", "quiet=true", "hardware.num_threads=1"]
    cfg = job_config(OmegaConf.structured(compose(same)), tmp_path, same)
    assert (
        cfg.resume is True and cfg.train.epochs == 2 and cfg.quiet is True and cfg.hardware.num_threads == 1
    )
    r = _cli(["resume=true", f"hydra.run.dir={tmp_path}", "method=gradts_thres"])
    _one_line(r, "resume: the overrides change method (saved {'name': 'no_sel'}")


def test_task_spec_defaults_have_dev():
    assert TaskSpec().eval_splits == ["dev"]

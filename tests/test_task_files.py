"""Every real task file loads through the TaskSpec schema and reports the metrics the papers report."""

from __future__ import annotations

import os

import pytest
from omegaconf import OmegaConf

from auxrun.data.spec import load_task_spec
from auxrun.errors import ConfigError
from auxrun.paths import CONF_DIR
from tests.conftest import REAL_TASKS

os.environ["HF_HUB_OFFLINE"] = "1"
TASKS = REAL_TASKS
TASK_SETS = {
    "glue8": ["cola", "mrpc", "mnli", "qnli", "qqp", "rte", "sst2", "wnli"],
    "glue10": ["cola", "mrpc", "mnli", "qnli", "qqp", "rte", "sst2", "wnli", "meld", "dmeld"],
    "mixed12": ["cola", "mrpc", "mnli", "qnli", "qqp", "rte", "sst2", "wnli", "stsb", "pos", "ner", "chunk"],
    "superglue5": ["cb", "copa", "mrpc", "rte", "wnli"],
    "fastmtl8": ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte"],
}
# GradTS section 2 (and SuperGLUE for CB/COPA): the metrics each task must report
PAPER_METRICS = {
    "cola": {"mcc"},
    "mrpc": {"accuracy", "f1"},
    "qqp": {"accuracy", "f1"},
    "mnli": {"accuracy"},
    "qnli": {"accuracy"},
    "rte": {"accuracy"},
    "sst2": {"accuracy"},
    "wnli": {"accuracy"},
    "stsb": {"pearson", "spearman"},
    "pos": {"token_f1_micro"},
    "ner": {"seqeval_f1"},
    "chunk": {"seqeval_f1"},
    "meld": {"f1_weighted"},
    "dmeld": {"f1_weighted"},
    "cb": {"accuracy", "f1_macro"},
    "copa": {"accuracy"},
}


@pytest.mark.parametrize("task", TASKS)
def test_task_file_loads_and_is_consistent(task):
    spec = load_task_spec(task)
    assert PAPER_METRICS[task] <= set(spec.metrics)
    local = spec.sources.local
    assert local is not None and local.files and spec.sources.hub is not None
    splits = set(local.files) | ({"dev"} if spec.dev_from_train else set())
    assert "train" in splits and "dev" in splits
    assert set(spec.eval_splits) <= splits and spec.eval_splits[0] == "dev"
    if spec.objective == "sequence_labeling":
        assert spec.input_fields == ["tokens"]
    if "text_b" in spec.input_fields:
        assert "text_b" in local.options.get("columns", {})


def test_only_chunking_carves_a_dev_split():
    assert [t for t in TASKS if load_task_spec(t).dev_from_train] == ["chunk"]


@pytest.mark.parametrize("name, tasks", list(TASK_SETS.items()))
def test_task_set_files(name, tasks):
    raw = OmegaConf.load(CONF_DIR / "task_set" / f"{name}.yaml")
    assert raw.name == name and list(raw.tasks) == tasks and list(raw.primaries) == tasks
    for task in raw.tasks:
        load_task_spec(task)
    backbone = "roberta_base" if name == "superglue5" else "bert_base_cased"
    assert any(str(d).startswith("override /backbone") and str(d).endswith(backbone) for d in _defaults(raw))


def _defaults(raw) -> list[str]:
    out = []
    for d in raw.defaults:
        if isinstance(d, str):
            out.append(d)
        else:
            out.extend(f"{k}: {v}" for k, v in d.items())
    return out


@pytest.mark.parametrize("name", list(TASK_SETS))
def test_task_set_composes_with_its_backbone(name):
    from hydra import compose, initialize_config_dir

    from auxrun.hydra_setup import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"task_set={name}"])
        assert cfg.backbone.name == ("roberta_base" if name == "superglue5" else "bert_base_cased")
        assert compose("config", overrides=[f"task_set={name}", "backbone=tiny"]).backbone.name == "tiny"


def test_a_task_file_edited_between_loads_is_read_again_and_callers_get_their_own_copy(tmp_path):
    text = (CONF_DIR / "task" / "rte.yaml").read_text()
    (tmp_path / "rte.yaml").write_text(text)
    first = load_task_spec("rte", [str(tmp_path)])
    first.metrics.append("mine")  # a caller's change stays with that caller
    assert "mine" not in load_task_spec("rte", [str(tmp_path)]).metrics
    (tmp_path / "rte.yaml").write_text(text.replace('description: "', 'description: "edited ', 1))
    assert load_task_spec("rte", [str(tmp_path)]).description.startswith("edited RTE")
    (tmp_path / "rte.yaml").write_text(text.replace("name: rte", "name: nope", 1))
    with pytest.raises(ConfigError, match="name 'nope' does not match the file name 'rte'"):
        load_task_spec("rte", [str(tmp_path)])

"""Hub sources: fail fast and clearly when offline; hub rows become the same Examples as local files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from auxrun.config import DataConfig
from auxrun.data import hub
from auxrun.data.sources import load_raw_splits
from auxrun.data.spec import load_task_spec
from auxrun.errors import DataError
from tests.conftest import REAL_TASKS

os.environ["HF_HUB_OFFLINE"] = "1"
FIXTURES = Path(__file__).parent / "fixtures" / "data"
TASKS = REAL_TASKS


@pytest.mark.parametrize("task", ["rte", "ner", "copa", "meld"])
def test_offline_fails_fast_and_names_data_root(task):
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        load_raw_splits(load_task_spec(task), DataConfig())
    assert time.perf_counter() - start < 2.0
    assert "data.root" in str(e.value) and "HF_HUB_OFFLINE" in str(e.value)


@pytest.mark.parametrize("host", ["10.255.255.1", "hub.invalid"])  # blackholed address; failing DNS
def test_unreachable_hub_fails_within_two_seconds(monkeypatch, host):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "HF_HOST", host)
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        load_raw_splits(load_task_spec("mrpc"), DataConfig(hub_timeout_s=1.0))
    assert time.perf_counter() - start < 2.0
    assert "data.root" in str(e.value) and "glue_data/MRPC/train.tsv" in str(e.value)


def test_every_task_has_a_hub_source_with_the_local_splits():
    for task in TASKS:
        spec = load_task_spec(task)
        src = spec.sources.hub
        assert src is not None and src.id, task
        assert set(src.splits) == set(spec.sources.local.files), task
        if src.options.get("provider") != "github_raw":
            assert src.columns.get("label"), task
        if src.id != "nyu-mll/glue" and src.options.get("provider") != "github_raw":
            assert src.revision == "refs/convert/parquet", task  # script-backed main branches


def test_glue_digit_labels_map_by_position_and_test_labels_become_none():
    spec = load_task_spec("cola")
    cols = {"sentence": ["Good one.", "One good.", "Unknown."], "label": [1, 0, -1], "idx": [0, 1, 2]}
    examples = hub.hub_examples(spec, cols, ["unacceptable", "acceptable"], "train")
    assert [(e.uid, e.text_a, e.label) for e in examples] == [
        ("0", "Good one.", "1"),
        ("1", "One good.", "0"),
        ("2", "Unknown.", None),
    ]


def test_word_labels_map_through_class_label_names():
    spec = load_task_spec("mnli")
    cols = {"premise": ["p"] * 3, "hypothesis": ["h"] * 3, "label": [0, 1, 2], "idx": [5, 6, 7]}
    examples = hub.hub_examples(spec, cols, ["entailment", "neutral", "contradiction"], "dev")
    assert [e.label for e in examples] == ["entailment", "neutral", "contradiction"]
    assert examples[0].text_b == "h"


def test_regression_and_unlabelled_scores():
    spec = load_task_spec("stsb")
    cols = {"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": [3.5, -1.0], "idx": [0, 1]}
    assert [e.label for e in hub.hub_examples(spec, cols, None, "test")] == [3.5, None]


def test_ud_hub_copy_drops_multiword_ranges_and_empty_nodes():
    spec = load_task_spec("pos")
    names = spec.sources.hub.options["label_names"]
    cols = {
        "idx": ["s1"],
        "tokens": [["I'll", "I", "'ll", "go", "go2"]],
        "upos": [
            [
                names.index("_"),
                names.index("PRON"),
                names.index("AUX"),
                names.index("VERB"),
                names.index("VERB"),
            ]
        ],
        "head": [["_", "3", "3", "0", "_"]],
    }
    (ex,) = hub.hub_examples(spec, cols, None, "train")  # no names in the features: options.label_names
    assert ex.tokens == ["I", "'ll", "go"] and ex.label == ["PRON", "AUX", "VERB"]


def test_ner_tag_ids_and_unknown_label():
    spec = load_task_spec("ner")
    cols = {"id": ["0"], "tokens": [["Bo", "ran"]], "ner_tags": [[1, 0]]}
    (ex,) = hub.hub_examples(spec, cols, list(spec.labels), "train")
    assert ex.label == ["B-PER", "O"]
    with pytest.raises(DataError, match=r"label id 42 has no name"):
        hub.hub_examples(
            spec, {"id": ["0"], "tokens": [["x"]], "ner_tags": [[42]]}, list(spec.labels), "train"
        )


def test_copa_hub_rows_are_framed_like_the_local_files():
    spec = load_task_spec("copa")
    cols = {
        "premise": ["The milk smelled sour."],
        "choice1": ["It had been left out."],
        "choice2": ["It was cold."],
        "question": ["cause"],
        "label": [0],
        "idx": [0],
    }
    (ex,) = hub.hub_examples(spec, cols, None, "train")
    local = load_raw_splits(spec, DataConfig(root=str(FIXTURES), source="local"))["train"][0]
    assert (ex.text_a, ex.choices, ex.label) == (local.text_a, local.choices, local.label)


def test_meld_original_csvs_load_from_the_cache_without_network(monkeypatch, tmp_path):
    monkeypatch.setenv("AUXRUN_CACHE", str(tmp_path))
    spec = load_task_spec("meld")
    for repo_path in spec.sources.hub.splits.values():
        dest = hub._github_cache_path(spec.sources.hub, repo_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((FIXTURES / "meld/MELD" / Path(repo_path).name).read_bytes())
    splits = load_raw_splits(spec, DataConfig())  # HF_HUB_OFFLINE=1, yet cached files suffice
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [4, 2, 2]


def test_failed_download_leaves_no_half_file(tmp_path):
    dest = tmp_path / "x" / "train.csv"
    with pytest.raises(DataError, match="cannot download"):
        hub._download((tmp_path / "absent.csv").as_uri(), dest, timeout=1.0)
    assert not dest.exists() and not dest.with_name("train.csv.part").exists()

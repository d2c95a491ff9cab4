"""Conformance with the official files: the excerpts in shared/data-samples parse with the right columns
and labels, and every data row becomes one Example (the rows are counted independently of the readers).
Runs when the samples folder is present (AUXRUN_DATA_SAMPLES or ../shared/data-samples), else skips.
Only excerpts are there, so the full-file counts of the README are not checked here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from auxrun.data.formats import READERS
from auxrun.data.spec import load_task_spec
from tests.conftest import REAL_TASKS

os.environ["HF_HUB_OFFLINE"] = "1"
SAMPLES = Path(
    os.environ.get("AUXRUN_DATA_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "data-samples")
)
TASKS = REAL_TASKS

pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(),
    reason=f"needs the official files' excerpts, outside the repository: {SAMPLES} (or AUXRUN_DATA_SAMPLES)",
)


def _expected_rows(fmt: str, path: Path, header: bool) -> int:
    text = path.read_text(encoding="utf-8-sig")
    lines = [line for line in text.splitlines() if line.strip()]
    if fmt == "glue_tsv":
        return len(lines) - (1 if header else 0)
    if fmt == "superglue_jsonl":
        return len(lines)
    if fmt == "meld_csv":
        import csv

        return sum(1 for _ in csv.reader(text.splitlines(keepends=True))) - 1
    if fmt == "conllu":
        return sum(line.startswith("# sent_id") for line in lines)
    blocks = [b for b in text.split("\n\n") if b.strip() and not b.strip().startswith("-DOCSTART-")]
    return len(blocks)  # conll: blank-line-separated sentences, -DOCSTART- blocks excluded


def _cases():
    for task in TASKS:
        local = load_task_spec(task).sources.local
        for split, name in local.files.items():
            yield pytest.param(task, split, name, id=f"{task}-{split}")


@pytest.mark.parametrize("task, split, name", list(_cases()))
def test_sample_excerpt_parses(task, split, name):
    spec = load_task_spec(task)
    local = spec.sources.local
    path = SAMPLES / local.dir / name
    if not path.is_file():
        pytest.skip(f"no excerpt of {local.dir}/{name} in the samples")
    options = dict(local.options)
    options.update((options.pop("per_split", None) or {}).get(split, {}))
    examples = READERS[local.format](path, spec, split, dict(local.options))  # the reader sees per_split
    assert len(examples) == _expected_rows(local.format, path, bool(options.get("header", True)))
    labelled = not split.startswith("test") or task in ("meld", "dmeld", "ner", "pos", "chunk")
    for ex in examples:
        assert ex.uid
        if spec.objective == "sequence_labeling":
            assert ex.tokens and len(ex.tokens) == len(ex.label)
            assert set(ex.label) <= set(spec.labels)
            continue
        assert ex.text_a and ex.text_a.strip() == ex.text_a
        if "text_b" in spec.input_fields:
            assert ex.text_b
        if spec.objective == "multiple_choice":
            assert ex.choices and len(ex.choices) == 2
        if not labelled:
            assert ex.label is None
        elif spec.objective == "regression":
            assert isinstance(ex.label, float) and 0.0 <= ex.label <= 5.0
        elif spec.objective == "multiple_choice":
            assert ex.label in (0, 1)
        else:
            assert ex.label in spec.labels
    if local.format == "superglue_jsonl":  # uids are the files' idx values
        first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        assert examples[0].uid == str(first["idx"])

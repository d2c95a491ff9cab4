"""GLUE submission files: predictions on an unlabelled test split, in the format gluebenchmark.com takes.

One TSV per task, named as the GLUE server expects (``CoLA.tsv``, ``MNLI-m.tsv``, ``MNLI-mm.tsv``,
...), a header ``index<TAB>prediction`` and one row per test example in file order; the index is the
Example uid (the test file's ``index``/``id`` column). Labels are written as the server wants them:
0/1 for CoLA, SST-2, MRPC, QQP and WNLI, label words for MNLI, QNLI and RTE, a score clipped to
[0, 5] for STS-B.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from auxrun.errors import DataError
from auxrun.io import write_text_atomic

# (task, split) -> file name on the GLUE server
GLUE_SUBMISSION_FILES = {
    ("cola", "test"): "CoLA.tsv",
    ("sst2", "test"): "SST-2.tsv",
    ("mrpc", "test"): "MRPC.tsv",
    ("stsb", "test"): "STS-B.tsv",
    ("qqp", "test"): "QQP.tsv",
    ("mnli", "test"): "MNLI-m.tsv",
    ("mnli", "test_mismatched"): "MNLI-mm.tsv",
    ("qnli", "test"): "QNLI.tsv",
    ("rte", "test"): "RTE.tsv",
    ("wnli", "test"): "WNLI.tsv",
}
_WORD_LABELS = {
    "mnli": ("entailment", "neutral", "contradiction"),
    "qnli": ("entailment", "not_entailment"),
    "rte": ("entailment", "not_entailment"),
}


def _format(task: str, prediction: object) -> str:
    if task == "stsb":
        return f"{min(5.0, max(0.0, float(prediction))):.3f}"  # type: ignore[arg-type]
    value = str(prediction)
    allowed = _WORD_LABELS.get(task, ("0", "1"))
    if value not in allowed:
        raise DataError(f"GLUE submission for {task}: prediction '{value}' is not one of {list(allowed)}")
    return value


def write_glue_predictions(
    task: str,
    predictions: Mapping[str, object] | Iterable[tuple[str, object]],
    path: str | Path,
    split: str = "test",
) -> Path:
    """Write ``<path>/<GLUE file name>`` atomically and return it. predictions: uid -> label string
    (as in the task's labels) or score, as a mapping or (uid, prediction) pairs in test-file order."""
    key = (task, split)
    if key not in GLUE_SUBMISSION_FILES:
        raise DataError(
            f"no GLUE submission file for task '{task}' split '{split}'; known: {sorted(GLUE_SUBMISSION_FILES)}"
        )
    items = list(predictions.items()) if isinstance(predictions, Mapping) else list(predictions)
    lines = ["index\tprediction"] + [f"{uid}\t{_format(task, pred)}" for uid, pred in items]
    out = Path(path) / GLUE_SUBMISSION_FILES[key]
    write_text_atomic(out, "\n".join(lines) + "\n")
    return out

"""Predictions on the primary's unlabelled test splits, from the best epoch's weights.

GLUE tasks get the GLUE server's submission files (auxrun/data/submission.py); other tasks a TSV
``index<TAB>prediction`` (tags joined by spaces). Test splits are never scored.
"""

from __future__ import annotations

from pathlib import Path

from auxrun.data.submission import GLUE_SUBMISSION_FILES, write_glue_predictions
from auxrun.io import write_text_atomic
from auxrun.objectives import get_objective
from auxrun.training.trainer import MTLTrainer


def _as_label(spec, pred):
    return get_objective(spec.objective).prediction_label(spec, pred)


def write_test_predictions(trainer: MTLTrainer, out_dir: Path) -> list[Path]:
    task = trainer.primary
    pool, spec = trainer.pool, trainer.pool.specs[trainer.primary]
    splits = [s for s in pool.encoded[task] if s.startswith("test") and not pool.split(task, s).labeled]
    if not splits:
        return []
    if trainer.best_state is not None:
        trainer.model.load_state_dict(trainer.best_state)
    written = []
    for split in splits:
        preds, _ = trainer.predict(task, split)
        pairs = list(zip(pool.split(task, split).uids, (_as_label(spec, p) for p in preds)))
        if (task, split) in GLUE_SUBMISSION_FILES:
            written.append(write_glue_predictions(task, pairs, out_dir, split))
        else:
            path = out_dir / f"{task}_{split}.tsv"
            write_text_atomic(path, "index\tprediction\n" + "".join(f"{u}\t{p}\n" for u, p in pairs))
            written.append(path)
    return written


def write_eval_predictions(trainer: MTLTrainer, out_dir: Path) -> list[Path]:
    """The primary's native predictions at the best epoch on each labelled reported split (dev, ...),
    with the gold labels and example ids, as ``<task>_<split>.json``: what the report's paired
    bootstrap compares run against run, example by example. select_dev is the methods' own split."""
    from auxrun.io import write_json_atomic

    task, pool = trainer.primary, trainer.pool
    epoch = trainer.best["epoch"] if trainer.best else None
    written = []
    for split, preds in trainer.best_predictions.items():
        if split == "select_dev":
            continue
        data = pool.split(task, split)
        path = out_dir / f"{task}_{split}.json"
        record = {"task": task, "split": split, "best_epoch": epoch, "uids": list(data.uids)}
        write_json_atomic(path, {**record, "gold": list(data.gold), "predictions": list(preds)})
        written.append(path)
    return written

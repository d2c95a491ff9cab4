"""``auxrun stage=inspect``: what the composed task set's data looks like, before any model is loaded.

Per task and split: size, labelled count, label distribution, mean length in words (per example and
per sentence, the latter GradTS Table 7's LEN) and in tokens (special tokens included, as the model
sees them) and the share of examples longer than data.max_length (which training truncates). Printed as a table and written to ``inspect.json``.
Token statistics of a split larger than ``length_sample`` are measured on a fixed-seed sample of it.
"""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

from auxrun.data.example import Example
from auxrun.data.sources import load_raw_splits
from auxrun.data.spec import TaskSpec, load_task_spec
from auxrun.io import write_json_atomic


def _words(ex: Example) -> int:
    if ex.tokens is not None:
        return len(ex.tokens)
    n = sum(len(t.split()) for t in (ex.text_a, ex.text_b) if t)
    if ex.choices:
        n += round(statistics.fmean(len(c.split()) for c in ex.choices))
    return n


def sentence_words(ex: Example) -> list[int]:
    """Words (whitespace-separated) of each sentence of an example: text_a and text_b separately,
    every choice, or the tagged token list. GradTS Table 7 averages per sentence, not per pair."""
    if ex.tokens is not None:
        return [len(ex.tokens)]
    texts = [t for t in (ex.text_a, ex.text_b) if t] + list(ex.choices or [])
    return [len(t.split()) for t in texts]


def mean_sentence_words(examples: list[Example]) -> float:
    lengths = [n for ex in examples for n in sentence_words(ex)]
    return statistics.fmean(lengths) if lengths else 0.0


def train_statistics(spec: TaskSpec, data: Any) -> dict[str, Any]:
    """What the HEU baselines rank by (GradTS 5.3, Table 7): the official train file's size, its
    mean sentence length in words, and the task type, read as ``stage=inspect`` reads them."""
    train = load_raw_splits(spec, data).get("train", [])
    return {
        "size": len(train),
        "mean_sentence_words": mean_sentence_words(train),
        "task_type": spec.task_type,
    }


def pool_statistics(specs: dict[str, TaskSpec], data: Any) -> dict[str, dict[str, Any]]:
    """``train_statistics`` of every task of a pool."""
    return {name: train_statistics(spec, data) for name, spec in specs.items()}


def _token_lengths(examples: list[Example], tokenizer: Any) -> list[int]:
    """Tokens per example with special tokens; for multiple choice the longest (text_a, choice) pair."""
    if not examples:
        return []
    first = examples[0]
    if first.tokens is not None:
        enc = tokenizer([ex.tokens for ex in examples], is_split_into_words=True, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]
    if first.choices:
        pairs = [(ex.text_a or "", c) for ex in examples for c in ex.choices]
        enc = tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=False)
        lengths, k = [], 0
        for ex in examples:
            lengths.append(max(len(ids) for ids in enc["input_ids"][k : k + len(ex.choices or [])]))
            k += len(ex.choices or [])
        return lengths
    a = [ex.text_a or "" for ex in examples]
    b = [ex.text_b or "" for ex in examples] if first.text_b is not None else None
    enc = tokenizer(a, b, truncation=False) if b is not None else tokenizer(a, truncation=False)
    return [len(ids) for ids in enc["input_ids"]]


def label_distribution(spec: TaskSpec, examples: list[Example]) -> dict[str, Any]:
    labels = [ex.label for ex in examples if ex.label is not None]
    if not labels:
        return {}
    from auxrun.objectives import get_objective

    return get_objective(spec.objective).label_distribution(labels)


def split_stats(
    spec: TaskSpec, examples: list[Example], tokenizer: Any, max_length: int, length_sample: int
) -> dict[str, Any]:
    sample = examples
    if len(examples) > length_sample:
        sample = random.Random(0).sample(examples, length_sample)
    token_lengths = _token_lengths(sample, tokenizer)
    return {
        "size": len(examples),
        "labeled": sum(ex.labeled for ex in examples),
        "label_distribution": label_distribution(spec, examples),
        "mean_words": statistics.fmean(_words(ex) for ex in examples) if examples else 0.0,
        "mean_sentence_words": mean_sentence_words(examples),
        "mean_tokens": statistics.fmean(token_lengths) if token_lengths else 0.0,
        "truncated_share": (sum(n > max_length for n in token_lengths) / len(token_lengths))
        if token_lengths
        else 0.0,
        "length_sample": len(sample),
    }


def _print_table(report: dict[str, dict[str, dict[str, Any]]], max_length: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"task data (max_length={max_length})")
    for col in ("task", "split", "size", "labelled", "words", "tokens", "truncated", "labels"):
        table.add_column(col, justify="left" if col in ("task", "split", "labels") else "right")
    for task, splits in report.items():
        for split, s in splits.items():
            dist = s["label_distribution"]
            if "mean" in dist:
                labels = f"mean {dist['mean']:.2f} sd {dist['std']:.2f}"
            else:
                total = sum(dist.values()) or 1
                labels = ", ".join(f"{k} {v / total:.0%}" for k, v in list(dist.items())[:4])
                labels += ", ..." if len(dist) > 4 else ""
            table.add_row(
                task,
                split,
                f"{s['size']:,}",
                f"{s['labeled']:,}",
                f"{s['mean_words']:.1f}",
                f"{s['mean_tokens']:.1f}",
                f"{s['truncated_share']:.1%}",
                labels,
            )
    Console().print(table)


def run_inspect(cfg: Any, run_dir: Path, tokenizer: Any, length_sample: int = 20000) -> dict:
    """Inspect every task of cfg.task_set; returns {task: {split: stats}} and writes run_dir/inspect.json."""
    max_length = int(cfg.data.max_length)
    report: dict[str, dict[str, dict[str, Any]]] = {}
    for name in cfg.task_set.tasks:
        spec = load_task_spec(name, list(cfg.data.task_dirs or []))
        splits = load_raw_splits(spec, cfg.data)
        report[name] = {
            split: split_stats(spec, examples, tokenizer, max_length, length_sample)
            for split, examples in splits.items()
        }
        if spec.dev_from_train and "dev" not in splits:
            report[name]["train"]["note"] = (
                f"dev is carved from train by the pool ({spec.dev_from_train:.0%}, seed {spec.dev_from_train_seed})"
            )
    if not getattr(cfg, "quiet", False):
        _print_table(report, max_length)
    write_json_atomic(Path(run_dir) / "inspect.json", report)
    return report

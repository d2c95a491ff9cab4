"""Examples -> token ids and label ids (jiant's TokenizedExample/DataRow stages), and batching.

What depends on the task's objective (label ids, tagging's first-sub-token labels, multiple choice's
per-choice sequences, label tensors) lives in the objective (auxrun/objectives/); this module holds
the shared record and the padding. IGNORE (-100) marks label positions the loss skips.
"""

from __future__ import annotations

import gc
import itertools
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from auxrun.data.example import Example
from auxrun.data.spec import TaskSpec

IGNORE = -100


@dataclass
class EncodedSplit:
    task: str
    split: str
    input_ids: list[Any]  # list[int] per example; list[list[int]] per choice for multiple choice
    token_type_ids: list[Any]
    labels: list[Any]  # int / float / list[int] (per token) / None when unlabeled
    gold: list[Any]  # native gold values for metrics (class id, float, tag list, choice index)
    word_starts: list[list[int]] = field(default_factory=list)  # seq labelling: token index per kept word
    uids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def labeled(self) -> bool:
        return len(self.gold) > 0 and all(g is not None for g in self.gold)

    def lengths(self) -> list[int]:
        if self.input_ids and isinstance(self.input_ids[0][0], list):
            return [max(len(c) for c in x) for x in self.input_ids]
        return [len(x) for x in self.input_ids]


def encode_texts(spec: TaskSpec, examples: list[Example], tokenizer, max_length: int) -> tuple[list, list]:
    """Token ids and token types of single sentences or pairs (``text_b`` when the task reads it)."""
    a = [e.text_a or "" for e in examples]
    b = [e.text_b or "" for e in examples] if "text_b" in spec.input_fields else None
    enc = (
        tokenizer(a, b, truncation=True, max_length=max_length)
        if b is not None
        else tokenizer(a, truncation=True, max_length=max_length)
    )
    types = enc.get("token_type_ids") or [[0] * len(x) for x in enc["input_ids"]]
    return enc["input_ids"], types


def encode_split(
    spec: TaskSpec, split: str, examples: list[Example], tokenizer, max_length: int
) -> EncodedSplit:
    """Examples -> an EncodedSplit, the way the task's objective encodes (auxrun/objectives/)."""
    from auxrun.objectives import get_objective

    return get_objective(spec.objective).encode(spec, split, examples, tokenizer, max_length)


# ---- on-disk form (the tokenized-data cache, auxrun/data/pool.py) ------------------------------------
# Token ids and token types are >90% of an encoded split: they are stored as flat numpy arrays
# (int32 ids, int8 types) plus one length per row, about 5 bytes a token against ~25 for a pickled
# list of Python ints, and read back with one ``tolist`` and slicing. Labels, gold values, word
# starts and uids (small, and of mixed types) are pickled as they are.
ENCODED_FORMAT = 1


def _flat(rows: list[list[int]], dtype) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=dtype, count=int(lengths.sum()))
    return flat, lengths


def _rows(flat: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    values = flat.tolist()
    ends = itertools.accumulate(lengths.tolist())
    out, start = [], 0
    for end in ends:
        out.append(values[start:end])
        start = end
    return out


def save_encoded(split: EncodedSplit, path: Path) -> None:
    choices = bool(split.input_ids) and isinstance(split.input_ids[0][0], list)
    ids = [c for x in split.input_ids for c in x] if choices else split.input_ids
    types = [c for x in split.token_type_ids for c in x] if choices else split.token_type_ids
    flat_ids, lengths = _flat(ids, np.int32)
    flat_types, type_lengths = _flat(types, np.int8)
    if not np.array_equal(lengths, type_lengths):
        raise ValueError(f"{split.task}/{split.split}: token ids and token types differ in length")
    payload = {
        "format": ENCODED_FORMAT,
        "task": split.task,
        "split": split.split,
        "ids": flat_ids,
        "types": flat_types,
        "lengths": lengths,
        "choices": [len(x) for x in split.input_ids] if choices else None,
        "labels": split.labels,
        "gold": split.gold,
        "word_starts": split.word_starts,
        "uids": split.uids,
    }
    with open(path, "wb") as f:
        pickle.dump(payload, f, protocol=5)


def load_encoded(path: Path) -> EncodedSplit:
    gc_was_on = gc.isenabled()
    gc.disable()  # millions of new lists and no cycles: the collector's passes would cost more than the read
    try:
        return _load_encoded(path)
    finally:
        if gc_was_on:
            gc.enable()


def _load_encoded(path: Path) -> EncodedSplit:
    with open(path, "rb") as f:
        d = pickle.load(f)
    if d.get("format") != ENCODED_FORMAT:
        raise ValueError(f"{path}: encoded-split format {d.get('format')}, expected {ENCODED_FORMAT}")
    ids, types = _rows(d["ids"], d["lengths"]), _rows(d["types"], d["lengths"])
    if d["choices"] is not None:
        ids, types = _regroup(ids, d["choices"]), _regroup(types, d["choices"])
    return EncodedSplit(
        d["task"], d["split"], ids, types, d["labels"], d["gold"], d["word_starts"], d["uids"]
    )


def _regroup(rows: list, sizes: list[int]) -> list:
    out, start = [], 0
    for n in sizes:
        out.append(rows[start : start + n])
        start += n
    return out


def collate(split: EncodedSplit, indices: list[int], objective, pad_id: int) -> dict[str, torch.Tensor]:
    """Pad one batch to its own longest sequence (dynamic padding); labels when every example has one.
    ``objective`` is an objective's name or an Objective."""
    from auxrun.objectives import get_objective

    obj = get_objective(objective)
    batch = obj.collate_inputs(split, indices, pad_id)
    labels = [split.labels[i] for i in indices]
    if all(x is not None for x in labels):
        batch["labels"] = obj.label_tensor(labels, batch["input_ids"].shape[-1])
    return batch


def pad_rows(rows: list[list[int]], types: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = [r + [pad_id] * (width - len(r)) for r in rows]
    tt = [t + [0] * (width - len(t)) for t in types]
    mask = [[1] * len(r) + [0] * (width - len(r)) for r in rows]
    return {
        "input_ids": torch.tensor(ids),
        "token_type_ids": torch.tensor(tt),
        "attention_mask": torch.tensor(mask),
    }

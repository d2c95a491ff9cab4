"""Examples -> token ids and label ids (jiant's TokenizedExample/DataRow stages), and batching.

What depends on the task's objective (label ids, tagging's first-sub-token labels, multiple choice's
per-choice sequences, label tensors) lives in the objective (auxrun/objectives/); this module holds
the shared record and the padding. IGNORE (-100) marks label positions the loss skips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

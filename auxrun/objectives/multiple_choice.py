"""Multiple choice (COPA): each (context, choice) pair is encoded; one score per pair from the first
token, normalised over the choices by cross-entropy; the label is the right choice's index."""

from __future__ import annotations

from typing import Any

import torch

from auxrun.objectives import register
from auxrun.objectives.base import Objective


@register
class MultipleChoice(Objective):
    name = "multiple_choice"
    named_labels = False

    def num_outputs(self, spec) -> int:
        return 1

    def shape_logits(self, logits: torch.Tensor, n_choices: int | None) -> torch.Tensor:
        return logits.view(-1, n_choices)

    def encode(self, spec, split, examples, tokenizer, max_length):
        from auxrun.data.features import EncodedSplit

        ids, types = [], []
        for e in examples:
            enc = tokenizer([e.text_a] * len(e.choices), e.choices, truncation=True, max_length=max_length)
            ids.append(enc["input_ids"])
            types.append(enc.get("token_type_ids") or [[0] * len(x) for x in enc["input_ids"]])
        gold = [None if e.label is None else int(e.label) for e in examples]
        return EncodedSplit(spec.name, split, ids, types, list(gold), gold, uids=[e.uid for e in examples])

    def collate_inputs(self, split, indices: list[int], pad_id: int) -> dict[str, torch.Tensor]:
        from auxrun.data.features import pad_rows

        n_choices = len(split.input_ids[indices[0]])
        rows = [c for i in indices for c in split.input_ids[i]]
        types = [c for i in indices for c in split.token_type_ids[i]]
        batch = pad_rows(rows, types, pad_id)
        return {k: v.view(len(indices), n_choices, -1) for k, v in batch.items()}

    def prediction_label(self, spec, pred: Any) -> Any:
        return pred  # the choice's index

    def parse_label(self, value: Any, where: str, n_choices: int | None = None) -> int:
        from auxrun.errors import DataError

        if not isinstance(value, int) or n_choices is None or not 0 <= value < n_choices:
            top = "?" if n_choices is None else n_choices - 1
            raise DataError(f"{where}: label {value!r} is not a choice index 0..{top}")
        return value

    def hub_label(self, value: Any, names: list[str], labels: list[str], where: str) -> int | None:
        return None if value is None or value < 0 else int(value)

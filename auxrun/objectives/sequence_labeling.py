"""Sequence labelling (POS, NER, chunking): a head on every token; a word's label sits on its first
sub-token and the rest get IGNORE; the loss is the mean over the example's labelled words.

Words cut off by truncation keep their gold tags and are predicted as labels[0] (the outside tag),
so truncation never shifts a label onto the wrong word and never flatters the score.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F

from auxrun.objectives import register
from auxrun.objectives.base import Objective


@register
class SequenceLabeling(Objective):
    name = "sequence_labeling"
    default_metrics = ("seqeval_f1",)

    def head_input(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden

    def per_example_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        from auxrun.data.features import IGNORE

        tok = F.cross_entropy(logits.float().transpose(1, 2), labels, reduction="none", ignore_index=IGNORE)
        n = (labels != IGNORE).sum(1).clamp(min=1)
        return tok.sum(1) / n

    def encode(self, spec, split, examples, tokenizer, max_length):
        from auxrun.data.features import IGNORE, EncodedSplit
        from auxrun.errors import DataError

        where = f"task '{spec.name}' split '{split}'"
        enc = tokenizer(
            [e.tokens for e in examples], is_split_into_words=True, truncation=True, max_length=max_length
        )
        ids, types, labels, gold, starts = [], [], [], [], []
        for i, e in enumerate(examples):
            word_ids = enc.word_ids(i)
            tag_ids = None
            if e.label is not None:
                if len(e.label) != len(e.tokens):
                    raise DataError(
                        f"{where}, example {e.uid}: {len(e.tokens)} words but {len(e.label)} tags"
                    )
                tag_ids = [self.label_id(spec, t, f"{where}, example {e.uid}") for t in e.label]
            row, first, prev = [], [], None
            for pos, w in enumerate(word_ids):
                if w is not None and w != prev:
                    first.append(pos)
                    row.append(tag_ids[w] if tag_ids is not None else IGNORE)
                else:
                    row.append(IGNORE)
                prev = w
            ids.append(enc["input_ids"][i])
            types.append(enc["token_type_ids"][i] if "token_type_ids" in enc else [0] * len(word_ids))
            labels.append(row if tag_ids is not None else None)
            gold.append(list(e.label) if e.label is not None else None)
            starts.append(first)
        return EncodedSplit(spec.name, split, ids, types, labels, gold, starts, [e.uid for e in examples])

    def label_tensor(self, labels: list[Any], width: int) -> torch.Tensor:
        from auxrun.data.features import IGNORE

        return torch.tensor([row + [IGNORE] * (width - len(row)) for row in labels])

    def decode(self, spec, data, ex: int, logits: torch.Tensor) -> list[str]:
        ids = logits.argmax(-1).tolist()
        tags = [spec.labels[ids[p]] for p in data.word_starts[ex]]
        n_words = len(data.gold[ex]) if data.gold[ex] is not None else len(tags)
        return tags + [spec.labels[0]] * (n_words - len(tags))  # truncated words: outside tag

    def prediction_label(self, spec, pred: Any) -> str:
        return " ".join(pred)

    def label_distribution(self, labels: list[Any]) -> dict[str, Any]:
        counts = Counter(tag for tags in labels for tag in tags)
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

"""TaskPool: the task set's candidates with their splits, checked and tokenized.

Splits: ``train`` (minus ``select_dev``), ``select_dev`` (held out from train for the methods'
decisions: GradTS's protocol, 10% with seed 42), ``dev`` and any other reported splits, ``test``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from auxrun.config import RunConfig
from auxrun.data.example import Example
from auxrun.data.features import EncodedSplit, encode_split
from auxrun.data.sources import load_raw_splits
from auxrun.data.spec import TaskSpec, load_task_spec


def carve(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Split off ``fraction`` of the examples (at least one) with a fixed seed: (kept, carved)."""
    if fraction <= 0 or len(examples) < 2:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n = max(1, round(len(examples) * fraction))
    held = set(order[:n])
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def load_specs(cfg: RunConfig) -> dict[str, TaskSpec]:
    return {name: load_task_spec(name, list(cfg.data.task_dirs)) for name in cfg.task_set.tasks}


@dataclass
class TaskPool:
    primary: str
    specs: dict[str, TaskSpec]
    raw: dict[str, dict[str, list[Example]]]
    encoded: dict[str, dict[str, EncodedSplit]] = field(default_factory=dict)
    tokenizer: object = None

    @property
    def tasks(self) -> list[str]:
        return list(self.specs)

    @property
    def auxiliaries(self) -> list[str]:
        return [t for t in self.specs if t != self.primary]

    def split(self, task: str, split: str) -> EncodedSplit:
        return self.encoded[task][split]

    def eval_splits(self, task: str) -> list[str]:
        return [s for s in self.specs[task].eval_splits if s in self.encoded[task]]

    def train_texts(self):
        for splits in self.raw.values():
            for e in splits.get("train", []):
                if e.tokens:
                    yield " ".join(e.tokens)
                for t in (e.text_a, e.text_b, *(e.choices or [])):
                    if t:
                        yield t

    @classmethod
    def load(cls, cfg: RunConfig, specs: dict[str, TaskSpec] | None = None) -> TaskPool:
        specs = specs or load_specs(cfg)
        raw = {}
        for name, spec in specs.items():
            splits = load_raw_splits(spec, cfg.data)
            if "dev" not in splits and spec.dev_from_train > 0:
                splits["train"], splits["dev"] = carve(
                    splits["train"], spec.dev_from_train, spec.dev_from_train_seed
                )
            train = splits["train"]
            if cfg.train.max_train_examples:
                train = train[: cfg.train.max_train_examples]
            splits["train"], splits["select_dev"] = carve(
                train, cfg.data.select_dev_fraction, cfg.data.select_dev_seed
            )
            raw[name] = splits
        return cls(primary=cfg.primary, specs=specs, raw=raw)

    def encode(self, tokenizer, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.encoded = {
            name: {
                s: encode_split(self.specs[name], s, ex, tokenizer, max_length) for s, ex in splits.items()
            }
            for name, splits in self.raw.items()
        }

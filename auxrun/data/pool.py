"""TaskPool: the task set's candidates with their splits, checked and tokenized.

Tokenized splits are cached by content under ``$AUXRUN_CACHE/artifacts/encoded/`` (key: the
tokenizer's fingerprint, ``max_length``, the spec fields that affect encoding and a fingerprint of
the raw examples), so every job of a sweep after the first reads its splits instead of tokenizing.

Splits: ``train`` (minus ``select_dev``), ``select_dev`` (held out from train for the methods'
decisions: GradTS's protocol, 10% with seed 42; with ``data.held_out_select_dev`` a task's own
``select_dev`` split where its source has one, train kept whole), ``dev`` and any other reported
splits, ``test``.
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass, field
from pathlib import Path

from auxrun.cache import ArtifactCache, examples_fingerprint, tokenizer_fingerprint
from auxrun.config import RunConfig
from auxrun.data.example import Example
from auxrun.data.features import EncodedSplit, encode_split, load_encoded, save_encoded
from auxrun.data.sources import load_raw_splits
from auxrun.data.spec import TaskSpec, load_task_spec
from auxrun.errors import DataError


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
            if name in cfg.data.train_cap:
                train = cap_examples(
                    train, cfg.data.train_cap[name], cfg.data.train_cap_order, cfg.data.train_cap_seed
                )
            if cfg.train.max_train_examples:
                train = train[: cfg.train.max_train_examples]
            own = splits.pop("select_dev", None)  # a split the source ships (read, never reported)
            if own and cfg.data.held_out_select_dev:
                splits["train"], splits["select_dev"] = train, own
            else:
                splits["train"], splits["select_dev"] = carve(
                    train, cfg.data.select_dev_fraction, cfg.data.select_dev_seed
                )
                if cfg.data.select_dev_fraction > 0 and not (splits["train"] and splits["select_dev"]):
                    cap = f" (train.max_train_examples={cfg.train.max_train_examples})" * bool(
                        cfg.train.max_train_examples
                    )
                    raise DataError(
                        f"task '{name}': {len(train)} training example(s){cap} leave "
                        f"{len(splits['train'])} for train and {len(splits['select_dev'])} for select_dev "
                        f"at data.select_dev_fraction={cfg.data.select_dev_fraction}; both need at least one"
                    )
            raw[name] = splits
        return cls(primary=cfg.primary, specs=specs, raw=raw)

    def encode(self, tokenizer, max_length: int, cache_dir: Path | None = None) -> dict[str, dict[str, str]]:
        """Tokenize every split. With ``cache_dir``, each split is looked up in the tokenized-data
        cache first (``encoded_inputs`` is its key) and encoded only on a miss, under the entry's
        lock, so a sweep tokenizes a task once. Returns {task: {split: "hit" | "miss"}} ("off"
        without a cache)."""
        gc_was_on = gc.isenabled()
        gc.disable()  # millions of small lists and no cycles: collector passes would only cost time
        try:
            return self._encode(tokenizer, max_length, cache_dir)
        finally:
            if gc_was_on:
                gc.enable()

    def _encode(self, tokenizer, max_length: int, cache_dir: Path | None) -> dict[str, dict[str, str]]:
        self.tokenizer = tokenizer
        cache = ArtifactCache(cache_dir) if cache_dir is not None else None
        tok_fp = tokenizer_fingerprint(tokenizer) if cache is not None else None
        self.encoded, status = {}, {}
        for name, splits in self.raw.items():
            spec = self.specs[name]
            self.encoded[name], status[name] = {}, {}
            for s, ex in splits.items():

                def compute(spec=spec, s=s, ex=ex):
                    return encode_split(spec, s, ex, tokenizer, max_length)

                if cache is None:
                    self.encoded[name][s], status[name][s] = compute(), "off"
                    continue
                inputs = encoded_inputs(spec, s, ex, tok_fp, max_length)
                self.encoded[name][s], status[name][s] = cache.get_or_compute(
                    ENCODED_KIND,
                    cache.key(ENCODED_KIND, inputs),
                    compute,
                    inputs,
                    loader=load_encoded,
                    writer=save_encoded,
                )
        return status


def cap_examples(examples: list, n: int, order: str, seed: int) -> list:
    """At most ``n`` examples: the first ``n``, or (``order="random"``) ``n`` drawn with ``seed``,
    kept in file order so that the select_dev carve after it sees a stable list."""
    if len(examples) <= n or order == "first":
        return examples[:n]
    keep = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in keep]


ENCODED_KIND = "encoded"
ENCODING = "encode_split/v1"  # bump when encode_split changes what it produces: old entries miss


def encoded_inputs(spec: TaskSpec, split: str, examples: list[Example], tok_fp: str, max_length: int) -> dict:
    """Everything an encoded split depends on: the tokenizer (its full definition, see
    ``tokenizer_fingerprint``), ``max_length``, the spec fields encode_split reads and the raw
    examples themselves (every field, in order)."""
    import tokenizers

    return {
        "encoding": ENCODING,
        "tokenizers": tokenizers.__version__,
        "tokenizer": tok_fp,
        "max_length": max_length,
        "task": spec.name,
        "objective": spec.objective,
        "labels": list(spec.labels),
        "input_fields": list(spec.input_fields),
        "split": split,
        "n_examples": len(examples),
        "examples": examples_fingerprint(examples),
    }

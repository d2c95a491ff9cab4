"""Content-addressed artifact cache: an artifact is stored under a key made from everything that
determines it, so any run (another primary, a larger task set, a sweep's other job) reuses it.

    cache = ArtifactCache(ctx.cache_dir)
    key = cache.key("head_importance", {"backbone": ..., "task": ..., "data": split_fingerprint(...)})
    obj = cache.load("head_importance", key)           # None on a miss
    cache.save("head_importance", key, obj, meta={...}) # atomic: whole or absent

The key is the sha256 of a canonical JSON (sorted keys, no whitespace) of the determining inputs
plus the artifact kind and a format version; the inputs are also written next to the artifact as
``<key>.json`` so a cache entry says what it is. Writes go through auxrun/io.py (temp file +
rename), so two jobs of one sweep computing the same artifact at once both leave a whole file and
the second rename wins with identical content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch

from auxrun.data.features import EncodedSplit
from auxrun.io import torch_save_atomic, write_json_atomic

FORMAT_VERSION = 1


def canonical_json(obj: Any) -> str:
    def default(o: Any) -> Any:
        if is_dataclass(o) and not isinstance(o, type):
            return asdict(o)
        if isinstance(o, Path):
            return str(o)
        if isinstance(o, (set, tuple)):
            return sorted(o) if isinstance(o, set) else list(o)
        raise TypeError(f"cache key: cannot encode {type(o).__name__}")

    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=default, ensure_ascii=True)


def split_fingerprint(split: EncodedSplit) -> str:
    """sha256 of an encoded split's token ids, token types and labels (what a model sees)."""
    h = hashlib.sha256()
    for part in (split.input_ids, split.token_type_ids, split.labels):
        h.update(canonical_json(part).encode())
        h.update(b"|")
    return h.hexdigest()


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """sha256 of the tokenizer's vocabulary (token -> id) and its class."""
    vocab = tokenizer.get_vocab()
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    h.update(canonical_json(sorted(vocab.items(), key=lambda kv: kv[1])).encode())
    return h.hexdigest()


class ArtifactCache:
    def __init__(self, root: Path):
        self.root = Path(root) / "artifacts"

    def key(self, kind: str, inputs: dict[str, Any]) -> str:
        payload = {"kind": kind, "format": FORMAT_VERSION, "inputs": inputs}
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / f"{key}.pt"

    def load(self, kind: str, key: str) -> Any | None:
        path = self.path(kind, key)
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # a foreign or damaged file is a miss, recomputed and overwritten
            return None

    def save(self, kind: str, key: str, obj: Any, inputs: dict[str, Any] | None = None) -> Path:
        path = self.path(kind, key)
        if inputs is not None:
            write_json_atomic(path.with_suffix(".json"), {"kind": kind, "key": key, "inputs": inputs})
        torch_save_atomic(obj, path)
        return path

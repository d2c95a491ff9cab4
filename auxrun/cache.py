"""The artifact cache under ``$AUXRUN_CACHE``: everything auxrun builds on first use and reuses.

An entry lives under a key made from everything that determines it, so any run (another primary,
a larger task set, a sweep's other job, another machine) finds it. Three rules make a shared cache
safe for many jobs at once and give every job the same numbers:

- **One computes, the others wait.** An entry is computed under an OS file lock (``filelock``,
  ``fcntl.flock``) on ``<entry>.lock``: a second job that needs the same entry waits, then reads
  what the first wrote. The kernel drops the lock when its process dies, so a killed job never
  blocks the next one; the lock file itself stays behind and is harmless.
- **Whole or absent.** An entry is written to a temp file in its folder and published by an
  atomic no-clobber link/rename, so a killed job leaves at most a ``.tmp`` file that nothing reads.
- **First writer wins, everyone reads the disk.** Publishing never replaces an existing entry,
  and the process that computed an entry also loads it back from disk, so every job of a sweep
  uses the same bytes even where the computation is not bit-for-bit reproducible.

    cache = ArtifactCache(ctx.cache_dir)
    key = cache.key("head_importance", {"backbone": ..., "task": ..., "data": split_fingerprint(...)})
    obj, status = cache.get_or_compute("head_importance", key, compute, inputs)  # "hit" | "miss"

The key is the sha256 of a canonical JSON (sorted keys, no whitespace) of the determining inputs
plus the artifact kind and a format version; the inputs are also written next to the artifact as
``<key>.json`` so a cache entry says what it is.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from auxrun.errors import AuxrunError

if TYPE_CHECKING:  # a light module: a job waiting on a lock need not import torch
    from auxrun.data.features import EncodedSplit

log = logging.getLogger("auxrun")

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


def examples_fingerprint(examples: list[Any]) -> str:
    """sha256 of raw examples (every field, in order): changes when any example changes."""
    h = hashlib.sha256()
    for e in examples:
        h.update(repr((e.uid, e.text_a, e.text_b, e.tokens, e.choices, e.label)).encode())
        h.update(b"\n")
    return h.hexdigest()


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """sha256 of everything that decides how a tokenizer encodes: its class, and for a fast tokenizer
    the backend's whole definition (normalizer, pre-tokenizer, model and vocabulary, post-processor,
    added tokens) minus the truncation/padding state a previous call left on it; for a slow one its
    vocabulary and init settings. Memoised on the object (keyed by the vocabulary size)."""
    memo = getattr(tokenizer, "_auxrun_fingerprint", None)
    if memo is not None and memo[0] == len(tokenizer):
        return memo[1]
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        spec.pop("truncation", None)
        spec.pop("padding", None)
        h.update(canonical_json(spec).encode())
    else:
        h.update(canonical_json(sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])).encode())
        init = {k: v for k, v in getattr(tokenizer, "init_kwargs", {}).items() if _jsonable(v)}
        h.update(canonical_json(init).encode())
    h.update(canonical_json([tokenizer.padding_side, tokenizer.truncation_side]).encode())
    fp = h.hexdigest()
    try:
        tokenizer._auxrun_fingerprint = (len(tokenizer), fp)
    except AttributeError:
        pass
    return fp


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


# ---- locking and publishing -----------------------------------------------------------------------


@contextmanager
def entry_lock(path: Path, what: str = "") -> Iterator[None]:
    """Hold ``<path>.lock`` (an OS lock, released by the kernel if this process dies). Waits as long
    as the holder computes, logging once that it waits."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AuxrunError(f"cache folder {path.parent}: cannot create ({e.strerror})") from None
    lock = FileLock(str(path) + ".lock", timeout=-1)
    try:
        try:
            lock.acquire(timeout=1.0)
        except Timeout:
            log.info("waiting for another job computing %s (%s.lock)", what or path.name, path)
            lock.acquire()
    except OSError as e:  # a read-only cache folder or lock file
        raise AuxrunError(f"cache lock {path}.lock: cannot write ({e.strerror})") from None
    try:
        yield
    finally:
        lock.release()


def temp_path(path: Path) -> Path:
    """A fresh temp file name next to ``path`` (hidden, so listings and readers never take it)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".tmp", dir=Path(path).parent)
    except OSError as e:
        raise AuxrunError(f"cache folder {Path(path).parent}: cannot write ({e.strerror})") from None
    os.close(fd)
    return Path(tmp)


def publish(tmp: Path, path: Path) -> bool:
    """Move a finished temp file to ``path`` unless ``path`` exists (first writer wins). True if this
    call published it. Atomic on POSIX file systems (a hard link refuses to replace a name)."""
    tmp, path = Path(tmp), Path(path)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide a shared cache from other users
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError as e:  # no hard links on this file system: the lock makes this safe
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            if path.exists():
                return False
            os.replace(tmp, path)
            return True
    finally:
        tmp.unlink(missing_ok=True)


def publish_dir(tmp: Path, path: Path) -> bool:
    """Rename a finished temp folder to ``path`` unless ``path`` exists (first writer wins)."""
    tmp, path = Path(tmp), Path(path)
    try:
        if path.exists():
            return False
        try:
            os.rename(tmp, path)  # refuses a non-empty target: a concurrent writer got there first
            return True
        except OSError as e:
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST) and path.is_dir():
                return False
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---- the content-addressed store ------------------------------------------------------------------


class ArtifactCache:
    def __init__(self, root: Path):
        self.root = Path(root) / "artifacts"

    def key(self, kind: str, inputs: dict[str, Any]) -> str:
        payload = {"kind": kind, "format": FORMAT_VERSION, "inputs": inputs}
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / f"{key}.pt"

    def load(self, kind: str, key: str, loader: Callable[[Path], Any] | None = None) -> Any | None:
        """The entry, or None when absent or unreadable."""
        path = self.path(kind, key)
        if not path.is_file():
            return None
        try:
            return (loader or _torch_load)(path)
        except Exception:  # a foreign or damaged file is a miss (removed under the lock, recomputed)
            return None

    def save(
        self,
        kind: str,
        key: str,
        obj: Any,
        inputs: dict[str, Any] | None = None,
        writer: Callable[[Any, Path], None] | None = None,
    ) -> Path:
        """Publish an entry unless one is there already (first writer wins)."""
        path = self.path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        if inputs is not None and not path.with_suffix(".json").is_file():
            meta = temp_path(path.with_suffix(".json"))
            meta.write_text(json.dumps({"kind": kind, "key": key, "inputs": inputs}, indent=2) + "\n")
            publish(meta, path.with_suffix(".json"))
        tmp = temp_path(path)
        try:
            (writer or _torch_save)(obj, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        publish(tmp, path)
        return path

    @contextmanager
    def lock(self, kind: str, key: str) -> Iterator[None]:
        with entry_lock(self.path(kind, key), f"{kind} {key[:16]}"):
            yield

    def get_or_compute(
        self,
        kind: str,
        key: str,
        compute: Callable[[], Any],
        inputs: dict[str, Any] | None = None,
        loader: Callable[[Path], Any] | None = None,
        writer: Callable[[Any, Path], None] | None = None,
    ) -> tuple[Any, str]:
        """(the entry as on disk, "hit" | "miss"). On a miss ``compute`` runs under the entry's lock,
        so concurrent callers compute it once; its result is published and read back from disk."""
        obj = self.load(kind, key, loader)
        if obj is not None:
            return obj, "hit"
        with self.lock(kind, key):
            obj = self.load(kind, key, loader)
            if obj is not None:
                return obj, "hit"  # another job computed it while this one waited
            if self.path(kind, key).is_file():  # an unreadable leftover: replaced, said in one line
                log.warning("cache entry %s is damaged (unreadable); computed again", self.path(kind, key))
                self.path(kind, key).unlink()
            self.save(kind, key, compute(), inputs, writer)
            obj = self.load(kind, key, loader)
        if obj is None:
            raise AuxrunError(f"cache entry {self.path(kind, key)}: written but cannot be read back")
        return obj, "miss"


def _torch_load(path: Path) -> Any:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def _torch_save(obj: Any, path: Path) -> None:
    import torch

    torch.save(obj, path)

"""The artifact cache: the deterministic tiny tokenizer, first-writer-wins publishing, one computation
per entry across real processes, killed jobs, and the tokenized-data cache with its invalidation."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from transformers import PreTrainedTokenizerFast

from auxrun.cache import ArtifactCache, publish, temp_path, tokenizer_fingerprint
from auxrun.config import BackboneConfig
from auxrun.data.example import Example
from auxrun.data.features import EncodedSplit, load_encoded, save_encoded
from auxrun.data.pool import TaskPool
from auxrun.models.backbone import SPECIALS, load_tokenizer, wordpiece_vocab
from tests.conftest import FAST, REPO, compose, wordpiece_tokenizer

TINY = BackboneConfig(name="tiny", kind="tiny", vocab_size=300)


# ---- the tiny tokenizer ---------------------------------------------------------------------------


def _reference_vocab(counts: dict[str, int], vocab_size: int) -> dict[str, int]:
    """The same learning rule, recounting every pair after every merge (slow, obviously right)."""
    chars = sorted({c for w in counts for c in w})
    vocab = {}
    for tok in [*SPECIALS, *chars, *(f"##{c}" for c in chars)]:
        vocab.setdefault(tok, len(vocab))
    words = {w: [w[0], *(f"##{c}" for c in w[1:])] for w in counts}
    while len(vocab) < vocab_size:
        pairs: dict[tuple[str, str], int] = {}
        for w, sym in words.items():
            for p in zip(sym, sym[1:]):
                pairs[p] = pairs.get(p, 0) + counts[w]
        if not pairs:
            break
        a, b = min(pairs, key=lambda p: (-pairs[p], p))
        vocab.setdefault(a + b[2:], len(vocab))
        for w, sym in words.items():
            out, i = [], 0
            while i < len(sym):
                if i + 1 < len(sym) and (sym[i], sym[i + 1]) == (a, b):
                    out.append(a + b[2:])
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            words[w] = out
    return vocab


def test_wordpiece_vocab_matches_a_full_recount_after_every_merge():
    rng = random.Random(0)
    counts = {
        "".join(rng.choice("abcab") for _ in range(rng.randint(1, 7))): rng.randint(1, 4) for _ in range(80)
    }
    for size in (30, 60, 10_000):  # 10_000: runs until every word is one piece
        assert wordpiece_vocab(counts, size, SPECIALS) == _reference_vocab(counts, size)
    assert len(wordpiece_vocab(counts, 10_000, SPECIALS)) < 10_000


def test_tiny_tokenizer_is_a_function_of_its_text(tmp_path):
    # tokenizers' own WordPieceTrainer gave a different vocabulary on most calls with this corpus
    from auxrun.data.toy import lexicon_corpus

    corpus = lexicon_corpus(1234)
    files = []
    for i in range(3):
        load_tokenizer(TINY, corpus if i < 2 else corpus[::-1], tmp_path / str(i))
        files.append(next((tmp_path / str(i)).rglob("tokenizer.json")).read_bytes())
    assert files[0] == files[1]
    a = PreTrainedTokenizerFast(tokenizer_file=str(next((tmp_path / "0").rglob("tokenizer.json"))))
    b = PreTrainedTokenizerFast(tokenizer_file=str(next((tmp_path / "2").rglob("tokenizer.json"))))
    assert a.get_vocab() == b.get_vocab()  # the text's order does not matter, only its words


def test_tiny_tokenizer_uses_the_entry_on_disk(tmp_path):
    """First writer wins: a tokenizer file already in the cache is what every later caller gets."""
    from auxrun.data.toy import lexicon_corpus

    corpus = lexicon_corpus(5)
    tok = load_tokenizer(TINY, corpus, tmp_path)
    path = next(tmp_path.rglob("tokenizer.json"))
    other = load_tokenizer(TINY, ["zzz yyy xxx"], tmp_path / "other")  # a different vocabulary
    path.write_text(other.backend_tokenizer.to_str())  # planted as if another job had written it
    again = load_tokenizer(TINY, corpus, tmp_path)
    assert again.get_vocab() == other.get_vocab() != tok.get_vocab()


# ---- publishing and locking -----------------------------------------------------------------------


def test_publish_never_replaces_an_entry(tmp_path):
    path = tmp_path / "entry.bin"
    first, second = temp_path(path), temp_path(path)
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    assert publish(first, path) is True
    assert publish(second, path) is False
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.bin"]  # temp files gone


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from auxrun.cache import ArtifactCache

    root, marker, delay = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])

    def compute():
        with open(marker, "a") as f:
            f.write("computed\\n")
        time.sleep(delay)
        return {"value": 42}

    def slow_writer(obj, path):  # writes half, then stalls: a kill here must leave no entry
        import pickle
        data = pickle.dumps(obj)
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            time.sleep(delay)
            f.write(data[len(data) // 2 :])

    def loader(path):
        import pickle
        return pickle.loads(path.read_bytes())

    cache = ArtifactCache(root)
    obj, status = cache.get_or_compute("thing", "k" * 64, compute, {"x": 1}, loader=loader, writer=slow_writer)
    print(status, obj["value"], flush=True)
    """
)


def _worker(tmp_path, delay):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, str(script), str(tmp_path / "cache"), str(tmp_path / "marker"), str(delay)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_concurrent_processes_compute_an_entry_once(tmp_path):
    procs = [_worker(tmp_path, 1.0) for _ in range(3)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert (tmp_path / "marker").read_text() == "computed\n"
    assert sorted(o.split()[0] for o in outs) == ["hit", "hit", "miss"]
    assert all(o.split()[1] == "42" for o in outs)


def test_a_killed_job_leaves_no_entry_and_no_lock_that_blocks(tmp_path):
    victim = _worker(tmp_path, 60.0)
    marker = tmp_path / "marker"
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:  # it holds the lock and is computing
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    entry = ArtifactCache(tmp_path / "cache").path("thing", "k" * 64)
    assert not entry.exists()
    assert Path(str(entry) + ".lock").exists()  # the lock file stays; its OS lock died with the job
    nxt = _worker(tmp_path, 0.0)
    out = nxt.communicate(timeout=60)[0]  # would time out if the dead job's lock still held
    assert nxt.returncode == 0 and out.split() == ["miss", "42"], out
    assert marker.read_text() == "computed\ncomputed\n"


# ---- the tokenized-data cache -----------------------------------------------------------------------


def test_encoded_split_round_trips_every_objective(tmp_path):
    splits = [
        EncodedSplit("c", "train", [[2, 7, 3], [2, 3]], [[0, 0, 0], [0, 0]], [1, 0], [1, 0], uids=["a", "b"]),
        EncodedSplit("r", "dev", [[2, 9, 3]], [[0, 0, 0]], [0.25], [0.25], uids=["x"]),
        EncodedSplit("u", "test", [[2, 5, 3, 6, 3]], [[0, 0, 0, 1, 1]], [None], [None], uids=["t"]),
        EncodedSplit(
            "t", "train", [[2, 4, 5, 3]], [[0, 0, 0, 0]], [[-100, 1, 0, -100]], [["B", "O"]], [[1, 2]], ["s"]
        ),
        EncodedSplit(
            "m",
            "dev",
            [[[2, 4, 3, 5, 3], [2, 4, 3, 3]]] * 2,
            [[[0, 0, 0, 1, 1], [0, 0, 0, 1]]] * 2,
            [1, 0],
            [1, 0],
        ),
        EncodedSplit("e", "dev", [], [], [], []),
    ]
    for i, split in enumerate(splits):
        save_encoded(split, tmp_path / f"{i}.pkl")
        assert load_encoded(tmp_path / f"{i}.pkl") == split


class CountingCalls:
    def __init__(self, monkeypatch):
        self.n = 0
        original = PreTrainedTokenizerFast.__call__

        def counted(tok, *args, **kwargs):
            self.n += 1
            return original(tok, *args, **kwargs)

        monkeypatch.setattr(PreTrainedTokenizerFast, "__call__", counted)


TASKS = "task_set.tasks=[toy_sentiment,toy_pair,toy_ner]"


def test_tokenized_splits_are_reused_and_invalidated_by_data_and_max_length(tmp_path, monkeypatch):
    cfg = compose([*FAST, TASKS])
    calls = CountingCalls(monkeypatch)
    tok = wordpiece_tokenizer()

    def encode(pool, max_length=64):
        before = calls.n
        status = pool.encode(tok, max_length, tmp_path)
        return status, calls.n - before

    first = TaskPool.load(cfg)
    status, n = encode(first)
    assert n > 0 and {s for t in status.values() for s in t.values()} == {"miss"}

    second = TaskPool.load(cfg)
    status, n = encode(second)
    assert n == 0 and {s for t in status.values() for s in t.values()} == {"hit"}  # no tokenizer call
    assert second.encoded == first.encoded
    uncached = TaskPool.load(cfg)
    uncached.encode(tok, 64)
    assert uncached.encoded == first.encoded  # what the cache returns is what encoding gives

    edited = TaskPool.load(cfg)  # one example edited: that split misses, nothing else does
    edited.raw["toy_pair"]["dev"][3] = Example(
        **{**vars(edited.raw["toy_pair"]["dev"][3]), "text_b": "Changed ."}
    )
    status, n = encode(edited)
    assert n == 1
    assert [(t, s) for t, v in status.items() for s, st in v.items() if st == "miss"] == [("toy_pair", "dev")]
    assert edited.encoded["toy_pair"]["dev"].input_ids[3] != first.encoded["toy_pair"]["dev"].input_ids[3]

    status, n = encode(TaskPool.load(cfg), max_length=16)  # another max_length: every split misses
    assert n > 0 and {s for t in status.values() for s in t.values()} == {"miss"}


def test_a_damaged_entry_is_recomputed(tmp_path):
    cfg = compose([*FAST, "task_set.tasks=[toy_sentiment]"])
    tok = wordpiece_tokenizer()
    pool = TaskPool.load(cfg)
    pool.encode(tok, 64, tmp_path)
    for p in (tmp_path / "artifacts" / "encoded").glob("*.pt"):
        p.write_bytes(p.read_bytes()[:20])
    again = TaskPool.load(cfg)
    status = again.encode(tok, 64, tmp_path)
    assert set(status["toy_sentiment"].values()) == {"miss"}
    assert again.encoded == pool.encoded


def test_tokenizer_fingerprint_sees_casing_and_ignores_call_state():
    from transformers import AutoTokenizer

    from auxrun.models.backbone import resolve_model_dir

    cfg = compose(["backbone=minilm_l6"]).backbone
    src = resolve_model_dir(cfg)
    lower = AutoTokenizer.from_pretrained(src)
    cased = AutoTokenizer.from_pretrained(src, do_lower_case=False)
    assert lower.get_vocab() == cased.get_vocab()  # same vocabulary, different encodings
    assert tokenizer_fingerprint(lower) != tokenizer_fingerprint(cased)
    fresh = AutoTokenizer.from_pretrained(src)
    fresh("a sentence to encode", truncation=True, max_length=4)  # leaves truncation set on the backend
    assert tokenizer_fingerprint(fresh) == tokenizer_fingerprint(AutoTokenizer.from_pretrained(src))


def test_get_or_compute_reads_back_what_is_on_disk(tmp_path):
    kind = "head_importance"
    cache = ArtifactCache(tmp_path)
    key = cache.key(kind, {"a": 1})
    cache.save(kind, key, {"v": "first"})
    obj, status = cache.get_or_compute(kind, key, lambda: {"v": "second"})
    assert (obj, status) == ({"v": "first"}, "hit")
    other = cache.key(kind, {"a": 2})
    obj, status = cache.get_or_compute(kind, other, lambda: {"v": "computed"})
    assert (obj, status) == ({"v": "computed"}, "miss")
    assert cache.load(kind, other) == {"v": "computed"}

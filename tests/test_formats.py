"""Readers on fixture files written in each official format, with every quirk of the real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auxrun.config import DataConfig
from auxrun.data.formats import READERS, _iob1_to_iob2
from auxrun.data.sources import load_raw_splits
from auxrun.data.spec import load_task_spec
from auxrun.errors import DataError
from tests.conftest import wordpiece_tokenizer

os.environ["HF_HUB_OFFLINE"] = "1"
FIXTURES = Path(__file__).parent / "fixtures" / "data"


def load(task: str, root: Path = FIXTURES):
    return load_raw_splits(load_task_spec(task), DataConfig(root=str(root), source="local"))


def test_cola_headerless_train_dev_and_headerful_test():
    splits = load("cola")
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [4, 2, 2]  # dev has no final newline
    assert [e.label for e in splits["train"]] == ["1", "0", "1", "0"]
    assert splits["train"][2].text_a == 'She said "maybe" and left.'  # quoting off: quotes stay
    assert splits["train"][3].text_a == 'He "wondered the door open.'  # an unbalanced quote ends nothing
    assert [(e.uid, e.label) for e in splits["test"]] == [("0", None), ("1", None)]


def test_mrpc_byte_order_mark_and_bare_quotes():
    splits = load("mrpc")
    assert [e.label for e in splits["train"]] == ["1", "0", "1"]  # the BOM does not hide 'Quality'
    assert splits["dev"][0].text_b == '" The choir left early , " he said .'
    assert [e.uid for e in splits["test"]] == ["0", "1"] and splits["test"][0].label is None


def test_mnli_extra_columns_and_both_dev_sets():
    splits = load("mnli")
    assert set(splits) == {"train", "dev", "dev_mismatched", "test", "test_mismatched"}
    assert [e.label for e in splits["train"]] == ["entailment", "contradiction", "neutral"]
    assert splits["train"][2].text_a == 'She called it "fine".'
    assert splits["dev"][1].label == "contradiction"  # gold_label, not label1..label5
    assert splits["dev_mismatched"][0].label == "neutral"
    assert splits["test_mismatched"][0].label is None and splits["test_mismatched"][0].uid == "0"
    assert load_task_spec("mnli").eval_splits == ["dev", "dev_mismatched"]


@pytest.mark.parametrize(
    "task, sizes, first_label",
    [
        ("qqp", {"train": 2, "dev": 1, "test": 1}, "1"),
        ("qnli", {"train": 2, "dev": 1, "test": 1}, "entailment"),
        ("rte", {"train": 2, "dev": 1, "test": 1}, "entailment"),
        ("wnli", {"train": 2, "dev": 1, "test": 1}, "1"),
        ("sst2", {"train": 3, "dev": 2, "test": 2}, "1"),
        ("stsb", {"train": 2, "dev": 1, "test": 1}, 4.25),
    ],
)
def test_glue_pair_and_single_tasks(task, sizes, first_label):
    splits = load(task)
    assert {s: len(v) for s, v in splits.items()} == sizes
    assert splits["train"][0].label == first_label
    assert all(e.label is None for e in splits["test"])


def test_sst2_trailing_space_is_stripped():
    assert load("sst2")["train"][0].text_a == "a warm , patient little film"


def test_superglue_cb_and_copa():
    cb = load("cb")
    assert [e.label for e in cb["train"]] == ["neutral", "entailment", "contradiction"]
    assert cb["test"][0].label is None
    copa = load("copa")
    first = copa["train"][0]
    assert first.text_a == "The milk smelled sour. What was the cause of this?"
    assert first.choices == ["It had been left out.", "It was cold."] and first.label == 0
    assert copa["dev"][0].text_a.endswith("What happened as a result?") and copa["dev"][0].label == 1
    assert copa["test"][0].label is None and copa["test"][0].choices


def test_meld_quotes_commas_and_crlf():
    meld = load("meld")
    train = meld["train"]
    assert [e.label for e in train] == ["surprise", "neutral", "joy", "anger"]  # no stray '\r'
    assert train[0].text_a == "Well, that's the strangest toaster I've seen."
    assert train[2].text_a == 'She wrote "never again" on the fridge, then "laughed".'
    assert meld["test"][1].uid == "7"
    dmeld = load("dmeld")
    assert [e.uid for e in dmeld["train"]] == ["0_0", "0_1", "1_0"]
    assert dmeld["dev"][0].text_a == "Oh no, the cake's on the floor."


def test_conll2000_has_no_dev_and_the_task_file_carves_one():
    splits = load("chunk")
    assert set(splits) == {"train", "test"} and len(splits["train"]) == 3
    assert splits["test"][0].label == ["B-NP", "B-VP", "B-ADVP", "O"]  # no final newline
    spec = load_task_spec("chunk")
    assert spec.dev_from_train == 0.1 and spec.dev_from_train_seed == 42


def test_conll2003_docstart_and_iob1_to_iob2():
    splits = load("ner")
    train = splits["train"]
    assert len(train) == 3 and all("-DOCSTART-" not in e.tokens for e in train)
    assert train[0].label == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert train[1].label == ["B-ORG", "I-ORG", "O", "B-PER", "B-PER", "O"]  # adjacent spans stay apart
    assert train[2].label == ["B-MISC", "O", "O"]
    assert splits["test"][0].label == ["B-PER", "O", "B-PER"]


def test_iob1_to_iob2_rules():
    assert _iob1_to_iob2(["I-LOC", "I-PER", "I-PER", "O", "I-ORG", "B-ORG"]) == [
        "B-LOC",
        "B-PER",
        "I-PER",
        "O",
        "B-ORG",
        "B-ORG",
    ]


def test_conllu_skips_multiword_ranges_and_empty_nodes():
    splits = load("pos")
    first, second = splits["train"]
    assert first.uid == "fixture-0001"
    assert first.tokens == ["I", "'ll", "bake", "bread", "."]
    assert first.label == ["PRON", "AUX", "VERB", "NOUN", "PUNCT"]
    assert second.tokens == ["Ana", "likes", "tea", "and", "Ben", "coffee"]  # empty node 5.1 skipped
    assert splits["test"][0].label == ["VERB", "ADV"]  # no final newline


# --- bad data: a clear error naming file and line, value and allowed set -------------------------


def _copy_task_dir(tmp_path: Path, rel: str) -> Path:
    dest = tmp_path / rel
    dest.mkdir(parents=True)
    for f in (FIXTURES / rel).iterdir():
        dest.joinpath(f.name).write_bytes(f.read_bytes())
    return dest


def test_missing_file_names_the_path_and_the_layout(tmp_path):
    folder = _copy_task_dir(tmp_path, "glue_data/RTE")
    (folder / "dev.tsv").unlink()
    with pytest.raises(DataError) as e:
        load("rte", tmp_path)
    msg = str(e.value)
    assert str(folder / "dev.tsv") in msg and "glue_data/RTE/train.tsv" in msg and "data.root" in msg


def test_malformed_tsv_row_names_file_and_line(tmp_path):
    folder = _copy_task_dir(tmp_path, "glue_data/RTE")
    (folder / "train.tsv").write_text(
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly one field\n"
    )
    with pytest.raises(DataError, match=r"train\.tsv: line 3: expected at least 4"):
        load("rte", tmp_path)


def test_unknown_label_names_value_and_allowed_set(tmp_path):
    folder = _copy_task_dir(tmp_path, "glue_data/RTE")
    (folder / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n")
    with pytest.raises(DataError) as e:
        load("rte", tmp_path)
    assert "dev.tsv: line 2: unknown label 'maybe'" in str(e.value)
    assert "['entailment', 'not_entailment']" in str(e.value)


@pytest.mark.parametrize(
    "task, rel, name, content, pattern",
    [
        (
            "ner",
            "conll2003",
            "eng.testa",
            "Bo NNP I-NP I-PER\nx NN I-NP I-FOO\n",
            r"eng\.testa: line 2: unknown label 'I-FOO' \(read as 'B-FOO'\)",  # quoted as written
        ),
        ("chunk", "conll2000", "test.txt", "lonely\n", r"test\.txt: line 1: expected a token and a tag"),
        (
            "pos",
            "ud_english_ewt",
            "en_ewt-ud-dev.conllu",
            "# c\n1\tWow\twow\tINTJ\n",
            r"line 2: expected 10 tab",
        ),
        (
            "pos",
            "ud_english_ewt",
            "en_ewt-ud-dev.conllu",
            "1\ta\ta\tNOPE\t_\t_\t0\tdep\t_\t_\n",
            r"unknown label 'NOPE'",
        ),
        (
            "cb",
            "superglue/CB",
            "val.jsonl",
            '{"premise": "a", "hypothesis": "b", "label": "entailment"}\n{oops\n',
            r"val\.jsonl: line 2: not valid JSON",
        ),
        (
            "cb",
            "superglue/CB",
            "val.jsonl",
            '{"premise": "a", "hypothesis": "b", "idx": 0}\n',
            r"line 1: missing field 'label'",
        ),
        (
            "copa",
            "superglue/COPA",
            "val.jsonl",
            '{"premise": "a", "choice1": "b", "choice2": "c", "question": "cause", "label": 2, "idx": 0}\n',
            r"label 2 is not a choice index",
        ),
        (
            "meld",
            "meld/MELD",
            "dev_sent_emo.csv",
            'Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\r\n1,"Hi, you",Ana,joy\r\n',
            r"dev_sent_emo\.csv: line 2: expected 11 comma-separated",
        ),
        (
            "meld",
            "meld/MELD",
            "dev_sent_emo.csv",
            'Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\r\n1,Hi,Ana,bored,neutral,0,0,1,1,"0:00:01,000","0:00:02,000"\r\n',
            r"unknown label 'bored'; allowed: \['anger'",
        ),
        (
            "stsb",
            "glue_data/STS-B",
            "dev.tsv",
            "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\ta\tb\thigh\n",
            r"line 2: label 'high' is not a number",
        ),
    ],
)
def test_bad_rows_in_every_format(tmp_path, task, rel, name, content, pattern):
    folder = _copy_task_dir(tmp_path, rel)
    (folder / name).write_bytes(content.encode("utf-8"))
    with pytest.raises(DataError, match=pattern):
        load(task, tmp_path)


def test_invalid_encoding_names_the_file(tmp_path):
    folder = _copy_task_dir(tmp_path, "glue_data/WNLI")
    (folder / "dev.tsv").write_bytes(b"index\tsentence1\tsentence2\tlabel\n0\tcaf\xe9\tb\t1\n")
    # the line (2) as well as the byte offset (32 header bytes + "0\tcaf")
    with pytest.raises(DataError, match=r"dev\.tsv: line 2: byte 37 \(0xe9\) is not valid utf-8-sig"):
        load("wnli", tmp_path)


def test_per_split_options_override_one_split(tmp_path):
    spec = load_task_spec("cola")
    path = FIXTURES / "glue_data/CoLA/test.tsv"
    options = dict(spec.sources.local.options)
    examples = READERS["glue_tsv"](path, spec, "test", options)
    assert examples[0].text_a == "The owl counted the stars."
    with pytest.raises(DataError):  # without the per_split override the header row is a data row
        READERS["glue_tsv"](path, spec, "test", {k: v for k, v in options.items() if k != "per_split"})


def test_glue_reader_reads_a_qqp_sized_file(tmp_path):
    spec = load_task_spec("qqp")
    rows = ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"]
    rows += [
        f"{i}\t{2 * i}\t{2 * i + 1}\tHow do I fold paper crane {i}?\tWhat folds a crane {i}?\t{i % 2}"
        for i in range(100_000)
    ]
    path = tmp_path / "train.tsv"
    path.write_text("\n".join(rows))
    examples = READERS["glue_tsv"](path, spec, "train", dict(spec.sources.local.options))
    assert len(examples) == 100_000 and examples[-1].label == "1"


# --- sequence labelling: tags on first sub-tokens, intact through truncation ---------------------


@pytest.mark.parametrize("task", ["ner", "pos", "chunk"])
@pytest.mark.parametrize("max_length", [8, 64])
def test_tags_land_on_first_subtokens_and_survive_truncation(task, max_length):
    from auxrun.data import features

    spec = load_task_spec(task)
    tokenizer = wordpiece_tokenizer()
    examples = load(task)["train"]
    enc = features.encode_split(spec, "train", examples, tokenizer, max_length)
    for i, ex in enumerate(examples):
        ids, labels, starts = enc.input_ids[i], enc.labels[i], enc.word_starts[i]
        assert len(ids) <= max_length and len(labels) == len(ids)
        word_ids = tokenizer(
            ex.tokens, is_split_into_words=True, truncation=True, max_length=max_length
        ).word_ids()
        kept = sorted({w for w in word_ids if w is not None})
        assert kept == list(range(len(kept)))  # truncation drops trailing words only
        assert len(starts) == len(kept)
        for word, pos in zip(kept, starts, strict=True):
            assert word_ids[pos] == word and (pos == 0 or word_ids[pos - 1] != word)  # first sub-token
            assert spec.labels[labels[pos]] == ex.label[word]  # the word's own tag, never a neighbour's
        assert sum(label != features.IGNORE for label in labels) == len(kept)
        assert enc.gold[i] == ex.label  # full gold kept for scoring, truncated words included
    if max_length == 8:
        assert any(len(s) < len(ex.tokens) for s, ex in zip(enc.word_starts, examples, strict=True))


# --- unlabelled test splits predict into the GLUE submission format ------------------------------


def test_glue_submission_files(tmp_path):
    from auxrun.data.submission import write_glue_predictions

    test = load("mnli")["test_mismatched"]
    path = write_glue_predictions(
        "mnli", [(e.uid, "neutral") for e in test], tmp_path, split="test_mismatched"
    )
    assert path.name == "MNLI-mm.tsv" and path.read_text() == "index\tprediction\n0\tneutral\n"
    cola = write_glue_predictions("cola", {e.uid: "1" for e in load("cola")["test"]}, tmp_path)
    assert cola.read_text().splitlines() == ["index\tprediction", "0\t1", "1\t1"]
    stsb = write_glue_predictions("stsb", [("0", 5.7), ("1", -0.2)], tmp_path)
    assert stsb.read_text().splitlines()[1:] == ["0\t5.000", "1\t0.000"]
    with pytest.raises(DataError, match="not one of"):
        write_glue_predictions("rte", [("0", "maybe")], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CoLA.tsv", "MNLI-mm.tsv", "STS-B.tsv"]

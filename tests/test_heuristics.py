"""HEU-Size, HEU-Len, HEU-Type (GradTS 5.3): rankings on hand-made statistics, the statistics against
GradTS Table 7 where this repository can check them, and the three methods end to end on toy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from auxrun.data.inspect import mean_sentence_words, train_statistics
from auxrun.data.spec import load_task_spec
from auxrun.methods.heu_len import rank_by_length
from auxrun.methods.heu_size import rank_by_size
from auxrun.methods.heu_type import same_type
from tests.conftest import FAST, run_auxrun

FIXTURES = Path(__file__).parent / "fixtures" / "data"

# GradTS Table 7, as printed: SIZE, LEN (words per sentence), TYPE.
TABLE7 = {
    "cola": (8550, 7.70, "single_sentence"),
    "mrpc": (3667, 21.77, "paraphrase"),
    "mnli": (392701, 15.34, "inference"),
    "qnli": (104742, 18.22, "inference"),
    "qqp": (363845, 11.06, "paraphrase"),
    "rte": (2489, 26.18, "inference"),
    "sst2": (67348, 9.41, "single_sentence"),
    "wnli": (634, 13.90, "inference"),
}
GLUE8 = list(TABLE7)


def table7_stats():
    return {t: {"size": s, "mean_sentence_words": n, "task_type": k} for t, (s, n, k) in TABLE7.items()}


def test_rankings_on_hand_made_statistics():
    stats = table7_stats()
    aux = [t for t in GLUE8 if t != "rte"]
    assert rank_by_size(stats, aux) == ["mnli", "qqp", "qnli", "sst2", "cola", "mrpc", "wnli"]
    # |len - 26.18|: mrpc 4.41, qnli 7.96, mnli 10.84, wnli 12.28, qqp 15.12, sst2 16.77, cola 18.48
    assert rank_by_length(stats, "rte", aux) == ["mrpc", "qnli", "mnli", "wnli", "qqp", "sst2", "cola"]
    types = {t: s["task_type"] for t, s in stats.items()}
    assert same_type(types, "rte", aux) == ["mnli", "qnli", "wnli"]
    assert same_type(types, "cola", [t for t in GLUE8 if t != "cola"]) == ["sst2"]
    # ties keep the pool's order; a type nobody else has keeps nothing
    tied = {"a": {"size": 5, "mean_sentence_words": 9.0}, "b": {"size": 7, "mean_sentence_words": 11.0}}
    tied |= {"c": {"size": 5, "mean_sentence_words": 11.0}, "p": {"size": 1, "mean_sentence_words": 10.0}}
    assert rank_by_size(tied, ["c", "a", "b"]) == ["b", "c", "a"]
    assert rank_by_length(tied, "p", ["c", "a", "b"]) == ["c", "a", "b"]
    assert same_type({"p": "tagging", "a": "inference"}, "p", ["a"]) == []


def test_glue8_sizes_and_types_against_table7():
    """Table 7's SIZE is one less than the official train files' row counts for every task (the
    counts the task files expect, as the data-samples README lists them); the order is the same."""
    sizes = {}
    for t in GLUE8:
        spec = load_task_spec(t, [])
        sizes[t] = spec.sources.local.options["expected_counts"]["train"]
        assert sizes[t] == TABLE7[t][0] + 1, t
        assert spec.task_type == TABLE7[t][2], t
    stats = table7_stats()
    ours = {t: {"size": n} for t, n in sizes.items()}
    for primary in GLUE8:
        aux = [t for t in GLUE8 if t != primary]
        assert rank_by_size(ours, aux) == rank_by_size(stats, aux)


def test_statistics_are_what_the_loader_reads(tmp_path):
    """Size = examples read from the train file; length = words per sentence, pairs counted per
    sentence (RTE fixture: 8 + 4 + 5 + 4 words over 4 sentences)."""
    data = OmegaConf.create({"root": str(FIXTURES), "source": "local", "task_dirs": [], "hub_timeout_s": 2.0})
    rte = train_statistics(load_task_spec("rte", []), data)
    assert rte == {"size": 2, "mean_sentence_words": pytest.approx(21 / 4), "task_type": "inference"}
    cola = train_statistics(load_task_spec("cola", []), data)
    rows = (FIXTURES / "glue_data" / "CoLA" / "train.tsv").read_text().splitlines()
    words = [len(r.split("\t")[3].split()) for r in rows if r.strip()]
    assert cola["size"] == len(words) and cola["mean_sentence_words"] == pytest.approx(
        sum(words) / len(words)
    )
    ner = load_task_spec("ner", [])
    from auxrun.data.sources import load_raw_splits

    train = load_raw_splits(ner, data)["train"]
    assert mean_sentence_words(train) == pytest.approx(sum(len(e.tokens) for e in train) / len(train))


POOL = "task_set.tasks=[toy_sentiment,toy_rating,toy_noise]"


@pytest.mark.parametrize("method", ["heu_size", "heu_len", "heu_type"])
def test_heuristics_end_to_end_on_toy(tmp_path, method):
    extra = [] if method == "heu_type" else ["method.trial_resamples=100"]
    res = run_auxrun([f"method={method}", POOL, *FAST, *extra], tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert res["training_tasks"] == ["toy_sentiment", *sel["selected_tasks"]]
    if method == "heu_type":  # toy_sentiment and toy_noise are single_sentence, toy_rating similarity
        assert sel["selected_tasks"] == ["toy_noise"] and sel["task_types"]["toy_rating"] == "similarity"
        return
    stats = sel["statistics"]
    assert {t: s["size"] for t, s in stats.items()} == {
        "toy_sentiment": 90,
        "toy_rating": 450,
        "toy_noise": 450,
    }
    key = (lambda t: -stats[t]["size"]) if method == "heu_size" else None
    if method == "heu_len":
        target = stats["toy_sentiment"]["mean_sentence_words"]
        key = lambda t: abs(stats[t]["mean_sentence_words"] - target)  # noqa: E731
    assert sel["ranking"] == sorted(["toy_rating", "toy_noise"], key=key)
    assert sorted(sel["ranking"], key=lambda t: -sel["scores"][t]) == sel["ranking"]  # higher = more useful
    trials = sel["trials"]
    assert [t["tasks"] for t in trials] == [sel["ranking"][:k] for k in range(len(trials))]
    assert sel["selected_tasks"] == sel["trial_selection_by_rule"]["paper"]
    assert sel["trial_settings"]["select_dev_examples"] == 9 and "fewer than 100" in sel["trial_warning"]
    for t in trials[1:]:
        for rule in ("paper", "significant"):
            d = t[rule]
            assert d["ci"][0] <= d["ci"][1] and 0 <= d["p"] <= 1 and isinstance(d["accepted"], bool)
    assert res["cost"]["select/trials/seed0"]["examples_backward"] > 0

"""The papers' tables as data: spot checks against the papers (values read off shared/papers/*.md by
hand), and every table parses into one number per measure."""

import pytest

from auxrun import paper_tables
from auxrun.data.spec import available_tasks

# (table, row, column, printed cell), each checked by hand against the paper's markdown
HAND_CHECKED = [
    ("gradts_table2", "AUTOSEM", "MRPC", "84.24/75.25"),
    ("gradts_table2", "GradTS-fg", "CoLA", "58.38"),
    ("gradts_table4", "D-MELD", "Single-Task", "37.44"),
    ("gradts_table4", "WNLI", "AUTOSEM-p1", "45.07"),
    ("gradts_table5", "SC", "GradTS-fg", "93.76"),
    ("gradts_table5", "STSB", "AUTOSEM", "89.12/88.79"),
    ("gradts_table6", "HEU-Type", "RTE", "73.65"),
    ("gradts_table8", "+GradTS-fg", "WNLI", "69.01"),  # first +GradTS-fg row: bert-base-uncased
    ("gradts_table9", "WNLI", "GradTS-thres", "56.34"),
    ("autosem_table1", "Our AUTOSEM", "QNLI", "79.2"),
    ("avil_table2", "DIW", "CB dev", "98.66"),
    ("avil_table2", "DIW", "CB test", "93.6"),
    ("fastmtl_fig3_5", "800,000", "MRPC CE", "89.2 / 85.7"),
    ("fastmtl_fig3_5", "500", "RTE Random", "67.6"),
]


@pytest.mark.parametrize("name,row,column,printed", HAND_CHECKED)
def test_hand_checked_cells(name, row, column, printed):
    assert paper_tables.load(name).cell(row, column) == printed


def test_repeated_row_labels_keep_their_backbone():
    t = paper_tables.load("gradts_table8")
    fg_wnli = {
        e.match["backbone.name"]: e.value for e in t.entries() if e.row == "+GradTS-fg" and e.column == "WNLI"
    }
    assert fg_wnli == {
        "bert_base_uncased": 69.01,
        "bert_base_cased": 74.65,
        "bert_large_uncased": 76.06,
        "bert_large_cased": 78.87,
        "roberta_base": 66.19,
        "roberta_large": 60.56,
    }


def test_two_number_cells_split_into_their_measures():
    t = paper_tables.load("gradts_table2")
    mnli = [
        (e.split, e.metric, e.value) for e in t.entries() if e.row == "Single-Task" and e.column == "MNLI"
    ]
    assert mnli == [("dev", "accuracy", 83.52), ("dev_mismatched", "accuracy", 83.88)]
    stsb = [
        (e.metric, e.value)
        for e in paper_tables.load("fastmtl_fig3_5").entries()
        if e.row == "1,000" and e.column == "STS-B BCE"
    ]
    assert stsb == [("pearson", 83.0), ("spearman", 81.4)]
    assert [e.split for e in paper_tables.load("autosem_table1").entries()][:1] == ["test"]


@pytest.mark.parametrize("name", paper_tables.available())
def test_every_table_parses_and_names_real_tasks(name):
    t = paper_tables.load(name)
    entries = t.entries()
    assert len(entries) >= len(t.rows) * len(t.columns)
    known = set(available_tasks([]))
    assert {e.match["primary"] for e in entries} <= known
    assert all(0 <= e.value <= 100 for e in entries)


def test_unknown_table_is_a_config_error():
    from auxrun.errors import ConfigError

    with pytest.raises(ConfigError, match="available"):
        paper_tables.load("gradts_table99")

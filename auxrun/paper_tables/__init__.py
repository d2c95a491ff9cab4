"""The papers' numbers as data: one YAML file per table, transcribed as printed.

Each file has ``rows`` and ``columns`` (a printed label and the run-config keys a row or column fixes,
e.g. ``{method.name: gradts_fg}`` or ``{primary: rte}``), ``cells`` (the printed strings, one list per
row in column order) and ``measures`` (per primary, what each number of an ``a/b`` cell is: a metric,
or ``split/metric`` where the split differs from the table's). ``entries()`` turns a table into one
record per number, which is what the report puts beside ours.

Files named ``*_transfer.yaml`` are not tables but pairwise transfer results from other work (a target,
a source and the relative change the source brought): ``load_transfer`` reads them, and the report sets
their signs beside the gains of an ``experiment=transfer_truth`` measurement (``transfer_references``).
Files named ``*_single_task.yaml`` hold single-task scores another work reached on a backbone of the
same size with full training data (``load_single_task``): the report sets our primaries alone beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from auxrun.errors import ConfigError

TABLES_DIR = Path(__file__).resolve().parent


@dataclass
class PaperEntry:
    row: str  # the printed labels
    column: str
    match: dict[str, Any]  # run-config keys (dotted) this number is for
    split: str
    metric: str
    printed: str  # the cell as printed, e.g. "78.19/84.58"
    value: float  # this measure's number
    text: str  # the number as printed ("51.00")


@dataclass
class PaperTable:
    name: str
    paper: str
    table: str
    caption: str
    split: str
    rows: list[dict[str, Any]]
    columns: list[dict[str, Any]]
    cells: list[list[str]]
    measures: dict[str, list[str]]
    meta: dict[str, Any] = field(default_factory=dict)

    def cell(self, row: str, column: str) -> str:
        r = [x["label"] for x in self.rows].index(row)
        c = [x["label"] for x in self.columns].index(column)
        return self.cells[r][c]

    def entries(self) -> list[PaperEntry]:
        out = []
        for row, printed_row in zip(self.rows, self.cells):
            for col, printed in zip(self.columns, printed_row):
                match = {**row.get("match", {}), **col.get("match", {})}
                split = col.get("split") or row.get("split") or self.split
                measures = self.measures.get(match.get("primary"), ["main"])
                numbers = printed.replace(" ", "").split("/")
                if len(numbers) != len(measures):
                    raise ConfigError(
                        f"paper table {self.name}: cell '{printed}' ({row['label']}, {col['label']}) "
                        f"has {len(numbers)} numbers, measures for '{match.get('primary')}' list {len(measures)}"
                    )
                for measure, text in zip(measures, numbers):
                    s, _, metric = measure.rpartition("/")
                    entry = PaperEntry(
                        row["label"], col["label"], match, s or split, metric, printed, float(text), text
                    )
                    out.append(entry)
        return out


TRANSFER_SUFFIX = "_transfer"  # pairwise transfer results, not a printed table
SINGLE_TASK_SUFFIX = "_single_task"  # single-task scores at full data, not a printed table


def available() -> list[str]:
    """The paper tables (``--experiment NAME``)."""
    return sorted(
        p.stem
        for p in TABLES_DIR.glob("*.yaml")
        if not p.stem.endswith(TRANSFER_SUFFIX) and not p.stem.endswith(SINGLE_TASK_SUFFIX)
    )


def load(name: str) -> PaperTable:
    path = TABLES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no paper table '{name}'; available: {available()}")
    d = yaml.safe_load(path.read_text())
    known = {"name", "paper", "table", "caption", "split", "rows", "columns", "cells", "measures"}
    table = PaperTable(
        **{k: d[k] for k in known if k != "measures"},
        measures=d.get("measures", {}),
        meta={k: v for k, v in d.items() if k not in known and k != "measures"},
    )
    if len(table.cells) != len(table.rows) or any(len(r) != len(table.columns) for r in table.cells):
        raise ConfigError(f"{path}: cells must be {len(table.rows)} rows x {len(table.columns)} columns")
    return table


@dataclass
class TransferPair:
    target: str  # auxrun's task names
    source: str
    change_pct: float  # their relative change of the target's score, source against target alone
    note: str = ""


@dataclass
class TransferReference:
    name: str
    paper: str
    setting: str
    measure: str
    pairs: list[TransferPair]


def _named(suffix: str) -> list[str]:
    return sorted(p.stem for p in TABLES_DIR.glob(f"*{suffix}.yaml"))


def _read_named(name: str, suffix: str, kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A ``*<suffix>.yaml`` file and its map from the other work's task names to auxrun's (``tasks``)."""
    path = TABLES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no {kind} '{name}'; available: {_named(suffix)}")
    d = yaml.safe_load(path.read_text())
    return d, d.get("tasks") or {}


def transfer_references() -> list[str]:
    return _named(TRANSFER_SUFFIX)


def load_transfer(name: str) -> TransferReference:
    """One ``*_transfer.yaml``: its pairs with the task names mapped to auxrun's."""
    d, names = _read_named(name, TRANSFER_SUFFIX, "transfer reference")
    pairs = []
    for p in d["pairs"]:
        target, source = names.get(p["target"], p["target"]), names.get(p["source"], p["source"])
        pairs.append(TransferPair(target, source, float(p["change_pct"]), p.get("note", "")))
    return TransferReference(d["name"], d["paper"], d["setting"], d["measure"], pairs)


@dataclass
class SingleTaskScore:
    task: str  # auxrun's task name
    metric: str
    score: float


@dataclass
class SingleTaskReference:
    name: str
    paper: str
    setting: str
    backbone: str  # the auxrun backbone of the same size
    scores: list[SingleTaskScore]


def single_task_references() -> list[str]:
    return _named(SINGLE_TASK_SUFFIX)


def load_single_task(name: str) -> SingleTaskReference:
    """One ``*_single_task.yaml``: its scores with the task names mapped to auxrun's."""
    d, names = _read_named(name, SINGLE_TASK_SUFFIX, "single-task reference")
    scores = [
        SingleTaskScore(names.get(s["task"], s["task"]), s["metric"], float(s["score"])) for s in d["scores"]
    ]
    return SingleTaskReference(d["name"], d["paper"], d["setting"], d["backbone"], scores)

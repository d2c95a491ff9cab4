"""A paper's table laid out as printed, with the paper's number, ours and the difference per cell.

Each number of the paper table (auxrun/paper_tables/) is matched to the report's cells whose group
agrees with the number's run keys (``method.name``, ``primary``, ``backbone.name``, ...); ours is the
mean over the matching cell's seeds of the same metric on the same split. Where the paper scores a
split auxrun has no labels for (GLUE test), ours is on dev and marked with a dagger.
"""

from __future__ import annotations

import statistics

from auxrun.paper_tables import PaperTable
from auxrun.reporting.cells import Cell


def _matches(cell: Cell, match: dict) -> bool:
    for key, want in match.items():
        have = cell.runs[0].config.get(key)
        if have is None or str(have) != str(want):
            return False
    return True


def _ours(cells: list[Cell], match: dict, split: str, metric: str) -> tuple[float | None, str]:
    found = [c for c in cells if _matches(c, match)] if match else []
    if not found:
        return None, ""
    mark = "" if len(found) == 1 else f" [{len(found)} settings: first]"
    values = []
    for r in found[0].runs:
        v = r.score(split, metric)
        if v is None and split != "dev":
            v, mark = r.score("dev", metric), mark + "†"
        if v is not None:
            values.append(v)
    return (statistics.mean(values) if values else None), mark


def paper_table(table: PaperTable, cells: list[Cell]) -> tuple[list[str], list[list[str]]]:
    """Rows and columns as printed; each cell 'paper | ours (diff)' for every number it holds."""
    entries = {}
    for e in table.entries():
        entries.setdefault((e.row, e.column), []).append(e)
    header = [table.table, *(c["label"] for c in table.columns)]
    rows = []
    for row in table.rows:
        out = [row["label"]]
        for col in table.columns:
            parts = []
            for e in entries[(row["label"], col["label"])]:
                ours, mark = _ours(cells, e.match, e.split, e.metric)
                if ours is None:
                    parts.append(f"{e.text} / –")
                else:
                    parts.append(f"{e.text} / {ours:.2f}{mark} ({ours - e.value:+.2f})")
            out.append("; ".join(parts))
        rows.append(out)
    return header, rows

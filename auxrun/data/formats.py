"""Readers for the official file formats. Each turns one file into a list of Examples.

A reader has the signature ``read(path, spec, split, options) -> list[Example]`` and is registered
in READERS by the format name a task's ``sources.local.format`` uses. ``options.per_split.<split>``
overrides options for one split (CoLA: train/dev have no header, test has one). Malformed rows raise
DataError naming the file and line; a label outside spec.labels raises DataError naming the value,
the allowed set, the file and the line. A split whose name starts with ``test`` may lack labels
(GLUE/SuperGLUE test files): its Examples carry label None and are loaded, never scored.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from auxrun.data.example import Example
from auxrun.data.spec import TaskSpec
from auxrun.errors import DataError
from auxrun.objectives import get_objective

Reader = Callable[[Path, TaskSpec, str, dict[str, Any]], list[Example]]
READERS: dict[str, Reader] = {}
# The keys each reader reads from ``options`` (besides COMMON_OPTIONS); a task file's other keys are
# misspellings and are rejected when the task file is read (TaskSpec.validate).
READER_OPTIONS: dict[str, tuple[str, ...]] = {
    "glue_tsv": ("columns", "header"),
    "conll": ("token_column", "tag_column", "iob1_to_iob2"),
    "conllu": ("tag",),
    "superglue_jsonl": ("columns", "choices", "question_column", "question_text"),
    "meld_csv": ("columns", "uid_columns", "ascii_quotes"),
}
COMMON_OPTIONS = ("encoding", "per_split", "expected_counts")
COLUMN_FIELDS = ("uid", "text_a", "text_b", "label")


def _csv_fields_of_any_length() -> None:
    """Real corpora hold fields longer than csv's default limit of 131072 characters (a 100,000-word
    sentence); the tokenizer truncates them, so the reader takes them whole."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # a C long narrower than Py_ssize_t (Windows)
            limit //= 2


_csv_fields_of_any_length()

# Curly quotes (MELD's subtitles) -> ASCII, so an apostrophe tokenises the same in every task.
_ASCII_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def reader(name: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        def read(path: Path, spec: TaskSpec, split: str, options: dict[str, Any]) -> list[Example]:
            opts = {k: v for k, v in options.items() if k != "per_split"}
            opts.update((options.get("per_split") or {}).get(split) or {})
            return fn(Path(path), spec, split, opts)

        read.__doc__, read.__name__ = fn.__doc__, fn.__name__
        READERS[name] = read
        return read

    return register


def _is_test(split: str) -> bool:
    return split.startswith("test")


def _read_text(path: Path, options: dict[str, Any] | None = None) -> str:
    if not path.is_file():
        raise DataError(f"missing data file {path}")
    encoding = (options or {}).get("encoding", "utf-8-sig")  # utf-8-sig drops a byte-order mark
    data = path.read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line}: byte {e.start} (0x{data[e.start]:02x}) is not valid {encoding}; "
            "set options.encoding"
        ) from None


def _read_lines(path: Path, options: dict[str, Any] | None = None) -> list[str]:
    # splitlines copes with a missing final newline and with CRLF line ends.
    return _read_text(path, options).splitlines()


class LabelCheck:
    """Checks labels against spec.labels (classification, sequence labelling), naming file and line."""

    def __init__(self, spec: TaskSpec, path: Path):
        self.path = path
        check = get_objective(spec.objective).named_labels and spec.labels
        self.allowed = set(spec.labels) if check else None
        self.labels = spec.labels

    def __call__(self, value: Any, line: int, written: Any = None) -> None:
        """``written``: the label as the file has it, when ``value`` was rewritten (IOB1 -> IOB2)."""
        if self.allowed is None:
            return
        for v in value if isinstance(value, list) else [value]:
            if v not in self.allowed:
                shown = f"'{written}' (read as '{v}')" if written is not None and written != v else f"'{v}'"
                raise DataError(f"{self.path}: line {line}: unknown label {shown}; allowed: {self.labels}")


@reader("glue_tsv")
def read_glue_tsv(path: Path, spec: TaskSpec, split: str, options: dict[str, Any]) -> list[Example]:
    """GLUE TSV: quoting off (fields hold bare quote characters), BOM dropped (MRPC), columns by header
    name so MNLI's extra parse/annotator columns are ignored; options.header false + int columns for
    CoLA train/dev, which have no header row."""
    columns: dict[str, Any] = dict(options.get("columns", {}))
    header = bool(options.get("header", True))
    rows = list(csv.reader(_read_lines(path, options), delimiter="\t", quoting=csv.QUOTE_NONE))
    start = 1 if header else 0
    if header:
        if not rows:
            raise DataError(f"{path}: empty file, expected a header row")
        names = rows[0]
        index = {}
        for field, col in columns.items():
            if isinstance(col, int):
                index[field] = col
            elif col in names:
                index[field] = names.index(col)
            elif field == "label" and _is_test(split):
                continue  # unlabeled test split
            else:
                raise DataError(
                    f"{path}: line 1: header has no column '{col}' (for {field}); header: {names}"
                )
    else:
        index = {k: int(v) for k, v in columns.items()}
    width = max(index.values()) + 1 if index else 0
    check = LabelCheck(spec, path)
    objective = get_objective(spec.objective)
    out = []
    for i, row in enumerate(rows[start:], start=start + 1):
        if not row or row == [""]:
            continue
        if len(row) < width:
            raise DataError(
                f"{path}: line {i}: expected at least {width} tab-separated fields, found {len(row)}"
            )
        label: Any = row[index["label"]] if "label" in index else None
        if label is not None:
            label = objective.parse_label(label, f"{path}: line {i}")
            check(label, i)
        out.append(
            Example(
                uid=row[index["uid"]] if "uid" in index else f"{split}-{i}",
                text_a=row[index["text_a"]].strip() if "text_a" in index else None,
                text_b=row[index["text_b"]].strip() if "text_b" in index else None,
                label=label,
            )
        )
    return out


def _iob1_to_iob2(tags: list[str]) -> list[str]:
    """IOB1 (CoNLL-2003: I- opens a span unless it continues one of the same type) -> IOB2 (B- opens)."""
    out = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


@reader("conll")
def read_conll(path: Path, spec: TaskSpec, split: str, options: dict[str, Any]) -> list[Example]:
    """Whitespace-separated columns, one token per line, blank line between sentences, ``-DOCSTART-``
    lines skipped (CoNLL-2003). options.token_column / options.tag_column pick the columns (tag -1 =
    last); options.iob1_to_iob2 rewrites CoNLL-2003's IOB1 tags into the IOB2 the hub copy uses."""
    tok_col = int(options.get("token_column", 0))
    tag_col = int(options.get("tag_column", -1))
    to_iob2 = bool(options.get("iob1_to_iob2", False))
    check = LabelCheck(spec, path)
    out: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []

    def flush() -> None:
        if tokens:
            labels = _iob1_to_iob2(tags) if to_iob2 else list(tags)
            for tag, written, line in zip(labels, tags, lines, strict=True):
                check(tag, line, written)
            out.append(Example(uid=f"{split}-{lines[0]}", tokens=list(tokens), label=labels))
        tokens.clear()
        tags.clear()
        lines.clear()

    for i, line in enumerate(_read_lines(path, options), start=1):
        if not line.strip():
            flush()
            continue
        if line.startswith("-DOCSTART-"):
            flush()  # a document boundary also ends a sentence
            continue
        parts = line.split()
        if len(parts) < 2:
            raise DataError(
                f"{path}: line {i}: expected a token and a tag column, found {len(parts)} field(s)"
            )
        try:
            token, tag = parts[tok_col], parts[tag_col]
        except IndexError:
            wanted = ", ".join(
                f"{name} column {c + 1 if c >= 0 else len(parts) + c + 1} (options.{name}_column={c})"
                for name, c in (("token", tok_col), ("tag", tag_col))
                if not -len(parts) <= c < len(parts)
            )
            raise DataError(
                f"{path}: line {i}: no {wanted}; the line has {len(parts)} columns (numbered from 1)"
            ) from None
        tokens.append(token)
        tags.append(tag)
        lines.append(i)
    flush()
    return out


_CONLLU_TAG_COLUMNS = {"upos": 3, "xpos": 4}
_CONLLU_ID = re.compile(r"[1-9][0-9]*-[1-9][0-9]*|[0-9]+\.[1-9][0-9]*|[1-9][0-9]*")


@reader("conllu")
def read_conllu(path: Path, spec: TaskSpec, split: str, options: dict[str, Any]) -> list[Example]:
    """CoNLL-U (Universal Dependencies): ``#`` comment lines (sent_id gives the uid), 10 tab-separated
    columns; multi-word token ranges (``3-4``) and empty nodes (``8.1``) are skipped, so each
    syntactic word keeps its own tag. options.tag: upos (default) or xpos."""
    tag = options.get("tag", "upos")
    if tag not in _CONLLU_TAG_COLUMNS:
        raise DataError(f"{path}: options.tag='{tag}' is not one of {sorted(_CONLLU_TAG_COLUMNS)}")
    tag_col = _CONLLU_TAG_COLUMNS[tag]
    check = LabelCheck(spec, path)
    out: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    sent_id = ""
    start_line = 1
    for i, line in enumerate([*_read_lines(path, options), ""], start=1):
        if not line.strip():
            if tokens:
                out.append(Example(uid=sent_id or f"{split}-{start_line}", tokens=tokens, label=tags))
            tokens, tags, sent_id = [], [], ""
            continue
        if line.startswith("#"):
            if line.startswith("# sent_id"):
                sent_id = line.split("=", 1)[-1].strip()
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataError(f"{path}: line {i}: expected 10 tab-separated CoNLL-U columns, found {len(cols)}")
        if not _CONLLU_ID.fullmatch(cols[0]):
            raise DataError(
                f"{path}: line {i}: ID column (column 1) '{cols[0]}' is not N, N-M or N.M (a CoNLL-U word index)"
            )
        if "-" in cols[0] or "." in cols[0]:
            continue  # multi-word token range or empty node: not a word of the surface sentence's tagging
        if not tokens:
            start_line = i
        check(cols[tag_col], i)
        tokens.append(cols[1])
        tags.append(cols[tag_col])
    return out


def _jsonl(path: Path, options: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, line in enumerate(_read_lines(path, options), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: line {i}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}: line {i}: expected a JSON object")
        yield i, row


def _field(row: dict[str, Any], key: str, path: Path, line: int) -> Any:
    if key not in row:
        raise DataError(f"{path}: line {line}: missing field '{key}'; fields: {sorted(row)}")
    return row[key]


@reader("superglue_jsonl")
def read_superglue_jsonl(path: Path, spec: TaskSpec, split: str, options: dict[str, Any]) -> list[Example]:
    """SuperGLUE JSON lines (train/val/test.jsonl; test rows have no "label"). options.columns maps
    Example fields to keys. Multiple choice (COPA): options.choices lists the choice keys, and
    options.question_column + options.question_text frame the premise ("... What was the cause?")."""
    columns: dict[str, str] = dict(options.get("columns", {}))
    choice_keys: list[str] = list(options.get("choices", []))
    question_col = options.get("question_column")
    question_text: dict[str, str] = dict(options.get("question_text", {}))
    check = LabelCheck(spec, path)
    label_key = columns.get("label", "label")
    out = []
    for i, row in _jsonl(path, options):
        text_a = str(_field(row, columns["text_a"], path, i)) if "text_a" in columns else None
        if question_col:
            q = _field(row, question_col, path, i)
            if q not in question_text:
                raise DataError(f"{path}: line {i}: unknown question '{q}'; allowed: {sorted(question_text)}")
            text_a = f"{text_a} {question_text[q]}"
        choices = [str(_field(row, k, path, i)) for k in choice_keys] or None
        label: Any = row.get(label_key)
        if label is None and not _is_test(split):
            raise DataError(f"{path}: line {i}: missing field '{label_key}' in a labelled split")
        if label is not None:
            label = get_objective(spec.objective).parse_label(label, f"{path}: line {i}", len(choice_keys))
            check(label, i)
        out.append(
            Example(
                uid=str(row.get(columns.get("uid", "idx"), f"{split}-{i}")),
                text_a=text_a,
                text_b=str(_field(row, columns["text_b"], path, i)) if "text_b" in columns else None,
                choices=choices,
                label=label,
            )
        )
    return out


@reader("meld_csv")
def read_meld_csv(path: Path, spec: TaskSpec, split: str, options: dict[str, Any]) -> list[Example]:
    """MELD / Dyadic-MELD CSV: comma-separated with double-quoted fields, CRLF line ends, curly quotes
    in utterances (options.ascii_quotes maps them to ASCII). Columns by header name; options.uid_columns
    joins several columns into the uid (Dyadic MELD has no "Sr No.")."""
    columns: dict[str, str] = dict(options.get("columns", {}))
    uid_columns: list[str] = list(options.get("uid_columns", []))
    ascii_quotes = bool(options.get("ascii_quotes", False))
    check = LabelCheck(spec, path)
    text = _read_text(path, options)
    rows = csv.reader(text.splitlines(keepends=True))
    header = next(rows, None)
    if not header:
        raise DataError(f"{path}: empty file, expected a header row")
    wanted = list(columns.values()) + uid_columns
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataError(f"{path}: line 1: header has no column(s) {missing}; header: {header}")
    col = {name: header.index(name) for name in wanted}
    out = []
    for row in rows:
        line = rows.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {line}: expected {len(header)} comma-separated fields, found {len(row)}"
            )
        text_a = row[col[columns["text_a"]]]
        if ascii_quotes:
            text_a = text_a.translate(_ASCII_QUOTES)
        label: Any = row[col[columns["label"]]].strip() if "label" in columns else None
        if label is not None:
            check(label, line)
        if uid_columns:
            uid = "_".join(row[col[c]] for c in uid_columns)
        else:
            uid = row[col[columns["uid"]]] if "uid" in columns else f"{split}-{line}"
        out.append(Example(uid=uid, text_a=text_a.strip(), label=label))
    return out

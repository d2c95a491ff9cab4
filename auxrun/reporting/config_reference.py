"""``auxrun-docs``: the config reference page (docs/reference/config.md), generated from the schema.

Every key of the run schema (auxrun/config.py) and of each registered method's config class, with its
type, its default and the comment written beside the field in the source (the comment lines just
above a field and the one at the end of its line). Then what the YAML files under conf/ change: each
option of a config group, each pool or method setting, each experiment and its grid. The page is never
edited by hand; tests/test_docs.py checks that the committed page is what this command writes.

    auxrun-docs            # writes docs/reference/config.md in the checkout
    auxrun-docs --check    # exit status 1 when the committed page differs
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import io
import json
import re
import sys
import tokenize
from pathlib import Path
from typing import Any

from omegaconf import MISSING, OmegaConf

from auxrun import config as schema
from auxrun.paths import CONF_DIR, REPO_DIR

PAGE = REPO_DIR / "docs" / "reference" / "config.md"
# The nested sections of RunConfig, in the order a reader meets them; each is a dataclass field.
GROUPS = ("method", "backbone", "task_set", "hardware", "logger")
SECTIONS = ("train", "data", "backbone", "task_set", "hardware", "logger")
# Config folders whose files are options a user picks (`group=option`), documented by what they set.
OPTION_GROUPS = ("backbone", "task_set", "hardware", "logger", "method")


@dataclasses.dataclass
class Key:
    name: str
    type: str
    default: str
    doc: str
    defined_in: str = ""


# ---- reading the source -------------------------------------------------------------------------


def _comments(source: str) -> dict[int, str]:
    """{line number (1-based, within ``source``): comment text without '#'}."""
    out: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def field_docs(cls: type) -> dict[str, tuple[str, str]]:
    """{field: (annotation, comment)} for the fields ``cls`` itself defines, from its source: the
    comment lines directly above each field and the comments on the field's own lines."""
    source = inspect.getsource(cls)
    lines = source.splitlines()
    comments = _comments(source)
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.ClassDef)
    out: dict[str, tuple[str, str]] = {}
    for stmt in node.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        above: list[str] = []
        n = stmt.lineno - 1
        while n >= 1 and lines[n - 1].strip().startswith("#"):
            above.insert(0, comments.get(n, ""))
            n -= 1
        beside = [
            comments[i] for i in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1) if i in comments
        ]
        doc = " ".join(part for part in [*above, *beside] if part)
        out[stmt.target.id] = (ast.unparse(stmt.annotation), doc)
    return out


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "required" if value == MISSING else value
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return MISSING


def class_keys(cls: type, prefix: str, skip: tuple[str, ...] = ()) -> list[Key]:
    """The keys of dataclass ``cls`` with the comment of the class in its MRO that defines each."""
    docs: dict[str, tuple[str, str, str]] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass) and klass is not object:
            for name, (ann, doc) in field_docs(klass).items():
                docs[name] = (ann, doc, klass.__name__)
    keys = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        ann, doc, owner = docs.get(f.name, (str(f.type), "", cls.__name__))
        keys.append(Key(f"{prefix}{f.name}", ann, _render(_default(f)), doc, owner))
    return keys


# ---- reading conf/ --------------------------------------------------------------------------------


def _package(path: Path) -> str | None:
    """The ``# @package`` header of a YAML file, if any."""
    for line in path.read_text().splitlines()[:3]:
        if line.startswith("# @package"):
            return line.split()[-1]
    return None


# A sentence ends at ". " unless the word before the dot is an abbreviation ("Li et al. 2021").
_SENTENCE_END = re.compile(r"(?<!\bal)(?<!e\.g)(?<!i\.e)(?<!\bvs)\.\s")


def _first_comment(path: Path) -> str:
    """The first sentence of a YAML file's opening comment."""
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("# @package")]
    text = []
    for ln in lines:
        if not ln.startswith("#"):
            break
        text.append(ln.lstrip("#").strip())
    doc = " ".join(text)
    end = _SENTENCE_END.search(doc)
    return doc if end is None else doc[: end.start() + 1]


def _flatten(d: Any, prefix: str, stop: set[str]) -> dict[str, Any]:
    """Dotted keys of a nested dict; a key in ``stop`` (a schema key holding a dict) stays whole."""
    key = prefix.rstrip(".")
    if not isinstance(d, dict) or not d or key in stop:
        return {key: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}.", stop))
    return out


def yaml_keys(path: Path, group: str, stop: set[str] = frozenset()) -> dict[str, Any]:
    """The dotted keys a config file sets (its defaults list aside), placed by its package."""
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
    data.pop("defaults", None)
    if not data:
        return {}
    return _flatten(data, "" if _package(path) == "_global_" else f"{group}.", set(stop))


def picks(path: Path) -> dict[str, Any]:
    """What a file's defaults list picks or includes (schemas and ``_self_`` aside), as keys."""
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
    out: dict[str, Any] = {}
    for entry in data.get("defaults", []):
        if isinstance(entry, dict):
            for k, v in entry.items():
                group = k.replace("override ", "").replace("optional ", "").lstrip("/").split("@")[0]
                out[group.replace("/", ".")] = v
        elif entry != "_self_" and not str(entry).endswith("_schema"):
            out["includes"] = str(entry).lstrip("/").split("@")[0]
    return out


def _schema_defaults() -> dict[str, str]:
    out = {k.name: k.default for k in run_keys()}
    for section in SECTIONS:
        cls = _section_class(section)
        out.update({k.name: k.default for k in class_keys(cls, f"{section}.")})
    return out


def _section_class(section: str) -> type:
    """The dataclass of a RunConfig section (its annotation names a class of auxrun/config.py)."""
    f = next(f for f in dataclasses.fields(schema.RunConfig) if f.name == section)
    return getattr(schema, f.type) if isinstance(f.type, str) else f.type


def _group_defaults() -> dict[str, str]:
    """The option conf/config.yaml picks for each group."""
    data = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "config.yaml"), resolve=False)
    out = {}
    for entry in data.get("defaults", []):
        if isinstance(entry, dict):
            for k, v in entry.items():
                if k in GROUPS:
                    out[k] = _render(v)
    return out


def run_keys() -> list[Key]:
    """The top-level keys of RunConfig; a group's default is the option conf/config.yaml picks."""
    group_default = _group_defaults()
    keys = []
    for key in class_keys(schema.RunConfig, ""):
        if key.name in SECTIONS and key.name not in GROUPS:
            continue
        if key.name in GROUPS:
            key.default = group_default.get(key.name, key.default)
            key.type = "option of conf/" + key.name + "/"
            key.doc = (
                f"which file of conf/{key.name}/ composes the `{key.name}` keys below (`{key.name}=NAME`)"
            )
        keys.append(key)
    return keys


# ---- the page -----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(keys: list[Key], show_owner: bool = False) -> list[str]:
    head = ["| key | type | default | what it does |", "|---|---|---|---|"]
    rows = []
    for k in keys:
        doc = k.doc or "–"
        rows.append(f"| `{k.name}` | `{_cell(k.type)}` | `{_cell(k.default)}` | {_cell(doc)} |")
    return head + rows


def _methods() -> dict[str, type]:
    from auxrun.methods.registry import METHODS, load_all

    load_all()
    return {name: cfg_cls for name, (_, cfg_cls) in sorted(METHODS.items())}


def _value_list(keys: dict[str, Any]) -> str:
    if not keys:
        return "–"
    return "<br>".join(f"`{_cell(k)}={_cell(_render(v))}`" for k, v in keys.items())


def render() -> str:
    out = [
        "# Config reference",
        "",
        "<!-- Generated by `auxrun-docs` (auxrun/reporting/config_reference.py) from auxrun/config.py,",
        "     the method config classes and conf/. Do not edit: change the source comment and rerun. -->",
        "",
        "Every key a run reads, with its type, its default in the schema and the comment beside it in",
        "the source. Set any of them on the command line (`auxrun train.epochs=5 seed=1`); a misspelt key",
        "or a value of the wrong type fails when the config is composed. An option file, a pool or method",
        "setting, or an experiment may change a default: the tables after the keys list what each sets.",
        "`auxrun --cfg job ...` prints the config a command would run with.",
        "",
        "## Top level",
        "",
        *_table(run_keys()),
        "",
    ]
    for section in SECTIONS:
        cls = _section_class(section)
        note = (
            f"The schema of the `{section}` group; its options (`conf/{section}/`) set their own values,"
            " listed under [Options](#options)."
            if section in GROUPS
            else f"`{cls.__name__}` in auxrun/config.py."
        )
        out += [f"## `{section}`", "", note, "", *_table(class_keys(cls, f"{section}.")), ""]
    out += [
        "## `method`",
        "",
        "Each method's keys are its config class (in the method's own module under auxrun/methods/);",
        "`conf/method/<name>.yaml` gives the values with the paper's reasons. Keys shared by several",
        "methods are described where they are defined (the class named in brackets).",
        "",
    ]
    for name, cls in _methods().items():
        keys = class_keys(cls, "method.", skip=("name",))
        out += [f"### `method={name}`", "", f"`{cls.__name__}` ({inspect.getmodule(cls).__name__}).", ""]
        if keys:
            for k in keys:
                if k.defined_in != cls.__name__:
                    k.doc = f"{k.doc} [{k.defined_in}]".strip()
            out += [*_table(keys), ""]
        else:
            out += ["No keys of its own.", ""]
    out += _options_section()
    return "\n".join(out).rstrip() + "\n"


def _options_section() -> list[str]:
    defaults = _schema_defaults()
    stop = set(defaults) - set(GROUPS) - set(SECTIONS)
    methods = _methods()
    out = [
        "## Options",
        "",
        "What each option file sets where it differs from the schema default above (keys outside the",
        "group included). The first sentence of the file's own comment says what it is.",
        "",
    ]
    for group in OPTION_GROUPS:
        out += [f"### `{group}`", "", "| option | what it is | sets |", "|---|---|---|"]
        for path in sorted((CONF_DIR / group).glob("*.yaml")):
            keys = yaml_keys(path, group, stop)
            if group == "method" and path.stem in methods:
                own = {k.name: k.default for k in class_keys(methods[path.stem], "method.")}
                keys = {k: v for k, v in keys.items() if own.get(k, defaults.get(k)) != _render(v)}
            else:
                keys = {k: v for k, v in keys.items() if defaults.get(k) != _render(v)}
            out.append(f"| `{path.stem}` | {_cell(_first_comment(path))} | {_value_list(keys)} |")
        out.append("")
    out += [
        "## Settings",
        "",
        "Applied by conf/config.yaml's defaults list: `setting/pool/<task_set>.yaml` for every method on",
        "that pool, then `setting/<task_set>_<method>.yaml` for one method on it; `setting/parts/` holds",
        "blocks other files include. The command line still wins.",
        "",
        "| file | what it is | sets |",
        "|---|---|---|",
    ]
    for path in sorted((CONF_DIR / "setting").rglob("*.yaml")):
        rel = path.relative_to(CONF_DIR).as_posix()
        out.append(
            f"| `{rel}` | {_cell(_first_comment(path))} | {_value_list({**picks(path), **yaml_keys(path, 'setting', stop)})} |"
        )
    out += [
        "",
        "## Experiments",
        "",
        "`auxrun -m experiment=<name>` runs the grid (`hydra.sweeper.params`); anything on the command",
        "line wins.",
        "",
        "| experiment | what it is | sets | grid |",
        "|---|---|---|---|",
    ]
    for path in sorted((CONF_DIR / "experiment").glob("*.yaml")):
        keys = yaml_keys(path, "experiment", stop)
        grid = {
            k.removeprefix("hydra.sweeper.params."): v for k, v in keys.items() if ".sweeper.params." in k
        }
        sets = {**picks(path), **{k: v for k, v in keys.items() if not k.startswith("hydra.")}}
        out.append(
            f"| `{path.stem}` | {_cell(_first_comment(path))} | {_value_list(sets)} | {_value_list(grid)} |"
        )
    return out


def undocumented() -> list[str]:
    """Schema keys (method keys aside) whose source has no comment: the page's '–' rows."""
    keys = run_keys() + [k for sec in SECTIONS for k in class_keys(_section_class(sec), f"{sec}.")]
    return [k.name for k in keys if not k.doc and not k.name.endswith(".name")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="auxrun-docs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PAGE, help=f"the page to write (default {PAGE})")
    parser.add_argument("--check", action="store_true", help="exit 1 when the page differs, write nothing")
    args = parser.parse_args(argv)
    text = render()
    bare = undocumented()
    if bare:
        print(
            f"auxrun-docs: {len(bare)} keys have no comment in the source: {', '.join(bare)}", file=sys.stderr
        )
    if args.check:
        same = args.out.is_file() and args.out.read_text() == text
        if not same:
            print(f"auxrun-docs: {args.out} is stale; run auxrun-docs", file=sys.stderr)
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

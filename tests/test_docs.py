"""The documentation cannot go stale silently: the config reference is what `auxrun-docs` writes, and
every page the README or mkdocs.yml names exists (CI's `mkdocs build --strict` checks the rest)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from auxrun.reporting import config_reference

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def test_config_reference_is_what_auxrun_docs_writes():
    committed = (DOCS / "reference" / "config.md").read_text()
    assert committed == config_reference.render(), "docs/reference/config.md is stale: run `auxrun-docs`"


def test_config_reference_takes_each_description_from_the_source_comment():
    docs = config_reference.field_docs(config_reference.schema.TrainConfig)
    assert docs["lr"] == ("float | None", "None: the backbone's lr")
    assert docs["schedule"][1].startswith("size_proportional (MT-DNN")  # the lines above, then beside
    assert docs["schedule"][1].endswith("else size_proportional")
    page = config_reference.render()
    assert "| `train.lr` | `float \\| None` | `null` | None: the backbone's lr |" in page
    assert "### `method=gradts_trial`" in page and "`method.trial_rule`" in page


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [p for v in node.values() for p in _nav_pages(v)]
    return [p for item in node for p in _nav_pages(item)]


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_exists():
    nav = _nav_pages(yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(set(nav) - pages) == []
    # results pages are written by commands into docs/results/ and listed by its index
    assert sorted(p for p in pages - set(nav) if not p.startswith("results/")) == []


def test_readme_links_to_docs_pages_that_exist():
    links = re.findall(r"\]\((docs/[^)#]+)", (REPO / "README.md").read_text())
    assert links
    assert [link for link in links if not (REPO / link).is_file()] == []

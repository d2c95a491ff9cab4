"""The GLUE-6 results page end to end, on a two-task GLUE-6 built from fixture files
(tests/fixtures/glue_rte_stsb: made-up RTE and STS-B rows in the official GLUE layout): the
transfer_truth sweep narrowed to RTE and STS-B on the tiny backbone, one selector sweep below it,
then `auxrun-report --out <page>.md` as docs/results/glue6.md is written."""

import os
import re
import subprocess
import sys

import pytest

from auxrun.reporting.report import main
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "glue_rte_stsb"
SMALL = ["task_set=glue6", f"data.root={FIXTURE}", "backbone=tiny", "train.epochs=1", "quiet=true"]


def auxrun_sweep(args: list[str]) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "auxrun.cli", "-m", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.slow
def test_glue_page_from_truth_sweep_selector_and_report(tmp_path):
    sweep = tmp_path / "glue6_tiny"
    auxrun_sweep(
        [
            "experiment=transfer_truth",
            *SMALL,
            "task_set.transfer_tasks=[rte,stsb]",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert len(list(sweep.glob("*/results.json"))) == 12  # rte and stsb: alone and with the other, seeds 1-3
    auxrun_sweep(
        [
            "experiment=transfer_selectors",
            *SMALL,
            "task_set.tasks=[rte,stsb]",
            "task_set.primaries=[rte,stsb]",
            "method=textemb",
            "seed=1",
            f"hydra.sweep.dir={sweep / 'selectors'}",
        ]
    )
    page = tmp_path / "docs" / "results" / "glue6.md"
    main([str(sweep), "--out", str(page), "--resamples", "50"])
    md = page.read_text()
    # provenance: both sweep commands, with their run counts
    header = md.split("The runs came from:")[1].split("Runs' commits")[0]
    truth_row = next(line for line in header.splitlines() if "experiment=transfer_truth" in line)
    assert truth_row.startswith("| `.` | 12 |") and "'task_set.transfer_tasks=[rte,stsb]'" in truth_row
    selector_row = next(line for line in header.splitlines() if "experiment=transfer_selectors" in line)
    assert selector_row.startswith("| `selectors` | 2 selection only |") and "method=textemb" in selector_row
    # the truth table, its heatmap beside the page, and TaskWeb's signs for the two pairs
    assert "| glue6 | tiny | rte | stsb |" in md and "| glue6 | tiny | stsb | rte |" in md
    assert "![measured transfer, glue6 tiny](glue6/figures/transfer_glue6_tiny.png)" in md
    assert "| rte | stsb | +11.9% (helps) |" in md and "| stsb | rte | -19.8% (hurts) |" in md
    # the selector on the leaderboard (one candidate: no rank correlation, a precision all the same)
    board = md.split("## Selectors against the measured transfer")[1].split("\n## ")[0]
    assert re.search(r"^\| textemb \| 2 \(2 primaries, seed 1\) \| ", board, re.M)
    assert (
        "No row (not run on this pool, or not finished): autosem, autosem_p1, avil, diw, fastmtl, gradts_fg"
        in board
    )
    # the selection trained: the truth's run of the pool textemb selected, at the same seed
    import json

    sel = json.loads((sweep / "selectors" / "textemb_rte_s1" / "selection.json").read_text())
    folder = "rte+stsb_s1" if sel["selected_tasks"] == ["stsb"] else "rte_s1"
    score = json.loads((sweep / folder / "results.json").read_text())["best"]["dev"]["accuracy"]
    trained = md.split("## Selections trained")[1].split("\n## ")[0]
    row = next(line for line in trained.splitlines() if line.startswith("| rte | textemb |"))
    assert f"| {score:.2f} (1) | " in row and row.endswith("| truth run |")
    # the frontier, and every link of the page resolves beside it
    assert "## Score against cost" in md and "![cost frontier](glue6/figures/cost_frontier.png)" in md
    links = re.findall(r"\]\(([^)]+)\)", md)
    assert links and [link for link in links if not (page.parent / link).is_file()] == []
    assert (page.parent / "glue6" / "runs.csv").is_file() and (page.parent / "glue6" / "cells.csv").is_file()
    # --no-run-figures: a page kept in git links no per-run figure and copies none
    fig = sweep / "selectors" / "textemb_rte_s1" / "figures" / "scores.png"
    fig.parent.mkdir()
    fig.write_bytes(b"\x89PNG\r\n")
    full = tmp_path / "full" / "glue6.md"
    main([str(sweep), "--out", str(full), "--resamples", "50"])
    assert "## Each run's figures" in full.read_text()
    assert (full.parent / "glue6" / "figures" / "runs" / "selectors__textemb_rte_s1" / "scores.png").is_file()
    again = tmp_path / "lean" / "glue6.md"
    main([str(sweep), "--out", str(again), "--resamples", "50", "--no-run-figures"])
    assert "## Each run's figures" not in again.read_text()
    assert not (again.parent / "glue6" / "figures" / "runs").exists()

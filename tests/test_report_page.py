"""The report as a documentation page: `--out PAGE.md` with its folder beside it, every sweep command
behind the runs in its header, and the keys that only choose sweep points kept out of the cells."""

import json
import re

import yaml

from auxrun.reporting.report import main
from auxrun.reporting.runs import Run, varying_keys
from tests.test_report import make_run

TRUTH_PARAMS = {
    "task_set.tasks": "${auxrun.transfer_grid:${task_set.tasks},${task_set.primaries},${task_set.transfer_tasks}}",
    "seed": "1,2",
}
SELECTOR_PARAMS = {
    "method": "textemb,logme",
    "primary": "${auxrun.primaries:${task_set.primaries},${task_set.tasks}}",
    "seed": "1,2,3",
}


def sweep_file(folder, overrides):
    """The sweep folder's multirun.yaml as Hydra writes it (the command line's overrides)."""
    folder.mkdir(parents=True, exist_ok=True)
    hc = {"hydra": {"mode": "MULTIRUN", "overrides": {"hydra": ["hydra.mode=MULTIRUN"], "task": overrides}}}
    (folder / "multirun.yaml").write_text(yaml.safe_dump(hc))


def job_files(folder, overrides, params):
    """A sweep job's .hydra/: its own overrides and the sweeper params it was expanded from."""
    (folder / ".hydra").mkdir(parents=True, exist_ok=True)
    hc = {
        "hydra": {
            "mode": "MULTIRUN",
            "overrides": {"hydra": ["hydra.mode=MULTIRUN"], "task": overrides},
            "sweeper": {"params": params},
        }
    }
    (folder / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(hc))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))


def selection_only(folder, method, primary, seed, wall_s):
    """A stage=select run: config.yaml and selection.json (with its ledger), no results.json."""
    make_run(folder, method, seed, 0.0, primary=primary, scores={"r": 0.5})
    (folder / "results.json").unlink()
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    (folder / "config.yaml").write_text(yaml.safe_dump({**cfg, "stage": "select"}))
    sel = json.loads((folder / "selection.json").read_text())
    sel["cost"] = {"select": {"wall_s": wall_s, "examples_backward": 0}}
    (folder / "selection.json").write_text(json.dumps(sel))


def test_out_md_writes_the_page_and_its_folder_beside_it(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs / "0", "single_task", 1, 60.0, cost=(0, 500))
    make_run(runs / "1", "no_sel", 1, 80.0, cost=(0, 4000))
    make_run(runs / "2", "gradts_trial", 1, 75.0, selected=["r"], scores={"r": 0.5, "u": 0.1, "n": 0.0})
    (runs / "2" / "figures").mkdir()
    (runs / "2" / "figures" / "task_correlation.png").write_bytes(b"\x89PNG fake")
    page = tmp_path / "docs" / "results" / "toy.md"
    main([str(runs), "--out", str(page)])
    folder = tmp_path / "docs" / "results" / "toy"
    assert page.is_file() and not (folder / "report.md").exists()
    for name in (
        "runs.csv",
        "cells.csv",
        "table.md",
        "figures/cost_frontier.png",
        "figures/runs/2/task_correlation.png",
    ):
        assert (folder / name).is_file(), name
    md = page.read_text()
    links = re.findall(r"\]\(([^)]+)\)", md)
    assert "toy/figures/cost_frontier.png" in links and "toy/figures/runs/2/task_correlation.png" in links
    assert [link for link in links if not (page.parent / link).is_file()] == []  # relative to the page
    # --out DIR keeps its layout: DIR/report.md linking figures/ inside DIR
    main([str(runs), "--out", str(tmp_path / "rep")])
    assert "](figures/cost_frontier.png)" in (tmp_path / "rep" / "report.md").read_text()


def test_the_header_lists_every_sweep_with_its_runs_and_wall_time(tmp_path):
    """Two sweeps into one transfer_truth folder (the later one's multirun.yaml stays), a selectors
    sweep below it and an earlier selectors sweep whose multirun.yaml it replaced, and a lone run."""
    root = tmp_path / "truth"
    sweep_file(root, ["experiment=transfer_truth", "task_set.primaries=[a]", "quiet=true"])
    for primary in ("a", "b"):
        for pool in ((primary,), (primary, "r")):
            for seed in (1, 2):
                job = root / f"{'+'.join(pool)}_s{seed}"
                make_run(job, "no_sel", seed, 70.0, primary=primary, tasks=pool)
                overrides = [
                    f"task_set.tasks=[{','.join(pool)}]",
                    f"seed={seed}",
                    "experiment=transfer_truth",
                ]
                job_files(job, [*overrides, f"task_set.primaries=[{primary}]", "quiet=True"], TRUTH_PARAMS)
    selectors = root / "selectors"
    sweep_file(selectors, ["experiment=transfer_selectors", "method=x,y", "seed=1"])
    for method in ("x", "y", "z", "w"):  # z and w: an earlier `method=w,z seed=1` into the same folder
        job = selectors / f"{method}_a_s1"
        selection_only(job, method, "a", 1, wall_s=30.0)
        job_files(
            job, [f"method={method}", "primary=a", "seed=1", "experiment=transfer_selectors"], SELECTOR_PARAMS
        )
    make_run(root / "lone", "single_task", 1, 60.0, primary="a", tasks=("a",))
    res = json.loads((root / "lone" / "results.json").read_text())
    res["provenance"] = {
        "command": "auxrun method=single_task primary=a",
        "torch": "2.9",
        "transformers": "5.1",
    }
    (root / "lone" / "results.json").write_text(json.dumps(res))

    main([str(root), "--out", str(tmp_path / "page.md"), "--resamples", "20"])
    md = (tmp_path / "page.md").read_text()
    header = md.split("The runs came from:")[1].split("Runs' commits")[0]
    rows = [line for line in header.splitlines() if line.startswith("| `")]
    rebuilt = " (rebuilt from the runs' overrides: a later sweep into this folder replaced its multirun.yaml)"
    assert rows == [
        "| `.` | 4 | 12 s | `auxrun -m experiment=transfer_truth 'task_set.primaries=[a]' quiet=true` |",
        "| `.` | 4 | 12 s | `auxrun -m experiment=transfer_truth 'task_set.primaries=[b]' quiet=True`"
        + rebuilt
        + " |",
        "| `selectors` | 2 selection only | 1.0 min | `auxrun -m experiment=transfer_selectors method=x,y seed=1` |",
        "| `selectors` | 2 selection only | 1.0 min | `auxrun -m method=w,z seed=1 experiment=transfer_selectors`"
        + rebuilt
        + " |",
        "| `lone` | 1 | 3 s | `auxrun method=single_task primary=a` |",
    ]
    assert "9 finished runs, 4 selection only (stage=select), 0 unfinished" in md
    assert "; packages: torch 2.9, transformers 5.1; summed wall time" in md


def test_keys_that_only_choose_sweep_points_split_no_cell(tmp_path, capsys):
    """Two sweeps that split the primaries between them (task_set.primaries) and narrowed the pools
    differently (task_set.transfer_tasks): one cell per primary and pool, no column for either key."""
    for seed, keys in (
        (1, {"primaries": ["a", "b"], "transfer_tasks": ["a", "r"]}),
        (2, {"primaries": ["a"]}),
    ):
        make_run(tmp_path / f"a{seed}", "no_sel", seed, 70.0 + seed, task_set_keys=keys)
    make_run(tmp_path / "b1", "no_sel", 1, 60.0, primary="b", task_set_keys={"primaries": ["b"]})
    main([str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| task_set | backbone | primary | metric | no_sel |"
    assert out[2] == "| toy | tiny | a | accuracy | 71.50 ± 0.71 (n=2) |"
    # a run whose config names no primary takes it from task_set.primaries: there the key counts
    runs = [
        Run(tmp_path, {"method.name": "no_sel", "primary": None, "task_set.primaries": ("a",)}),
        Run(tmp_path, {"method.name": "no_sel", "primary": None, "task_set.primaries": ("b",)}),
    ]
    assert varying_keys(runs) == ["task_set.primaries"]
    runs = [Run(tmp_path, {**r.config, "primary": "a"}) for r in runs]
    assert varying_keys(runs) == []

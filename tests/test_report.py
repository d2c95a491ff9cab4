"""auxrun-report on hand-made run folders: cells by full config, missing points, the bootstrap
against baselines by hand, the planted score, the paper layout and the report folder."""

import csv
import json
from math import comb

import numpy as np
import pytest
import yaml

from auxrun.eval.bootstrap import resample_indices
from auxrun.reporting.report import main

GOLD = [i % 2 for i in range(40)]
PLANTED = {"a": {"related": ["r"], "unrelated": ["u"], "noise": ["n"]}}


def make_run(
    folder,
    method,
    seed,
    acc,
    lr=1e-3,
    preds=None,
    selected=None,
    scores=None,
    primary="a",
    backbone="tiny",
    task_set="toy",
    extra_cfg=None,
    cost=(1000, 2000),
    tasks=("a", "r", "u", "n"),
    task_set_keys=None,
):
    """A run folder as auxrun writes it: config.yaml, results.json, selection.json, dev predictions."""
    folder.mkdir(parents=True)
    cfg = {
        "method": {"name": method, **(extra_cfg or {})},
        "backbone": {"name": backbone},
        "task_set": {"name": task_set, "tasks": list(tasks), "planted": PLANTED, **(task_set_keys or {})},
        "train": {"lr": lr, "epochs": 3},
        "primary": primary,
        "seed": seed,
        "cache_dir": f"/somewhere/{seed}",  # never splits a cell
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    results = {
        "method": method,
        "primary": primary,
        "seed": seed,
        "main_metric": "accuracy",
        "best": {"dev": {"accuracy": acc}},
        "cost": {
            "select": {"wall_s": 1.0, "examples_backward": cost[0]},
            "train": {"wall_s": 2.0, "examples_backward": cost[1]},
        },
    }
    (folder / "results.json").write_text(json.dumps(results))
    sel = {
        "method": method,
        "primary": primary,
        "candidates": [t for t in tasks if t != primary],
        "selected_tasks": selected if selected is not None else [],
        "scores": scores or {},
    }
    (folder / "selection.json").write_text(json.dumps(sel))
    if preds is not None:
        (folder / "predictions").mkdir()
        record = {
            "task": primary,
            "split": "dev",
            "uids": list(range(len(GOLD))),
            "gold": GOLD,
            "predictions": preds,
        }
        (folder / "predictions" / f"{primary}_dev.json").write_text(json.dumps(record))


def flip(k, offset=0):
    """GOLD with k predictions wrong (from ``offset``)."""
    return [1 - g if offset <= i < offset + k else g for i, g in enumerate(GOLD)]


def read_csv(path):
    return list(csv.DictReader(path.open()))


def test_runs_that_differ_only_in_lr_land_in_different_cells(tmp_path, capsys):
    make_run(tmp_path / "0", "no_sel", 1, 80.0, lr=1e-3)
    make_run(tmp_path / "1", "no_sel", 2, 90.0, lr=1e-3)
    make_run(tmp_path / "2", "no_sel", 1, 60.0, lr=5e-4)
    main([str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| task_set | backbone | primary | train.lr | metric | no_sel |"
    assert out[2:4] == [
        "| toy | tiny | a | 0.0005 | accuracy | 60.00 (n=1) |",
        "| toy | tiny | a | 0.001 | accuracy | 85.00 ± 7.07 (n=2) |",
    ]


def test_method_keys_split_only_their_own_method(tmp_path):
    make_run(tmp_path / "0", "gradts_thres", 1, 70.0, extra_cfg={"threshold": 0.47})
    make_run(tmp_path / "1", "gradts_thres", 1, 72.0, extra_cfg={"threshold": 0.3})
    make_run(tmp_path / "2", "single_task", 1, 60.0)
    main([str(tmp_path), "--out", str(tmp_path / "rep")])
    cells = read_csv(tmp_path / "rep" / "cells.csv")
    assert sorted((c["method.name"], c["method.threshold"], c["mean"]) for c in cells) == [
        ("gradts_thres", "0.3", "72.0000"),
        ("gradts_thres", "0.47", "70.0000"),
        ("single_task", "", "60.0000"),
    ]


def test_missing_and_failed_points_are_listed(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    make_run(sweep / "0_toy_single_task_a", "single_task", 1, 60.0)
    failed = sweep / "1_toy_no_sel_a"
    (failed / ".hydra").mkdir(parents=True)
    (failed / "config.yaml").write_text(
        yaml.safe_dump({"method": {"name": "no_sel"}, "primary": "a", "seed": 1})
    )
    (failed / "cli.log").write_text(
        "[INFO] - epoch 1\n[ERROR] - CUDA out of memory. Tried to allocate 2 GiB\n"
    )
    hydra = {
        "hydra": {
            "sweeper": {"params": {"seed": "1,2"}},
            "overrides": {"task": ["method=single_task,no_sel"]},
        }
    }
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(hydra))
    for folder, ov in [
        ("0_toy_single_task_a", ["method=single_task", "seed=1"]),
        ("1_toy_no_sel_a", ["method=no_sel", "seed=1"]),
    ]:
        (sweep / folder / ".hydra").mkdir(exist_ok=True)
        (sweep / folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(ov))
    main([str(sweep), "--out", str(tmp_path / "rep")])
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| 1_toy_no_sel_a | no_sel | a | 1 | [ERROR] - CUDA out of memory. Tried to allocate 2 GiB |" in md
    never = [line for line in md.splitlines() if "(no folder)" in line]
    assert sorted(line.split(" | ")[1:4] for line in never) == [["no_sel", "", "2"], ["single_task", "", "2"]]
    runs = read_csv(tmp_path / "rep" / "runs.csv")
    assert [(r["method"], r["status"]) for r in runs] == [
        ("single_task", "finished"),
        ("no_sel", "unfinished"),
    ]


def test_sweep_points_are_matched_to_folders_by_value(tmp_path):
    """`train.lr=3e-4,1e-3` on the command line; Hydra writes `train.lr=0.0003` in the job's folder.
    Every finished point is found, whatever the spelling; the one point without a folder is listed."""
    sweep = tmp_path / "sweep"
    (sweep).mkdir()
    hydra = {
        "hydra": {
            "sweeper": {"params": {"seed": "range(1,3)"}},
            "overrides": {"task": ["train.lr=3e-4,1e-3"]},
        }
    }
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(hydra))
    points = [(0.0003, 1), (0.0003, 2), (0.001, 1)]  # (1e-3, seed 2) never started
    for i, (lr, seed) in enumerate(points):
        make_run(sweep / str(i), "no_sel", seed, 80.0, lr=lr)
        (sweep / str(i) / ".hydra").mkdir()
        (sweep / str(i) / ".hydra" / "overrides.yaml").write_text(
            yaml.safe_dump([f"train.lr={lr}", f"seed={seed}"])
        )
    main([str(sweep), "--out", str(tmp_path / "rep")])
    md = (tmp_path / "rep" / "report.md").read_text()
    unfinished = md.split("## Unfinished sweep points")[1].splitlines()
    assert [line for line in unfinished if "(no folder)" in line] == [
        "| . (no folder) |  |  | 2 | never started, or lost before Hydra made its folder (train.lr=0.001) |"
    ]


def test_bootstrap_against_baselines_equals_a_hand_computation(tmp_path):
    ours = {1: flip(4), 2: flip(6, 10), 3: flip(2, 20)}
    base = {1: flip(10), 2: flip(8, 5), 3: flip(12, 25)}
    for s in (1, 2, 3):
        acc = lambda p: 100 * np.mean(np.array(p) == np.array(GOLD))  # noqa: E731
        make_run(tmp_path / f"m{s}", "gradts_trial", s, acc(ours[s]), preds=ours[s])
        make_run(tmp_path / f"b{s}", "single_task", s, acc(base[s]), preds=base[s])
    main([str(tmp_path), "--out", str(tmp_path / "rep"), "--resamples", "300", "--bootstrap-seed", "7"])
    row = next(c for c in read_csv(tmp_path / "rep" / "cells.csv") if c["method.name"] == "gradts_trial")
    # by hand: per-example correctness differences, averaged over seeds, on the same resamples
    g = np.array(GOLD)
    d = np.mean(
        [(np.array(ours[s]) == g).astype(float) - (np.array(base[s]) == g) for s in (1, 2, 3)], axis=0
    )
    diffs = 100 * d[resample_indices(len(GOLD), 300, 7)].mean(axis=1)
    assert float(row["single_task_diff"]) == pytest.approx(100 * d.mean(), abs=1e-4)
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    assert (float(row["single_task_ci_low"]), float(row["single_task_ci_high"])) == pytest.approx(
        (lo, hi), abs=1e-4
    )
    p = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    assert float(row["single_task_p"]) == pytest.approx(p, abs=1e-4)
    assert lo > 0  # the examples alone say better, but the seeds disagree by more than the gain:
    # per-seed differences 15, 5, 25: t-interval 15 +- 4.303 * 10 / sqrt(3) holds 0
    assert row["single_task_verdict"] == "inside the noise"
    assert row["no_sel_diff"] == ""  # no no_sel runs


def test_a_gain_inside_the_seed_noise_is_marked(tmp_path):
    # identical predictions within each seed pair but scores that disagree across seeds
    for s, (a, b) in enumerate([(70.0, 60.0), (60.0, 70.0), (66.0, 65.0)], start=1):
        make_run(tmp_path / f"m{s}", "gradts_trial", s, a)
        make_run(tmp_path / f"b{s}", "single_task", s, b)
    main([str(tmp_path), "--out", str(tmp_path / "rep")])
    row = next(c for c in read_csv(tmp_path / "rep" / "cells.csv") if c["method.name"] == "gradts_trial")
    assert float(row["single_task_diff"]) == pytest.approx(1 / 3, abs=1e-4)
    assert row["single_task_verdict"] == "inside the noise" and row["single_task_ci_low"] == ""


def test_planted_score_and_chance(tmp_path):
    make_run(tmp_path / "0", "gradts_thres", 1, 70.0, selected=["r"], scores={"r": 0.9, "u": 0.1, "n": 0.2})
    make_run(
        tmp_path / "1", "gradts_thres", 2, 70.0, selected=["u", "n"], scores={"r": 0.1, "u": 0.5, "n": 0.4}
    )
    make_run(tmp_path / "2", "gradts_thres", 3, 70.0, selected=[], scores={"r": 0.3, "u": 0.5, "n": 0.3})
    main([str(tmp_path), "--out", str(tmp_path / "rep")])
    md = (tmp_path / "rep" / "report.md").read_text()
    chance = (1 / 3 + (1 - comb(2, 2) / comb(3, 2)) + 0) / 3  # k = 1, 2, 0 of K = 3 with one related
    # related above noise in runs 0 and (a tie, half) 2: 1.5 of 3; p = P(X >= 1) for Binomial(3, 0.5)
    assert f"| gradts_thres | all | 3 | 1/3 | {chance:.2f} | 1/3 | 0.50 (3) | 0.50 | 0.88 |" in md


def test_paper_layout_puts_ours_beside_the_paper(tmp_path, capsys):
    make_run(
        tmp_path / "0", "gradts_thres", 1, 54.0, primary="cola", backbone="bert_base_cased", task_set="glue8"
    )
    make_run(
        tmp_path / "1", "gradts_thres", 2, 55.0, primary="cola", backbone="bert_base_cased", task_set="glue8"
    )
    for f in ("0", "1"):  # CoLA's main metric is mcc
        res = json.loads((tmp_path / f / "results.json").read_text())
        res["main_metric"], res["best"]["dev"] = "mcc", {"mcc": res["best"]["dev"]["accuracy"]}
        (tmp_path / f / "results.json").write_text(json.dumps(res))
    main([str(tmp_path), "--experiment", "gradts_table9"])
    out = capsys.readouterr().out
    assert "| CoLA | 54.69 / 54.50 (-0.19) | 55.24 / – | 58.38 / – |" in out
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--experiment", "gradts_table99"])


def test_report_folder_holds_tables_csvs_and_figures(tmp_path):
    make_run(tmp_path / "0", "single_task", 1, 60.0, cost=(0, 500))
    make_run(tmp_path / "1", "no_sel", 1, 80.0, cost=(0, 4000))
    make_run(
        tmp_path / "2",
        "gradts_trial",
        1,
        75.0,
        selected=["r"],
        scores={"r": 0.5, "u": 0.1, "n": 0.0},
        cost=(3000, 800),
    )
    (tmp_path / "2" / "figures").mkdir()
    (tmp_path / "2" / "figures" / "task_correlation.png").write_bytes(b"\x89PNG fake")
    out = tmp_path / "rep"
    main([str(tmp_path), "--out", str(out), "--format", "latex"])
    md = (out / "report.md").read_text()
    for section in (
        "## Scores",
        "## Against the baselines",
        "## Planted score",
        "## Score against cost",
        "## Selections",
    ):
        assert section in md
    assert (out / "figures" / "cost_frontier.png").stat().st_size > 1000
    assert (out / "figures" / "selection_gradts_trial_toy_tiny.png").is_file()
    assert (out / "figures" / "runs" / "2" / "task_correlation.png").is_file()
    assert "\\begin{tabular}" in (out / "table.tex").read_text()
    runs = read_csv(out / "runs.csv")
    assert list(runs[0])[:6] == ["run", "status", "primary", "method", "seed", "main_metric"]
    assert {r["method"]: r["cost_examples_backward"] for r in runs} == {
        "single_task": "500",
        "no_sel": "4000",
        "gradts_trial": "3800",
    }
    # the frontier: single_task (cheapest), gradts_trial (cheaper than no_sel, worse), no_sel (best)
    frontier = [line for line in md.splitlines() if line.endswith("| yes |")]
    assert len(frontier) == 3


def test_csv_and_empty_folder(tmp_path, capsys):
    make_run(tmp_path / "0", "no_sel", 1, 80.0)
    main([str(tmp_path), "--format", "csv"])
    assert capsys.readouterr().out.splitlines()[1] == "toy,tiny,a,accuracy,80.00 (n=1)"
    with pytest.raises(SystemExit):
        main([str(tmp_path / "0" / "nothing")])


def test_runs_reached_through_links_are_read_once(tmp_path, capsys):
    """A report over sweeps gathered by symbolic links; a link back up the tree is not a loop."""
    make_run(tmp_path / "sweeps" / "a" / "0", "no_sel", 1, 80.0)
    make_run(tmp_path / "sweeps" / "b" / "0", "no_sel", 2, 90.0)
    both = tmp_path / "both"
    both.mkdir()
    (both / "a").symlink_to(tmp_path / "sweeps" / "a")
    (both / "b").symlink_to(tmp_path / "sweeps" / "b")
    (both / "loop").symlink_to(both)
    main([str(both), "--format", "csv"])
    assert capsys.readouterr().out.splitlines()[1] == "toy,tiny,a,accuracy,85.00 ± 7.07 (n=2)"


def test_score_against_n_is_drawn_from_runs_with_n_samples(tmp_path):
    for i, (n, acc) in enumerate([(500, 70.0), (1000, 72.0), (2000, 75.0)]):
        for method in ("fastmtl", "random_sampling"):
            make_run(
                tmp_path / f"{method}{i}",
                method,
                1,
                acc - (method == "random_sampling"),
                extra_cfg={"n_samples": n},
            )
    make_run(tmp_path / "st", "single_task", 1, 65.0)
    main([str(tmp_path), "--out", str(tmp_path / "rep")])
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "![score vs N](figures/score_vs_n.png)" in md
    assert (tmp_path / "rep" / "figures" / "score_vs_n.png").stat().st_size > 1000
    cells = read_csv(tmp_path / "rep" / "cells.csv")
    assert sorted(
        (c["method.name"], c["method.n_samples"]) for c in cells if c["method.name"] == "fastmtl"
    ) == [
        ("fastmtl", "1000"),
        ("fastmtl", "2000"),
        ("fastmtl", "500"),
    ]


def test_seeds_note_groups_cells_by_seed_set():
    from auxrun.reporting.cells import Cell
    from auxrun.reporting.report import seeds_note

    def cell(method, primary, seeds, **extra):
        group = {"method.name": method, "primary": primary, **extra}
        return Cell(group=group, runs=[], split="dev", metric="f1", values=[1.0] * len(seeds), seeds=seeds)

    cells = [
        cell("no_sel", "rte", [1, 2, 3], tasks="a"),
        cell("no_sel", "rte", [1, 2, 3], tasks="b"),
        cell("no_sel", "mrpc", [1, 2, 3]),
        cell("avil", "stsb", [1]),
        cell("diw", "stsb", [1]),
        cell("fastmtl", "rte", [1, 2, 3]),
    ]
    assert seeds_note(cells).splitlines() == [
        "Seeds differ between cells:",
        "- seeds 1, 2, 3: no_sel on rte (2 cells), mrpc; fastmtl on rte",
        "- seeds 1: avil on stsb; diw on stsb",
    ]
    assert seeds_note(cells[:3]) == "Seeds present in every cell: 1, 2, 3."


def test_a_rerun_against_an_earlier_reports_runs_csv(tmp_path, capsys):
    """--against pairs runs by folder, primary, method and seed and compares at runs.csv's 4 decimals."""
    first, again = tmp_path / "first", tmp_path / "again"
    for root, (a, b), ranked, chose in (
        (first, (80.0, 70.123449), {"r": 0.5, "u": 0.2, "n": 0.1}, ["u"]),
        (again, (80.00001, 70.12346), {"r": 0.5, "u": 0.1, "n": 0.2}, ["n"]),
    ):
        make_run(root / "p_s1", "textemb", 1, a, selected=["r"], scores=ranked)
        make_run(root / "p_s2", "textemb", 2, b, selected=[])
        make_run(root / "s_s1", "textemb", 1, 0.0, selected=chose)  # a stage=select run: no scores
        (root / "s_s1" / "results.json").unlink()
        cfg = yaml.safe_load((root / "s_s1" / "config.yaml").read_text())
        (root / "s_s1" / "config.yaml").write_text(yaml.safe_dump({**cfg, "stage": "select"}))
    make_run(again / "p_s3", "textemb", 3, 10.0)  # no earlier row
    make_run(again / "q_s1", "textemb", 2, 10.0)  # an earlier folder of this name held seed 1: not paired
    make_run(first / "q_s1", "textemb", 1, 10.0)
    main([str(first), "--out", str(tmp_path / "rep")])
    rows = {row["run"]: row for row in read_csv(tmp_path / "rep" / "runs.csv")}
    assert (rows["p_s1"]["selected"], rows["p_s1"]["ranking"]) == ("r", "r > u > n")
    assert (rows["p_s2"]["selected"], rows["s_s1"]["selected"], rows["s_s1"]["ranking"]) == ("none", "u", "")
    main([str(again), "--against", str(tmp_path / "rep" / "runs.csv")])
    out = capsys.readouterr().out
    assert (
        "3 runs here (1 of them selection only) have a row in runs.csv with the same folder, primary, method and "
        "seed (2 have none)" in out
    )
    # 80.0000 prints alike; 70.1234 against 70.1235 does not, and its difference includes the rounding
    assert "| dev | accuracy | 2 | 1 | 0.0001 |" in out
    assert "| p_s2 | dev | accuracy | 70.1234 | 70.1235 | +0.0001 |" in out
    # the selection-only run is compared on what it selected; only p_s1 has a ranking
    assert "| selected auxiliaries | 3 | 2 |" in out and "| ranking of the candidates | 1 | 0 |" in out
    assert "| s_s1 | selected auxiliaries | u | n |" in out
    assert "| p_s1 | ranking of the candidates | r > u > n | r > n > u |" in out
    # a runs.csv from before these columns: scores compared, selections not
    older = tmp_path / "older.csv"
    with open(tmp_path / "rep" / "runs.csv", newline="") as f, open(older, "w", newline="") as g:
        reader = csv.DictReader(f)
        keep = [c for c in reader.fieldnames if c not in ("selected", "ranking")]
        writer = csv.DictWriter(g, keep, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(reader)
    main([str(again), "--against", str(older)])
    out = capsys.readouterr().out
    assert "| dev | accuracy | 2 | 1 | 0.0001 |" in out
    assert "older.csv has no `selected` and `ranking` columns" in out and "selected auxiliaries" not in out
    with pytest.raises(SystemExit):
        main([str(again), "--against", str(first / "p_s1" / "config.yaml")])
    assert "not a runs.csv written by auxrun-report" in capsys.readouterr().err

"""Measured transfer (issue 14) on fixed run folders: gains and labels, selector scores by hand."""

import json

import numpy as np
import pytest
from scipy import stats

from auxrun.reporting.report import main
from tests.test_report import GOLD, flip, make_run

ACC = lambda p: float(100 * np.mean(np.array(p) == np.array(GOLD)))  # noqa: E731


def truth_runs(root, primary, preds_by_pool):
    for pool, per_seed in preds_by_pool.items():
        for s, preds in per_seed.items():
            name = f"{primary}-{'-'.join(pool)}-{s}"
            make_run(
                root / name,
                "no_sel",
                s,
                ACC(preds),
                preds=preds,
                primary=primary,
                tasks=(primary, *pool),
                cost=(0, 100 * (1 + len(pool))),
            )


def test_truth_table_and_selector_scores(tmp_path):
    alone = {1: flip(10, 0), 2: flip(10, 5), 3: flip(10, 10)}
    truth_runs(
        tmp_path,
        "a",
        {
            (): alone,
            ("r",): {1: flip(1), 2: flip(0), 3: flip(2)},  # helpful
            ("u",): alone,  # no change: neutral
            ("n",): {1: flip(20), 2: flip(20), 3: flip(20)},  # harmful
        },
    )
    # a selector on the full pool: ranks r > u > n and keeps r
    for s in (1, 2):
        make_run(
            tmp_path / f"sel{s}",
            "gradts_thres",
            s,
            90.0,
            selected=["r"],
            scores={"r": 0.9, "u": 0.5, "n": 0.1},
            cost=(150, 50),
        )
    # one that ranks them backwards and keeps n
    make_run(
        tmp_path / "bad",
        "autosem_p1",
        1,
        60.0,
        selected=["n"],
        scores={"r": 0.1, "u": 0.6, "n": 0.7},
        cost=(300, 100),
    )
    # a weighting method writes no scores: its final task weights are read instead (results.json)
    make_run(tmp_path / "weights", "avil", 1, 85.0, selected=[], scores={}, cost=(0, 500))
    res = json.loads((tmp_path / "weights" / "results.json").read_text())
    res["task_weights"] = {"a": 0.4, "r": 0.3, "u": 0.2, "n": 0.1}
    (tmp_path / "weights" / "results.json").write_text(json.dumps(res))
    main([str(tmp_path), "--out", str(tmp_path / "rep"), "--resamples", "200"])
    md = (tmp_path / "rep" / "report.md").read_text()
    rows = {
        line.split(" | ")[3]: line.rstrip(" |").split(" | ")
        for line in md.splitlines()
        if line.startswith("| toy | tiny | a | ")
    }
    gain_r = np.mean([ACC(p) - ACC(alone[s]) for s, p in {1: flip(1), 2: flip(0), 3: flip(2)}.items()])
    assert rows["r"][4] == f"{gain_r:+.2f}" and rows["r"][9] == "helpful" and rows["r"][10] == "related"
    assert rows["u"][4] == "+0.00" and rows["u"][9] == "neutral" and rows["u"][10] == "unrelated"
    assert (
        rows["n"][4] == f"{np.mean([50 - ACC(alone[s]) for s in (1, 2, 3)]):+.2f}"
        and rows["n"][9] == "harmful"
    )
    gains = [gain_r, 0.0, np.mean([50 - ACC(alone[s]) for s in (1, 2, 3)])]
    rho = stats.spearmanr([0.1, 0.6, 0.7], gains).statistic
    tau = stats.kendalltau([0.1, 0.6, 0.7], gains).statistic
    # measurement: 4 pools x 3 seeds of cost 100, 200, 200, 200 -> 2100 / 3 seeds = 700 per seed
    sel = {
        line.split(" | ")[0].lstrip("| "): line.rstrip(" |").split(" | ")
        for line in md.split("## Selectors against the measured transfer")[1].splitlines()
        if line.startswith("| ") and not line.startswith("| method") and not line.startswith("| -")
    }
    # columns: method, runs, Spearman, its CI, Kendall, stability, precision, recall, empty, cost, share
    thres = sel["gradts_thres"]
    assert (
        thres[1:3] == ["2 (a, seeds 1,2)", "1.00 (2)"]
        and thres[4] == "1.00 (2)"
        and thres[6:]
        == [
            "1.00 (2)",
            "1.00 (2)",
            "– (something helps)",
            "200",
            "0.29",
        ]
    )
    assert thres[5] == "1.00 (1 pairs)"  # both seeds rank r > u > n; one pair has no interval
    lo, hi = map(float, thres[3].strip("[]").split(", "))
    assert -1 <= lo <= 1.0 <= hi <= 1  # the point estimate 1.0 lies inside its interval
    bad = sel["autosem_p1"]
    assert [bad[2], bad[4], *bad[6:]] == [
        f"{rho:.2f} (1)",
        f"{tau:.2f} (1)",
        "0.00 (1)",
        "0.00 (1)",
        "– (something helps)",
        "400",
        "0.57",
    ]
    assert bad[5] == "– (one seed)"
    assert sel["avil"][2] == "1.00 (1)" and sel["avil"][4] == "1.00 (1)"  # weights r > u > n as the gains


def test_selecting_nothing_when_nothing_helps_is_correct(tmp_path):
    alone = {1: flip(2, 0), 2: flip(2, 5), 3: flip(2, 10)}
    worse = {1: flip(12), 2: flip(14), 3: flip(16)}
    truth_runs(tmp_path, "a", {(): alone, ("r",): worse, ("u",): worse, ("n",): worse})
    make_run(tmp_path / "none", "gradts_trial", 1, 95.0, selected=[], scores={"r": 0.2, "u": 0.1, "n": 0.3})
    make_run(
        tmp_path / "some", "gradts_thres", 1, 80.0, selected=["u"], scores={"r": 0.2, "u": 0.9, "n": 0.3}
    )
    main([str(tmp_path), "--out", str(tmp_path / "rep"), "--resamples", "100"])
    md = (tmp_path / "rep" / "report.md").read_text()
    line = lambda m: next(x for x in md.splitlines() if x.startswith(f"| {m} | 1 ("))  # noqa: E731
    assert line("gradts_trial").split(" | ")[8] == "1/1"
    assert (
        line("gradts_thres").split(" | ")[8] == "0/1" and line("gradts_thres").split(" | ")[6] == "0.00 (1)"
    )


def test_second_selectors_from_one_run_get_rows_of_their_own(tmp_path):
    """TAG's gradient cosine and the trial rule a run did not apply are read from the same
    selection.json as selectors of their own, with the run's cost."""
    alone = {1: flip(10, 0), 2: flip(10, 5), 3: flip(10, 10)}
    helped = {1: flip(1), 2: flip(0), 3: flip(2)}
    truth_runs(
        tmp_path, "a", {(): alone, ("r",): helped, ("u",): alone, ("n",): {s: flip(20) for s in (1, 2, 3)}}
    )
    make_run(tmp_path / "tag", "tag", 1, 90.0, selected=["n"], scores={"r": 0.1, "u": 0.2, "n": 0.3})
    sel = json.loads((tmp_path / "tag" / "selection.json").read_text())
    sel.update(scores_cosine={"r": 0.9, "u": 0.5, "n": 0.1}, scores_cosine_selected=["r"])
    (tmp_path / "tag" / "selection.json").write_text(json.dumps(sel))
    make_run(
        tmp_path / "trial", "gradts_trial", 1, 90.0, selected=["r", "u"], scores={"r": 3, "u": 2, "n": 1}
    )
    sel = json.loads((tmp_path / "trial" / "selection.json").read_text())
    sel.update(trial_rule="paper", trial_selection_by_rule={"paper": ["r", "u"], "significant": ["r"]})
    (tmp_path / "trial" / "selection.json").write_text(json.dumps(sel))
    res = json.loads((tmp_path / "trial" / "results.json").read_text())
    res["cost"]["select"]["examples_backward_reused"] = 500  # a cached fine-tuning counts at its cost
    (tmp_path / "trial" / "results.json").write_text(json.dumps(res))
    main([str(tmp_path), "--out", str(tmp_path / "rep"), "--resamples", "100"])
    md = (tmp_path / "rep" / "report.md").read_text()
    rows = {
        line.split(" | ")[0].lstrip("| "): line.split(" | ")
        for line in md.split("## Selectors against the measured transfer")[1].split("\n## ")[0].splitlines()
        if line.startswith("| ") and not line.startswith(("| method", "| -"))
    }
    assert set(rows) == {"tag", "tag (cosine)", "gradts_trial", "gradts_trial (significant)"}
    assert rows["tag"][2] == "-1.00 (1)" and rows["tag (cosine)"][2] == "1.00 (1)"
    assert rows["tag"][6] == "0.00 (1)" and rows["tag (cosine)"][6] == "1.00 (1)"  # precision
    assert rows["gradts_trial"][6] == "0.50 (1)" and rows["gradts_trial (significant)"][6] == "1.00 (1)"
    assert rows["gradts_trial (significant)"][2] == rows["gradts_trial"][2] == "1.00 (1)"  # same scores
    assert rows["tag (cosine)"][9] == rows["tag"][9] == "3000"  # same run, same cost
    assert rows["gradts_trial"][9] == rows["gradts_trial (significant)"][9] == "3500"


def test_a_method_run_with_other_values_gets_its_own_row(tmp_path):
    """Method keys that differ between a method's runs name its rows: gradts_trial (trial_seeds=1)
    beside gradts_trial (trial_seeds=3)."""
    alone = {1: flip(10, 0), 2: flip(10, 5), 3: flip(10, 10)}
    truth_runs(
        tmp_path, "a", {(): alone, ("r",): {s: flip(1) for s in (1, 2, 3)}, ("u",): alone, ("n",): alone}
    )
    for k, selected in ((1, ["r", "u"]), (3, ["r"])):
        make_run(
            tmp_path / f"k{k}",
            "gradts_trial",
            1,
            90.0,
            selected=selected,
            scores={"r": 3, "u": 2, "n": 1},
            extra_cfg={"trial_seeds": k, "warmup_epochs": 3},
        )
    for s in (1, 2):  # every candidate scored alike (FastMTL's sampling when N exceeds the pool)
        make_run(
            tmp_path / f"flat{s}", "random_sampling", s, 90.0, selected=["r"], scores={"r": 1, "u": 1, "n": 1}
        )
    main([str(tmp_path), "--out", str(tmp_path / "rep"), "--resamples", "100"])
    md = (tmp_path / "rep" / "report.md").read_text()
    board = md.split("## Selectors against the measured transfer")[1].split("\n## ")[0]
    flat = next(x for x in board.splitlines() if x.startswith("| random_sampling |")).split(" | ")
    assert flat[2] == "–" and flat[5] == "– (no ranking to compare)"
    rows = {
        x.split(" | ")[0].lstrip("| "): x.split(" | ") for x in board.splitlines() if x.startswith("| gradts")
    }
    assert set(rows) == {"gradts_trial (trial_seeds=1)", "gradts_trial (trial_seeds=3)"}
    assert (
        rows["gradts_trial (trial_seeds=1)"][6] == "0.50 (1)"
        and rows["gradts_trial (trial_seeds=3)"][6] == "1.00 (1)"
    )


def _truth(root, resamples=100):
    from auxrun.reporting.cells import make_cells
    from auxrun.reporting.runs import collect
    from auxrun.reporting.truth import truth_gains

    _, cells = make_cells(collect(root))
    return truth_gains(cells, n_resamples=resamples, seed=0)


def test_the_truth_is_drawn_as_a_heatmap_with_an_all_column(tmp_path):
    from auxrun.reporting.truth import heatmaps

    alone = {1: flip(10, 0), 2: flip(10, 5), 3: flip(10, 10)}
    truth_runs(
        tmp_path / "runs",
        "a",
        {
            (): alone,
            ("r",): {1: flip(1), 2: flip(0), 3: flip(2)},  # helpful
            ("u",): alone,  # neutral
            ("n",): {1: flip(20), 2: flip(20), 3: flip(20)},  # harmful
            ("r", "u", "n"): {1: flip(1), 2: flip(0), 3: flip(2)},  # every other task at once: as r
        },
    )
    m = heatmaps(_truth(tmp_path / "runs"))[("toy", "tiny")]
    assert (
        m["rows"] == ["a"] and m["columns"] == ["a", "n", "r", "u", "all 3"] and m["metrics"] == ["accuracy"]
    )
    assert np.isnan(m["gain"][0, 0])  # the primary with itself: not a pair
    assert m["label"][0] == ["", "harmful", "helpful", "neutral", "helpful"]
    gain_r = np.mean([ACC(p) - ACC(alone[s]) for s, p in {1: flip(1), 2: flip(0), 3: flip(2)}.items()])
    assert m["gain"][0, 2] == m["gain"][0, 4] == pytest.approx(gain_r)
    assert m["low"][0, 2] > 0  # helpful: the span of its intervals excludes 0
    assert m["low"][0, 3] <= 0 <= m["high"][0, 3]
    main([str(tmp_path / "runs"), "--out", str(tmp_path / "rep"), "--resamples", "100"])
    md = (tmp_path / "rep" / "report.md").read_text()
    measured = md.split("## Measured transfer")[1].split("\n## ")[0]
    assert "![measured transfer, toy tiny](figures/transfer_toy_tiny.png)" in measured
    assert (tmp_path / "rep" / "figures" / "transfer_toy_tiny.png").stat().st_size > 5000
    assert "| toy | tiny | a | all 3 |" in measured
    assert "## Against TaskWeb" not in md  # the toy pool shares no pair with it


def test_outside_references_set_their_signs_beside_ours(tmp_path):
    """TaskWeb's pairs (auxrun/paper_tables/taskweb_transfer.yaml) where the truth measured them: RTE
    helped by STS-B (+11.9%) and by MRPC (+1.9%), STS-B hurt by RTE (-19.8%); MRPC was no primary here."""
    from auxrun import paper_tables
    from auxrun.reporting.truth import reference_table

    ref = paper_tables.load_transfer("taskweb_transfer")
    assert [(p.target, p.source, p.change_pct) for p in ref.pairs] == [
        ("rte", "stsb", 11.9),
        ("rte", "mrpc", 1.9),
        ("mrpc", "stsb", 0.7),
        ("mrpc", "rte", -6.6),
        ("stsb", "mrpc", 0.7),
        ("stsb", "rte", -19.8),
    ]
    assert "taskweb_transfer" not in paper_tables.available()  # not a paper table for --experiment
    alone = {1: flip(10, 0), 2: flip(10, 5), 3: flip(10, 10)}
    helped = {1: flip(1), 2: flip(0), 3: flip(2)}
    truth_runs(
        tmp_path / "runs", "rte", {(): alone, ("stsb",): helped, ("mrpc",): {s: flip(20) for s in (1, 2, 3)}}
    )
    truth_runs(tmp_path / "runs", "stsb", {(): alone, ("rte",): alone})
    header, rows = reference_table(_truth(tmp_path / "runs"), ref)
    assert header[:3] == ["target", "source", "theirs"] and header[4:] == ["signs agree", "note"]
    assert [r[:3] + r[4:] for r in rows] == [
        ["rte", "stsb", "+11.9% (helps)", "yes", "ours beyond the noise, the same way"],
        ["rte", "mrpc", "+1.9% (helps)", "no", "ours beyond the noise, the other way"],
        ["stsb", "rte", "-19.8% (hurts)", "–", "ours inside the noise: only our mean has a sign"],
    ]
    gain = np.mean([ACC(helped[s]) - ACC(alone[s]) for s in (1, 2, 3)])
    base = np.mean([ACC(alone[s]) for s in (1, 2, 3)])
    assert rows[0][3].startswith(f"{gain:+.2f} ({100 * gain / base:+.1f}%), seeds [") and rows[0][3].endswith(
        ", helpful"
    )
    assert rows[1][3].endswith(", harmful") and rows[2][3].startswith("+0.00 (+0.0%)")
    main([str(tmp_path / "runs"), "--out", str(tmp_path / "rep"), "--resamples", "100"])
    md = (tmp_path / "rep" / "report.md").read_text()
    section = md.split("## Against TaskWeb (Kim et al. 2023)")[1].split("\n## ")[0]
    assert "RoBERTa-base, sequential transfer" in section and "| rte | mrpc | +1.9% (helps) |" in section


def test_transfer_grid_comes_from_the_task_set():
    from auxrun.hydra_setup import pool_label, transfer_grid

    assert transfer_grid(["a", "b", "c"], ["b"]) == "[b],[b,a],[b,c],[b,a,c]"
    # no primaries listed: every task; two tasks: "all" is the pair, listed once
    assert transfer_grid(["a", "b"], []) == "[a],[a,b],[b],[b,a]"
    # transfer_tasks narrows the tasks; a primary outside them is dropped
    assert transfer_grid(["a", "b", "c", "d"], ["a", "d"], ["a", "c"]) == "[a],[a,c]"
    assert [pool_label(p) for p in (["a"], ["a", "b"], ["a", "b", "c"])] == ["a", "a+b", "a+all2"]


def test_train_cap_random_keeps_file_order():
    from auxrun.data.pool import cap_examples

    xs = list(range(100))
    first = cap_examples(xs, 10, "first", 0)
    drawn = cap_examples(xs, 10, "random", 3)
    assert first == list(range(10))
    assert len(drawn) == 10 and drawn == sorted(drawn) and drawn != first
    assert drawn == cap_examples(xs, 10, "random", 3) and drawn != cap_examples(xs, 10, "random", 4)
    assert cap_examples(xs[:5], 10, "random", 3) == xs[:5]


@pytest.mark.slow
def test_transfer_truth_sweep_runs_on_toy(tmp_path):
    """The experiment's grid, derived from the (narrowed) task set, runs; its report has the truth
    table; the same command again skips the finished points and leaves them as they were."""
    import os
    import subprocess
    import sys

    from tests.conftest import FAST, REPO

    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "-m",
        "auxrun.cli",
        "-m",
        "experiment=transfer_truth",
        "task_set.transfer_tasks=[toy_pair,toy_topic]",
        "task_set.primaries=[toy_pair]",
        "seed=1",
        *FAST,
        "train.epochs=1",
        "quiet=true",
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    done = sorted(p.parent.name for p in sweep.glob("*/results.json"))
    assert done == ["toy_pair+toy_topic_s1", "toy_pair_s1"]
    before = {p: p.read_bytes() for p in sweep.glob("*/results.json")}
    (sweep / "toy_pair_s1" / "results.json").unlink()  # as if that point had been interrupted
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "toy_pair+toy_topic_s1 finished already" in again.stderr
    assert "toy_pair_s1 finished already" not in again.stderr
    after = {p: p.read_bytes() for p in sweep.glob("*/results.json")}
    assert (
        after[sweep / "toy_pair+toy_topic_s1" / "results.json"]
        == before[sweep / "toy_pair+toy_topic_s1" / "results.json"]
    )
    assert sweep / "toy_pair_s1" / "results.json" in after
    main([str(sweep), "--out", str(tmp_path / "rep"), "--resamples", "50"])
    md = (tmp_path / "rep" / "report.md").read_text()
    assert (
        "## Measured transfer" in md and "| toy | tiny | toy_pair | toy_topic |" in md and "| related |" in md
    )
    assert "Written by `auxrun-report" in md and "auxrun -m experiment=transfer_truth" in md


class _Scored:
    def __init__(self, seed, scores):
        self.seed, self._scores = seed, scores

    def task_scores(self):
        return self._scores


def test_rank_stability_counts_a_pair_repeated_on_every_primary_once():
    """random_sampling's shares depend on the seed alone: each primary repeats one comparison, which
    is one pair, with no interval; pairs that differ are all counted."""
    from auxrun.reporting.truth import ranking_stability

    s1, s2 = [0.48, 0.47, 0.45, 0.53, 0.57], [0.51, 0.48, 0.55, 0.46, 0.50]
    by_primary = {}
    for p in ["a", "b", "c", "d"]:
        names = [t for t in "abcde" + "x" if t != p][:5]
        by_primary[(p,)] = [_Scored(1, dict(zip(names, s1))), _Scored(2, dict(zip(names, s2)))]
    tau = stats.kendalltau(s1, s2).statistic
    assert ranking_stability(by_primary, 100) == (pytest.approx(tau), None, 4, 1)
    by_primary[("d",)][1] = _Scored(2, dict(zip("abcex", [0.1, 0.2, 0.3, 0.4, 0.5])))
    mean, interval, n, distinct = ranking_stability(by_primary, 100)
    assert (n, distinct) == (4, 2) and mean == pytest.approx(
        (tau + stats.kendalltau(s1, [1, 2, 3, 4, 5])[0]) / 2
    )
    assert interval is not None and interval[0] <= mean <= interval[1]


def test_selectors_without_a_row_are_named_unfinished_ones_included():
    from pathlib import Path

    from auxrun.methods.registry import METHODS, is_baseline
    from auxrun.reporting.runs import Run
    from auxrun.reporting.truth import selectors_not_run, under_way

    def run(method, selection, results=None):
        config = {"method.name": method, "primary": "rte", "task_set.name": "glue6", "backbone.name": "b"}
        return Run(path=Path(f"/x/{method}"), config=config, results=results, selection=selection)

    truth = {("glue6", "b", "rte"): {}}
    runs = [
        run("logme", {"scores": {"cola": 1.0}}),  # finished its selection: a row
        run("autosem", None),  # stage 2 still running: no selection.json yet
        run("avil", {"weights": {}}),  # decides while training: unfinished until results.json
        run("diw", {"weights": {}}, results={"best": {}}),
    ]
    missing = selectors_not_run(runs, truth)
    assert "autosem" in missing and "avil" in missing and "logme" not in missing and "diw" not in missing
    assert set(missing) == {m for m in METHODS if not is_baseline(m)} - {"logme", "diw"}
    # the unfinished ones say where they are under way; a method never run says nothing
    runs[1].config["seed"] = 1
    assert under_way(runs, truth, missing) == {"autosem": "rte, seed 1", "avil": "rte"}


def test_best_constant_prediction_against_scikit_learn():
    from sklearn.metrics import f1_score, matthews_corrcoef

    from auxrun.reporting.truth import best_constant, chance_level

    gold = [1, 1, 1, 0, 0, 1, 0, 1]  # 5 of 8 positive
    assert best_constant("accuracy", gold) == pytest.approx(62.5)
    assert best_constant("f1", gold) == pytest.approx(100 * f1_score(gold, [1] * 8))  # 2 * .625 / 1.625
    assert best_constant("mcc", gold) == pytest.approx(100 * matthews_corrcoef(gold, [0] * 8)) == 0.0
    assert best_constant("pearson", [0.1, 0.5]) is None and best_constant("accuracy", []) is None
    assert chance_level("pearson", [0.1, 0.5]) == 0.0 and chance_level("mse", [0.1]) is None
    assert chance_level("f1", gold) == best_constant("f1", gold)


def test_primaries_alone_beside_chance_and_a_full_data_reference(tmp_path, monkeypatch):
    """Each primary alone in its main metric (mean ± sd over seeds), the examples an epoch trained on,
    the best constant prediction on its dev set, and a reference's full-data score where it has the task
    on the same backbone (theirs, ours in their metric, the ratio)."""
    from auxrun import paper_tables
    from auxrun.paper_tables import SingleTaskReference, SingleTaskScore
    from auxrun.reporting.truth import primaries_table

    real = paper_tables.load_single_task("minilm_single_task")
    assert real.backbone == "minilm_l6" and [(s.task, s.metric, s.score) for s in real.scores] == [
        ("rte", "accuracy", 68.9),
        ("sst2", "accuracy", 91.3),
        ("mrpc", "accuracy", 86.6),
    ]
    assert "minilm_single_task" not in paper_tables.available()

    alone = {1: flip(10, 0), 2: flip(12, 5), 3: flip(8, 10)}  # 75, 70, 80
    chance = {1: flip(20, 0), 2: flip(18, 5), 3: flip(22, 10)}  # 50, 55, 45: the majority class's 50
    truth_runs(tmp_path / "runs", "a", {(): alone, ("r",): alone})
    truth_runs(tmp_path / "runs", "b", {(): chance, ("r",): alone})
    for folder in (tmp_path / "runs").iterdir():
        path = folder / "results.json"
        results = json.loads(path.read_text())
        results["epochs"] = 3
        results["cost"]["train"]["examples_backward"] = 3 * 36
        path.write_text(json.dumps(results))
    ref = SingleTaskReference(
        "x",
        "P",
        "full data",
        "tiny",
        [SingleTaskScore("a", "accuracy", 80.0), SingleTaskScore("z", "accuracy", 9)],
    )
    header, rows = primaries_table(_truth(tmp_path / "runs"), [ref])
    assert header[2:4] == ["primary alone", "examples trained on"]
    half = stats.t.ppf(0.975, 2) * 5 / np.sqrt(3)
    assert rows == [
        [
            "a",
            "accuracy",
            "75.00 ± 5.00 (n=3)",
            "36",
            "50.00",
            f"yes [{75 - half:.2f}, {75 + half:.2f}]",
            "P: 80.00, 75.00, 0.94 (accuracy)",
        ],
        ["b", "accuracy", "50.00 ± 5.00 (n=3)", "36", "50.00", f"no [{50 - half:.2f}, {50 + half:.2f}]", ""],
    ]
    other = SingleTaskReference("x", "P", "full data", "bert_base", ref.scores)
    assert [r[6] for r in primaries_table(_truth(tmp_path / "runs"), [other])[1]] == ["", ""]

    # a selector on both primaries: the leaderboard again on the learnt one alone
    for primary in ("a", "b"):
        make_run(
            tmp_path / "runs" / f"logme-{primary}", "logme", 1, 70.0, primary=primary, tasks=(primary, "r")
        )

    monkeypatch.setattr(paper_tables, "single_task_references", lambda: ["x_single_task"])
    monkeypatch.setattr(paper_tables, "load_single_task", lambda name: ref)
    main([str(tmp_path / "runs"), "--out", str(tmp_path / "rep"), "--resamples", "50"])
    md = (tmp_path / "rep" / "report.md").read_text()
    section = md.split("## The primaries alone")[1].split("\n## ")[0]
    assert "| a | accuracy | 75.00 ± 5.00 (n=3) | 36 | 50.00 | yes [" in section
    learnt = md.split("### On the primaries the setting learns")[1].split("\n## ")[0]
    assert "beyond chance (a; see The primaries alone)" in learnt and "| logme | 1 (a, seed 1) |" in learnt
    assert "| logme | 2 (2 primaries, seed 1) |" in md.split("## Selectors against the measured transfer")[1]

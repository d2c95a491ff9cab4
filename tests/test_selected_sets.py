"""The report's selections-trained table and the two seed claims read from it
(auxrun/reporting/selected_sets.py), on made-up runs whose scores are known."""

from pathlib import Path

from auxrun.reporting.cells import Cell
from auxrun.reporting.runs import Run
from auxrun.reporting.selected_sets import gradts_order_table, sampling_claim_table, trained_table, truth_cell

TASKS = ["rte", "cola", "mrpc"]


def _run(method, seed, score=None, pool=None, selected=None, instances=None, primary="rte"):
    config = {"method.name": method, "primary": primary, "seed": seed, "task_set.name": "glue6"}
    config |= {"backbone.name": "minilm_l6", "task_set.tasks": pool or TASKS}
    results = None if score is None else {"main_metric": "accuracy", "best": {"dev": {"accuracy": score}}}
    selection = None
    if selected is not None:
        selection = {"candidates": ["cola", "mrpc"], "selected_tasks": selected, "instances": instances or {}}
        config["stage"] = "select" if score is None else "all"
    return Run(path=Path(f"/x/{method}_{seed}"), config=config, results=results, selection=selection)


def _cell(runs):
    return Cell(group={}, runs=runs, split="dev", metric="accuracy", values=[], seeds=[])


def _truth():
    alone = _cell([_run("no_sel", s, 50.0 + s, pool=["rte"]) for s in (1, 2)])
    pairs = {
        a: _cell([_run("no_sel", s, 60.0 + s + i, pool=["rte", a]) for s in (1, 2)])
        for i, a in enumerate(["cola", "mrpc"])
    }
    together = _cell([_run("no_sel", s, 55.0 + s, pool=TASKS) for s in (1, 2)])
    key = ("glue6", "minilm_l6", "rte")
    return {key: {"alone": alone, "pairs": pairs, "together": together, "aux": {}, "cost": 1.0}}


def test_a_selection_maps_to_the_truth_run_of_its_pool_or_to_none():
    entry = _truth()[("glue6", "minilm_l6", "rte")]
    assert truth_cell(entry, {"selected_tasks": []}) is entry["alone"]
    assert truth_cell(entry, {"selected_tasks": ["mrpc"]}) is entry["pairs"]["mrpc"]
    assert truth_cell(entry, {"selected_tasks": ["mrpc", "cola"]}) is entry["together"]
    part = {"selected_tasks": ["cola"], "instances": {"cola": {"kept": 17, "total": 288}}}
    assert truth_cell(entry, part) is None  # examples sampled from a task: no truth run trained that
    assert truth_cell(entry, {"selected_tasks": ["cola"], "weights": {"cola": 0.5}}) is None


def test_trained_table_scores_from_the_truth_or_the_own_run():
    truth = _truth()
    runs = [
        _run("logme", 1, selected=["mrpc"]),  # truth pair rte+mrpc, seed 1: 62
        _run("logme", 2, selected=["mrpc"]),  # seed 2: 63
        _run("fastmtl", 1, selected=["cola", "mrpc"], instances={"cola": {"kept": 3, "total": 9}}),
        _run("avil", 1, 57.5, selected=["cola", "mrpc"]),  # trained itself
    ]
    _, rows = trained_table(runs, truth)
    by = {r[1]: r for r in rows}
    # logme: mean 62.5; over alone (51, 52) +11.0; over all (56, 57) +6.0
    assert by["logme"][3:] == ["mrpc", "62.50 (2)", "+11.00 (2)", "+6.00 (2)", "truth run"]
    assert by["fastmtl"][4:] == ["–", "–", "–", "not trained (needs stage=all)"]
    assert by["avil"][4:] == ["57.50 (1)", "+6.50 (1)", "+1.50 (1)", "own run"]


def test_gradts_order_and_the_sampling_claim():
    truth = _truth()
    runs = [
        _run("gradts_fg", 1, selected=["mrpc"]),  # 62
        _run("gradts_trial", 1, selected=["cola"]),  # 61
        _run("gradts_fg", 2, selected=[]),  # 52
        _run("gradts_trial", 2, selected=["cola"]),  # 62
    ]
    _, rows = gradts_order_table(runs, truth)
    # seeds 1,2: single 51.5, all 56.5, fg 57.0, trial 61.5: fg < trial
    assert rows == [["rte", "1,2", "51.50", "56.50", "57.00", "61.50", "no (fg < trial)"]]
    _, rows = gradts_order_table(runs[:2], truth)
    assert rows[0][1:] == ["1", "51.00", "56.00", "62.00", "61.00", "yes"]
    sampled = [
        _run("fastmtl", 1, 60.0, selected=["cola"]),
        _run("fastmtl", 2, 58.0, selected=["cola"]),
        _run("random_sampling", 1, 59.0, selected=["cola"]),
        _run("random_sampling", 2, 59.0, selected=["cola"]),
    ]
    _, rows = sampling_claim_table(sampled, truth)
    assert rows[0] == ["rte", "1,2", "59.00", "59.00", "+0.00", "1/2"]
    # over the pairs (+1, -1): mean 0, t-interval 0 -/+ 12.706 * 1.414 / 1.414
    assert rows[1][0] == "all" and rows[1][4] == "+0.00 [-12.71, +12.71]" and rows[1][5] == "1/2"


def test_frontier_pairs_each_selector_with_the_single_task_by_seed():
    """A selector run on seed 1 only is placed at the single task's mean over its seeds plus its gain
    at seed 1: selecting nothing lands exactly on the single task, whatever seed 1's luck."""
    from auxrun.reporting.selected_sets import frontier_table

    truth = _truth()
    runs = [_run("logme", 1, selected=["mrpc"]), _run("gradts_thres", 1, selected=[])]
    _, rows, panels = frontier_table(runs, truth)
    by = {r[1]: r for r in rows}
    assert by["gradts_thres"][3] == by["single task"][3] == "51.50"
    assert by["logme"][3] == "62.50"  # 51.5 + (62 - 51)
    assert by["no_sel (all tasks)"][3] == "56.50"
    assert [r[1] for r in rows if r[4] == "yes"] == ["logme"]  # no cost recorded: the best score wins
    assert set(panels) == {"glue6 / minilm_l6 / rte"}


def test_gradts_order_reads_a_method_whose_runs_differ_in_a_key():
    """Runs of gradts_trial with trial_seeds 1 and 3 are two rows (`gradts_trial (trial_seeds=1)`);
    the order check reads the variant with the most trained scores, never a second rule's view."""
    from auxrun.reporting.selected_sets import _method_records

    by = {
        "gradts_trial (trial_seeds=1)": [{"score": 1.0}, {"score": 2.0}],
        "gradts_trial (trial_seeds=3)": [{"score": 3.0}, {"score": None}],
        "gradts_trial (trial_seeds=1) (significant)": [{"score": 9.0}] * 3,
        "gradts_fg": [{"score": 4.0}],
    }
    assert _method_records(by, "gradts_trial") == by["gradts_trial (trial_seeds=1)"]
    assert _method_records(by, "gradts_fg") == by["gradts_fg"]
    assert _method_records(by, "heu_size") == []


def test_an_own_run_in_another_setting_than_the_truth_names_the_keys():
    """alpha-VIL trained for 12 epochs against a truth of 3: its gain over the primary alone includes
    the extra epochs, and the table says so; a run in the truth's setting says nothing more."""
    truth = _truth()
    for r in truth[("glue6", "minilm_l6", "rte")]["alone"].runs:
        r.config["train.epochs"] = 3
    same = _run("avil", 1, 57.5, selected=["cola", "mrpc"])
    longer = _run("diw", 1, 58.5, selected=["cola", "mrpc"])
    same.config["train.epochs"], longer.config["train.epochs"] = 3, 12
    _, rows = trained_table([same, longer], truth)
    by = {r[1]: r for r in rows}
    assert by["avil"][-1] == "own run"
    assert by["diw"][-1] == "own run (train.epochs=12, the truth's 3)" and by["diw"][5] == "+7.50 (1)"


def test_a_run_still_selecting_is_not_a_selection_of_nothing():
    """AUTOSEM's stage 2 still running has no selection.json: it has no row, and is not placed at the
    primary alone; an unfinished avil (weights decided while training) has none either."""
    truth = _truth()
    running = _run("autosem", 1)
    training = _run("avil", 1, selected=[])
    _, rows = trained_table([running, training, _run("logme", 1, selected=[])], truth)
    assert [r[1] for r in rows] == ["logme"]

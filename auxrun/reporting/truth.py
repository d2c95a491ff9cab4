"""Measured transfer as ground truth, and every selector scored against it (issue 14).

Truth runs are MTL runs of a primary alone (pool = [primary]) and of the primary with one auxiliary
(pool = [primary, aux]), same settings otherwise (``experiment=transfer_truth``). The gain of an
auxiliary is its pair cell against the primary-alone cell: the mean over shared seeds of the dev
difference, with the paired bootstrap over dev examples and, with 3+ seeds, the t-interval over seeds
(auxrun.reporting.cells.compare). It is marked helpful or harmful only where the intervals exclude 0,
otherwise neutral.

A selection run on the same primary (and task set and backbone) is then scored: Spearman and Kendall
between the method's task scores (``Run.task_scores``: selection.json ``scores``, or for a method that
decides while training its final task weights; read as higher = more useful) and the
mean gains over the candidates that have both; precision and recall of the selected set against the
helpful set; and, where nothing is helpful, whether it selected nothing. The cost column sets the
method's selection + training cost beside what the whole measurement for that primary cost.

``heatmaps`` lays the gains out as primary x auxiliary matrices (one per task set and backbone) for
the report's figure, and ``reference_table`` sets the signs of other work's pairwise transfer
(auxrun/paper_tables/*_transfer.yaml) beside ours.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from typing import Any

import numpy as np
from scipy import stats

from auxrun.eval.metrics import LOWER_IS_BETTER, METRICS
from auxrun.methods.registry import METHODS, decides_while_training, is_baseline, load_all
from auxrun.paper_tables import SingleTaskReference, TransferReference
from auxrun.reporting.cells import Cell, Comparison, compare, t_interval
from auxrun.reporting.runs import Run


def _key(run: Run) -> tuple:
    return (run.config.get("task_set.name"), run.config.get("backbone.name"), run.primary)


def _pool(run: Run) -> tuple:
    return tuple(run.config.get("task_set.tasks") or ())


def truth_gains(cells: list[Cell], n_resamples: int = 1000, seed: int = 0) -> dict[tuple, dict[str, Any]]:
    """{(task_set, backbone, primary): {aux: {"comparison", "label", "cost"}, "_alone": cell}} from
    the cells whose pool is the primary alone or the primary plus one auxiliary."""
    alone: dict[tuple, Cell] = {}
    pairs: dict[tuple, dict[str, Cell]] = defaultdict(dict)
    everything: dict[tuple, Cell] = {}  # the primary with every other task of the largest such pool
    for c in cells:
        r = c.runs[0]
        pool = _pool(r)
        if not is_baseline(r.method) or not pool or pool[0] != r.primary:
            continue
        if len(pool) == 1:
            alone[_key(r)] = c
        elif len(pool) == 2 and r.method == "no_sel":
            pairs[_key(r)][pool[1]] = c
        elif r.method == "no_sel":
            held = everything.get(_key(r))
            if held is None or len(_pool(held.runs[0])) < len(pool):
                everything[_key(r)] = c
    truth: dict[tuple, dict[str, Any]] = {}
    for key, by_aux in pairs.items():
        if key not in alone:
            continue
        base = alone[key]
        table: dict[str, Any] = {}
        for aux, cell in sorted(by_aux.items()):
            comp = compare(cell, base, n_resamples, seed)
            if comp is None:
                continue
            label = "neutral" if comp.inside_noise else ("helpful" if comp.diff > 0 else "harmful")
            table[aux] = {"comparison": comp, "label": label}
        together = everything.get(key)
        cells_used = [base, *by_aux.values(), *([together] if together else [])]
        cost = [r.cost() for c in cells_used for r in c.runs if r.results is not None]
        seeds = max(1, len({r.seed for r in base.runs}))
        truth[key] = {
            "aux": table,
            "cost": sum(cost) / seeds,
            "alone": base,
            "pairs": dict(by_aux),
            "together": together,
        }
        if together is not None:
            comp = compare(together, base, n_resamples, seed)
            if comp is not None:
                label = "neutral" if comp.inside_noise else ("helpful" if comp.diff > 0 else "harmful")
                truth[key]["all"] = {"comparison": comp, "label": label, "tasks": _pool(together.runs[0])}
    return truth


def truth_table(
    truth: dict[tuple, dict[str, Any]], planted: dict[str, Any]
) -> tuple[list[str], list[list[str]]]:
    header = [
        "task_set",
        "backbone",
        "primary",
        "auxiliary",
        "gain",
        "sd over seeds",
        "95% CI (bootstrap)",
        "95% CI (seeds)",
        "seeds",
        "measured",
        "planted",
    ]
    rows = []
    for (task_set, backbone, primary), t in sorted(truth.items(), key=lambda kv: tuple(map(str, kv[0]))):
        roles = {a: role for role, tasks in (planted.get(primary) or {}).items() for a in tasks}
        rows_of = list(t["aux"].items())
        if "all" in t:  # the primary with every other task at once
            rows_of.append((f"all {len(t['all']['tasks']) - 1}", t["all"]))
        for aux, g in rows_of:
            c = g["comparison"]
            rows.append(
                [
                    str(task_set),
                    str(backbone),
                    primary,
                    aux,
                    f"{c.diff:+.2f}",
                    "" if c.seed_sd is None else f"{c.seed_sd:.2f}",
                    f"[{c.ci_low:.2f}, {c.ci_high:.2f}]" if c.ci_low is not None else c.note,
                    f"[{c.seed_ci[0]:.2f}, {c.seed_ci[1]:.2f}]" if c.seed_ci else "",
                    ",".join(map(str, c.seeds)),
                    g["label"],
                    roles.get(aux, ""),
                ]
            )
    return header, rows


def span(comp: Comparison) -> tuple[float, float] | None:
    """From the lower of the two 95% intervals' lows to the higher of their highs (the paired bootstrap
    over dev examples, the t-interval over seeds): a gain is labelled only where both exclude 0, which
    is where this span does."""
    ends = [(comp.ci_low, comp.ci_high)] if comp.ci_low is not None else []
    ends += [comp.seed_ci] if comp.seed_ci else []
    if not ends:
        return None
    return min(lo for lo, _ in ends), max(hi for _, hi in ends)


def heatmaps(truth: dict[tuple, dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """{(task_set, backbone): {"rows", "columns", "metrics", "gain", "low", "high", "label"}}: a
    primary x auxiliary matrix of the gains per measurement (NaN where a pair was not measured, the
    primary's own column included), with an ``all N`` column where the primary was trained with
    every other task at once."""
    by_setting: dict[tuple, dict[str, dict[str, Any]]] = defaultdict(dict)
    for (task_set, backbone, primary), t in truth.items():
        by_setting[(str(task_set), str(backbone))][primary] = t
    out = {}
    for setting, per_primary in sorted(by_setting.items()):
        rows = sorted(per_primary)
        columns = sorted(set(rows) | {a for t in per_primary.values() for a in t["aux"]})
        sizes = sorted({len(t["all"]["tasks"]) - 1 for t in per_primary.values() if "all" in t})
        if sizes:
            columns.append(f"all {sizes[0]}" if len(sizes) == 1 else "all")
        shape = (len(rows), len(columns))
        gain, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        label = [[""] * len(columns) for _ in rows]
        for i, primary in enumerate(rows):
            t = per_primary[primary]
            entries = dict(t["aux"])
            if "all" in t:
                entries[columns[-1]] = t["all"]
            for j, column in enumerate(columns):
                if column not in entries:
                    continue
                comp = entries[column]["comparison"]
                gain[i, j] = comp.diff
                low[i, j], high[i, j] = span(comp) or (np.nan, np.nan)
                label[i][j] = entries[column]["label"]
        metrics = [per_primary[p]["alone"].metric or "" for p in rows]
        out[setting] = {
            "rows": rows,
            "columns": columns,
            "metrics": metrics,
            "gain": gain,
            "low": low,
            "high": high,
            "label": label,
        }
    return out


def reference_table(
    truth: dict[tuple, dict[str, Any]], reference: TransferReference
) -> tuple[list[str], list[list[str]]]:
    """A row per pair of the reference that the truth measured (target = our primary, source = our
    auxiliary): their relative change and its sign beside our gain (in the primary's metric and
    relative to the primary alone), our seed interval and label, and whether the signs agree."""
    header = [
        "target",
        "source",
        "theirs",
        "ours (gain, relative, 95% CI over seeds, label)",
        "signs agree",
        "note",
    ]
    settings = {(k[0], k[1]) for k in truth}
    rows = []
    for pair in reference.pairs:
        for (task_set, backbone, primary), t in sorted(truth.items(), key=lambda kv: tuple(map(str, kv[0]))):
            if primary != pair.target or pair.source not in t["aux"]:
                continue
            g = t["aux"][pair.source]
            comp = g["comparison"]
            base = t["alone"].mean
            relative = f" ({100 * comp.diff / base:+.1f}%)" if base and base > 0 else ""  # as theirs
            seeds = f", seeds [{comp.seed_ci[0]:.2f}, {comp.seed_ci[1]:.2f}]" if comp.seed_ci else ""
            ours = f"{comp.diff:+.2f}{relative}{seeds}, {g['label']}"
            way = "helps" if pair.change_pct > 0 else "hurts" if pair.change_pct < 0 else "no change"
            theirs = f"{pair.change_pct:+.1f}% ({way})"
            if comp.diff == 0 or pair.change_pct == 0:
                agree = "–"
            else:
                agree = "yes" if (comp.diff > 0) == (pair.change_pct > 0) else "no"
            if g["label"] == "neutral":
                note = "ours inside the noise: only our mean has a sign"
            elif agree == "yes":
                note = "ours beyond the noise, the same way"
            else:
                note = "ours beyond the noise, the other way"
            if len(settings) > 1:
                note = f"ours on {task_set} / {backbone}; {note}"
            if pair.note:
                note += f"; {pair.note}"
            rows.append([pair.target, pair.source, theirs, ours, agree, note])
    return header, rows


# Metrics a constant prediction has a score under (a correlation with a constant is undefined).
CONSTANT_SCORED = ("accuracy", "f1", "f1_macro", "f1_weighted", "mcc")


def best_constant(metric: str, gold: list[Any]) -> float | None:
    """The best score of always predicting one of the dev set's labels: what a model that learnt
    nothing reaches (the majority class for accuracy, the positive class for binary F1, 0 for MCC)."""
    if metric not in CONSTANT_SCORED or not gold:
        return None
    return max(METRICS[metric](gold, [label] * len(gold)) for label in sorted(set(gold), key=str))


def chance_level(metric: str, gold: list[Any]) -> float | None:
    """What a model that learnt nothing scores: the best constant prediction, or 0 for a correlation
    (a constant has none); None where neither applies (a loss, a tagging metric)."""
    if metric in ("pearson", "spearman"):
        return 0.0
    return best_constant(metric, gold)


def learnt(cell: Cell, chance: float | None) -> bool | None:
    """Whether the primary alone beats ``chance`` beyond the seeds' noise: the lower end of the 95%
    t-interval over seeds above it. None where it cannot be said (no chance level, one seed)."""
    interval = t_interval(cell.values)
    return None if chance is None or interval is None else interval[0] > chance


def chance_of(cell: Cell) -> float | None:
    pred = cell.runs[0].predictions("dev") if cell.runs else None
    return chance_level(cell.metric or "", list((pred or {}).get("gold") or []))


def primaries_table(
    truth: dict[tuple, dict[str, Any]], references: list[SingleTaskReference]
) -> tuple[list[str], list[list[str]]]:
    """A row per primary of the truth: the primary alone in its main metric (mean ± sd over seeds) and
    the examples an epoch trained on, beside the best constant prediction on the same dev set and, where
    a reference scored the task on a backbone of the same size with full data, theirs against ours in
    their metric."""
    header = [
        "primary",
        "metric",
        "primary alone",
        "examples trained on",
        "chance (best constant prediction; 0 for a correlation)",
        "learnt (seed interval above chance)",
        "full-data reference (theirs, ours, ours / theirs)",
    ]
    several = len({(k[0], k[1]) for k in truth}) > 1

    def dev_scores(runs: list[Run], metric: str) -> list[float]:
        best = [((r.results or {}).get("best") or {}).get("dev") or {} for r in runs]
        return [b[metric] for b in best if b.get(metric) is not None]

    rows = []
    for (task_set, backbone, primary), t in sorted(truth.items(), key=lambda kv: tuple(map(str, kv[0]))):
        cell: Cell = t["alone"]
        metric, values = cell.metric or "", cell.values
        if not values:
            continue
        sd = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        results = cell.runs[0].results or {}
        trained = ((results.get("cost") or {}).get("train") or {}).get("examples_backward")
        per_epoch = trained // results["epochs"] if trained and results.get("epochs") else None
        chance = chance_of(cell)
        interval = t_interval(values)
        beyond = learnt(cell, chance)
        refs = []
        for ref in references:
            for score in ref.scores:
                ours = dev_scores(cell.runs, score.metric)
                if score.task == primary and ref.backbone == backbone and ours:
                    mean = statistics.mean(ours)
                    refs.append(
                        f"{ref.paper}: {score.score:.2f}, {mean:.2f}, {mean / score.score:.2f} ({score.metric})"
                    )
        rows.append(
            [
                f"{primary} ({task_set}, {backbone})" if several else primary,
                metric,
                f"{statistics.mean(values):.2f}{sd} (n={len(values)})",
                str(per_epoch) if per_epoch else "",
                "–" if chance is None else f"{chance:.2f}",
                {True: "yes", False: "no"}.get(beyond, "–")
                + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else ""),
                "; ".join(refs),
            ]
        )
    return header, rows


def score_selection(run: Run, truth: dict[str, Any]) -> dict[str, Any] | None:
    """One selection run against its primary's truth; None without a selection or shared candidates."""
    sel = run.selection
    if not sel:
        return None
    gains = {a: g["comparison"].diff for a, g in truth["aux"].items()}
    candidates = [a for a in sel.get("candidates", []) if a in gains]
    if not candidates:
        return None
    helpful = {a for a in candidates if truth["aux"][a]["label"] == "helpful"}
    selected = {a for a in sel.get("selected_tasks", []) if a in gains}
    scores = run.task_scores()
    scored = [a for a in candidates if isinstance(scores.get(a), int | float)]
    out: dict[str, Any] = {"spearman": None, "kendall": None}
    if len(scored) >= 3 and len({scores[a] for a in scored}) > 1 and len({gains[a] for a in scored}) > 1:
        xs, ys = [scores[a] for a in scored], [gains[a] for a in scored]
        out["spearman"] = float(stats.spearmanr(xs, ys).statistic)
        out["kendall"] = float(stats.kendalltau(xs, ys).statistic)
    out["precision"] = len(selected & helpful) / len(selected) if selected else None
    out["recall"] = len(selected & helpful) / len(helpful) if helpful else None
    out["nothing_helps"] = not helpful
    out["empty_correct"] = (not selected) if not helpful else None
    out["cost"] = run.cold_cost()  # on an empty cache: a reused fine-tuning is not free
    return out


def selector_views(run: Run) -> list[tuple[str, Run]]:
    """The selectors one run answers for: the method itself, plus the second selectors its
    selection.json records from the same work (same cost), each as a row of its own:

    - ``<method> (cosine)``: TAG's gradient cosine (``scores_cosine``, ``scores_cosine_selected``);
    - ``<method> (significant)``: a rank-then-trial method run under ``trial_rule=paper`` records what
      ``significant`` would have kept from the same trials (``trial_selection_by_rule``), and the
      other way round (``<method> (paper)``)."""
    views: list[tuple[str, Run]] = [(run.method, run)]
    sel = run.selection or {}

    def view(label: str, **changes: Any) -> None:
        views.append((label, dataclasses.replace(run, selection={**sel, **changes})))

    if isinstance(sel.get("scores_cosine"), dict) and sel["scores_cosine"]:
        view(
            f"{run.method} (cosine)",
            scores=sel["scores_cosine"],
            selected_tasks=list(sel.get("scores_cosine_selected") or []),
        )
    by_rule = sel.get("trial_selection_by_rule") or {}
    for rule, kept in sorted(by_rule.items()):
        if rule != sel.get("trial_rule") and isinstance(kept, list):
            view(f"{run.method} ({rule})", selected_tasks=list(kept))
    return views


def _variant_labels(runs: list[Run]) -> dict[int, str]:
    """{id(run): its method's name plus the method keys that differ between that method's runs}, e.g.
    ``gradts_trial (trial_seeds=3)`` beside ``gradts_trial (trial_seeds=1)``: one row each."""
    by_method: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        by_method[r.method].append(r)
    labels: dict[int, str] = {}
    for method, rs in by_method.items():
        keys = sorted({k for r in rs for k in r.config if k.startswith("method.") and k != "method.name"})
        varying = [k for k in keys if len({repr(r.config.get(k)) for r in rs}) > 1]
        for r in rs:
            extra = [f"{k.removeprefix('method.')}={r.config.get(k)}" for k in varying]
            labels[id(r)] = method + (f" ({', '.join(extra)})" if extra else "")
    return labels


def selector_records(runs: list[Run], truth: dict[tuple, dict[str, Any]]) -> dict[str, list[tuple]]:
    """{selector: [(record, measurement cost, run)]} for every selection run on a primary with a
    truth; a run may answer for several selectors (``selector_views``)."""
    by_method: dict[str, list[tuple[dict[str, Any], float, Run]]] = defaultdict(list)
    selectors = [r for r in runs if not is_baseline(r.method) and _key(r) in truth]
    # avil, diw: the answer is the final weights; an unfinished run of them has none yet
    selectors = [r for r in selectors if r.results is not None or not decides_while_training(r.method)]
    label_of = _variant_labels(selectors)
    for r in selectors:
        for label, v in selector_views(r):
            label = label.replace(r.method, label_of[id(r)], 1)
            rec = score_selection(v, truth[_key(r)])
            if rec is not None:
                by_method[label].append((rec, truth[_key(r)]["cost"], v))
    return by_method


def selector_table(
    runs: list[Run], truth: dict[tuple, dict[str, Any]], n_resamples: int = 1000, seed: int = 0
) -> tuple[list[str], list[list[str]]]:
    """A row per method: its scores against the measured truth, averaged over primaries and seeds, the
    Spearman's bootstrap interval (``spearman_interval``) and the agreement of its rankings across seeds
    (``ranking_stability``)."""
    header = [
        "method",
        "runs",
        "Spearman",
        "Spearman 95% CI",
        "Kendall",
        "rank stability (Kendall between seeds)",
        "precision",
        "recall",
        "selects nothing when nothing helps",
        "cost (backprop examples)",
        "cost / measurement",
    ]
    rows = [
        selector_row(method, recs, truth, n_resamples, seed)
        for method, recs in sorted(selector_records(runs, truth).items())
    ]
    return header, rows


def selector_row(method: str, recs: list[tuple], truth, n_resamples: int, seed: int) -> list[str]:
    def mean(name: str) -> str:
        vals = [rec[name] for rec, _, _ in recs if rec[name] is not None]
        return f"{statistics.mean(vals):.2f} ({len(vals)})" if vals else "–"

    by_primary: dict[tuple, list[Run]] = defaultdict(list)
    for _, _, r in recs:
        by_primary[_key(r)].append(r)
    ci = spearman_interval(by_primary, truth, n_resamples, seed)
    stab = ranking_stability(by_primary, n_resamples, seed)
    if stab is None:
        seeds_of = [{r.seed for r in rs} for rs in by_primary.values()]
        stability = "– (one seed)" if all(len(s) < 2 for s in seeds_of) else "– (no ranking to compare)"
    else:
        tau, interval, n_pairs, distinct = stab
        stability = f"{tau:.2f}" + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")
        stability += f" ({n_pairs} pairs" + (f", {distinct} distinct)" if distinct < n_pairs else ")")
    empties = [rec["empty_correct"] for rec, _, _ in recs if rec["empty_correct"] is not None]
    cost = statistics.mean(rec["cost"] for rec, _, _ in recs)
    measured = statistics.mean(c for _, c, _ in recs)
    return [
        method,
        f"{len(recs)} ({coverage(by_primary)})",
        mean("spearman"),
        f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "–",
        mean("kendall"),
        stability,
        mean("precision"),
        mean("recall"),
        f"{sum(empties)}/{len(empties)}" if empties else "– (something helps)",
        f"{cost:.0f}",
        f"{cost / measured:.2f}" if measured else "",
    ]


def coverage(by_primary: dict[tuple, list[Run]]) -> str:
    """Which primaries and seeds a method's rows rest on: `stsb, seed 1` or `6 primaries, seeds 1-3`
    (a method too dear for every point says here how far the budget went)."""
    seeds = sorted({r.seed for rs in by_primary.values() for r in rs if r.seed is not None})
    primaries = sorted(str(k[2]) for k in by_primary)
    where = primaries[0] if len(primaries) == 1 else f"{len(primaries)} primaries"
    if not seeds:
        return where
    contiguous = len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1))
    listed = f"{seeds[0]}-{seeds[-1]}" if contiguous else ",".join(map(str, seeds))
    return f"{where}, seed{'s' if len(seeds) > 1 else ''} {listed}"


def finished_selecting(run: Run) -> bool:
    """The run has its answer: a selection.json, and for avil/diw (which decide while training) the
    training's results. One still selecting has none yet, which is not "nothing selected"."""
    return run.selection is not None and (run.results is not None or not decides_while_training(run.method))


def selectors_not_run(runs: list[Run], truth: dict[tuple, dict[str, Any]]) -> list[str]:
    """The registered selectors (baselines aside) with no row: no run on a primary with a truth, or
    none that finished selecting."""
    load_all()
    ran = {r.method for r in runs if _key(r) in truth and finished_selecting(r)}
    return sorted(m for m in METHODS if not is_baseline(m) and m not in ran)


def under_way(runs: list[Run], truth: dict[tuple, dict[str, Any]], methods: list[str]) -> dict[str, str]:
    """Where each of ``methods`` has runs on a truth primary that have not finished selecting, as
    ``coverage`` says it (`rte, seed 1`): the page names the dear runs still going."""
    by_method: dict[str, dict[tuple, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if r.method in methods and _key(r) in truth and not finished_selecting(r):
            by_method[r.method][_key(r)].append(r)
    return {m: coverage(by_primary) for m, by_primary in by_method.items()}


# --- uncertainty and stability -------------------------------------------------------------------------


def _arrays(run: Run, split: str = "dev") -> tuple[np.ndarray, np.ndarray] | None:
    pred = run.predictions(split)
    if pred is None:
        return None
    return np.asarray(pred["gold"], dtype=object), np.asarray(pred["predictions"], dtype=object)


def gain_replicates(entry: dict[str, Any], n_resamples: int, seed: int) -> dict[str, np.ndarray] | None:
    """Bootstrap replicates of every auxiliary's gain for one primary, resampling the training seeds
    (with replacement, the same draw for the primary-alone run and each pair, as the gain pairs them by
    seed) and the dev examples (one draw for all runs, as they score the same examples). None where
    the runs saved no dev predictions or scored different examples."""
    base = {r.seed: r for r in entry["alone"].runs if r.results is not None}
    pairs = {a: {r.seed: r for r in c.runs if r.results is not None} for a, c in entry["pairs"].items()}
    metric = entry["alone"].metric
    if metric is None or not base:
        return None
    fn, sign = METRICS[metric], (-1.0 if metric in LOWER_IS_BETTER else 1.0)
    loaded: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for r in [*base.values(), *(r for by in pairs.values() for r in by.values())]:
        arr = _arrays(r)
        if arr is None:
            return None
        loaded[id(r)] = arr
    golds = [g for g, _ in loaded.values()]
    if any(len(g) != len(golds[0]) for g in golds):
        return None
    gold = golds[0]
    rng = np.random.default_rng(seed)
    out = {a: np.empty(n_resamples) for a in pairs}
    for b in range(n_resamples):
        idx = rng.integers(0, len(gold), len(gold))
        g = list(gold[idx])
        memo: dict[int, float] = {}

        def score(run: Run, idx=idx, g=g, memo=memo) -> float:
            if id(run) not in memo:
                memo[id(run)] = fn(g, list(loaded[id(run)][1][idx]))
            return memo[id(run)]

        for a, by in pairs.items():
            shared = sorted(set(by) & set(base), key=repr)
            drawn = [shared[i] for i in rng.integers(0, len(shared), len(shared))]
            out[a][b] = float(np.mean([sign * (score(by[s]) - score(base[s])) for s in drawn]))
    return out


def _spearman(scores: dict[str, float], gains: dict[str, float]) -> float | None:
    shared = [a for a in gains if isinstance(scores.get(a), int | float)]
    if len(shared) < 3:
        return None
    xs, ys = [scores[a] for a in shared], [gains[a] for a in shared]
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return float(stats.spearmanr(xs, ys).statistic)


def spearman_interval(
    runs_by_primary: dict[tuple, list[Run]],
    truth: dict[tuple, dict[str, Any]],
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile interval of a method's mean Spearman against the measured gains: each replicate
    redraws the truth (seeds and dev examples, ``gain_replicates``) and the method's own runs (its
    seeds, with replacement) on every primary, and averages the Spearman over primaries."""
    reps: dict[tuple, dict[str, np.ndarray]] = {}
    for key in runs_by_primary:
        r = gain_replicates(truth[key], n_resamples, seed)
        if r is None:
            return None
        reps[key] = r
    rng = np.random.default_rng(seed + 1)
    values = []
    for b in range(n_resamples):
        per_primary = []
        for key, runs in runs_by_primary.items():
            gains = {a: float(v[b]) for a, v in reps[key].items()}
            drawn = [runs[i] for i in rng.integers(0, len(runs), len(runs))]
            rhos = [x for x in (_spearman(r.task_scores(), gains) for r in drawn) if x is not None]
            if rhos:
                per_primary.append(float(np.mean(rhos)))
        if per_primary:
            values.append(float(np.mean(per_primary)))
    if len(values) < n_resamples // 2:
        return None
    tail = (1 - level) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return float(lo), float(hi)


def ranking_stability(
    runs_by_primary: dict[tuple, list[Run]], n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, tuple[float, float] | None, int, int] | None:
    """How much a method's ranking of the auxiliaries depends on its seed: Kendall's tau between the
    task scores of every two runs on the same primary (different seeds, shared candidates), averaged.
    The interval resamples primaries, then each primary's seed pairs (a two-level bootstrap). A pair
    whose two score lists (in candidate order) repeat a pair already counted is counted once: a method
    whose scores depend on the seed alone (random_sampling's draws) gives the same pair on every
    primary, one comparison and not six. Returns (mean tau, interval, pairs, distinct pairs); None with
    no primary run with two seeds."""
    taus_by_primary = []
    seen: set[tuple] = set()
    n_pairs = 0
    for runs in runs_by_primary.values():
        taus = []
        for i, a in enumerate(runs):
            for b in runs[i + 1 :]:
                if a.seed == b.seed:
                    continue
                sa, sb = a.task_scores(), b.task_scores()
                shared = sorted(set(sa) & set(sb))
                xs, ys = [sa[t] for t in shared], [sb[t] for t in shared]
                if len(shared) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
                    continue
                n_pairs += 1
                if {(tuple(xs), tuple(ys)), (tuple(ys), tuple(xs))} & seen:
                    continue
                seen.add((tuple(xs), tuple(ys)))
                taus.append(float(stats.kendalltau(xs, ys).statistic))
        if taus:
            taus_by_primary.append(taus)
    if not taus_by_primary:
        return None
    mean = float(np.mean([t for taus in taus_by_primary for t in taus]))
    distinct = sum(len(t) for t in taus_by_primary)
    if distinct < 2:
        return mean, None, n_pairs, distinct
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        drawn = [taus_by_primary[i] for i in rng.integers(0, len(taus_by_primary), len(taus_by_primary))]
        values.append(float(np.mean([t for taus in drawn for t in rng.choice(taus, len(taus))])))
    tail = (1 - level) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return mean, (float(lo), float(hi)), n_pairs, distinct

"""What each selector's choice scores once trained, beside the primary alone and with every task, and
two of the seed papers' claims read from it (issue 23, section 4).

A selection's trained score for one seed comes from one of two places:

- the run itself, where it trained (``stage=all``; alpha-VIL and DIW always do);
- otherwise the measured-transfer run that trained exactly that pool at the same seed: nothing
  selected is the primary alone, one auxiliary is its pair run, every candidate is the all-tasks run.
  A selection that keeps part of a task (FastMTL's and random sampling's examples) or weighs tasks
  has no such run: it needs its own (``stage=all`` resumes a ``stage=select`` folder into one).

Claims, where the pool holds their primaries:

- GradTS Table 2 (Ma et al. 2021): GradTS-fg >= GradTS-trial >= max(no_sel, single task) on RTE,
  MRPC and CoLA (their Table 2 orders the methods this way on every GLUE target);
- FastMTL (Kung et al. 2021): sampling auxiliary examples by similarity to the primary beats sampling
  as many at random (``fastmtl`` against ``random_sampling``, same N).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from auxrun.eval.metrics import LOWER_IS_BETTER
from auxrun.methods.registry import is_baseline
from auxrun.reporting.cells import t_interval
from auxrun.reporting.runs import Run

GRADTS_TABLE2_PRIMARIES = ("rte", "mrpc", "cola")
GRADTS_ORDER = ("gradts_fg", "gradts_trial")  # best first, as their Table 2 has them


def _sign(metric: str | None) -> float:
    return -1.0 if metric in LOWER_IS_BETTER else 1.0


def _by_seed(cell: Any) -> dict[Any, Run]:
    return {} if cell is None else {r.seed: r for r in cell.runs if r.results is not None}


def truth_cell(entry: dict[str, Any], selection: dict[str, Any]) -> Any:
    """The truth's cell that trained exactly what ``selection`` selected, or None."""
    if selection.get("weights") or selection.get("ratios"):
        return None
    selected = list(selection.get("selected_tasks") or [])
    instances = selection.get("instances") or {}
    if not isinstance(instances, dict):
        return None
    for t in selected:
        kept = instances.get(t)
        if isinstance(kept, dict) and kept.get("kept") != kept.get("total"):
            return None  # part of a task: no truth run trained that
    if not selected:
        return entry["alone"]
    if len(selected) == 1:
        return entry["pairs"].get(selected[0])
    together = entry.get("together")
    if together is not None and set(selected) == set(together.runs[0].config.get("task_set.tasks") or []) - {
        together.runs[0].primary
    }:
        return together
    return None


def trained(run: Run, entry: dict[str, Any], own: bool) -> tuple[float | None, str, float]:
    """(the primary's dev score of the run's selection trained, where it came from, what selecting
    and training cost in back-propagated examples on an empty cache). ``own``: the run's own training
    counts (false for a second selector read from the same run)."""
    if own and run.results is not None:
        return run.score("dev"), "own run", run.cold_cost()
    cell = truth_cell(entry, run.selection or {})
    base = _by_seed(cell).get(run.seed)
    if base is None:
        return None, "", run.cold_cost()
    return base.score("dev"), "truth run", run.cold_cost() + base.cost()


def setting_departures(run: Run, entry: dict[str, Any]) -> tuple[str, ...]:
    """The training and data keys where a selector's own training differs from the truth's runs
    (alpha-VIL's 12 epochs, FastMTL's fine-tuning epochs): its gain over the primary alone then
    includes what that setting changes, not only what the selection chose."""
    ref = next((r.config for r in entry["alone"].runs), {})
    keys = sorted(k for k in set(ref) | set(run.config) if k.startswith(("train.", "data.")))
    return tuple(
        f"{k}={run.config.get(k)}, the truth's {ref.get(k)}" for k in keys if run.config.get(k) != ref.get(k)
    )


def trained_records(
    runs: list[Run], truth: dict[tuple, dict[str, Any]]
) -> dict[tuple, dict[str, list[dict]]]:
    """{(task_set, backbone, primary): {selector: [{"seed", "score", "source", "selected", "cost",
    "departs"}]}}"""
    from auxrun.reporting.truth import _key, _variant_labels, finished_selecting, selector_views

    out: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    selectors = [r for r in runs if not is_baseline(r.method) and _key(r) in truth and finished_selecting(r)]
    label_of = _variant_labels(selectors)
    for r in selectors:
        for i, (label, v) in enumerate(selector_views(r)):
            label = label.replace(r.method, label_of[id(r)], 1)
            score, source, cost = trained(v, truth[_key(r)], own=i == 0)
            selected = tuple(sorted((v.selection or {}).get("selected_tasks") or []))
            departs = setting_departures(v, truth[_key(r)]) if source == "own run" else ()
            out[_key(r)][label].append(
                {
                    "seed": r.seed,
                    "score": score,
                    "source": source,
                    "selected": selected,
                    "cost": cost,
                    "departs": departs,
                }
            )
    return out


def _mean_gain(recs: list[dict], base: dict[Any, Run], sign: float) -> tuple[float, int] | None:
    diffs = [
        sign * (rec["score"] - base[rec["seed"]].score("dev"))
        for rec in recs
        if rec["score"] is not None and rec["seed"] in base
    ]
    return (statistics.mean(diffs), len(diffs)) if diffs else None


def _gain(recs: list[dict], base: dict[Any, Run], sign: float) -> str:
    g = _mean_gain(recs, base, sign)
    return f"{g[0]:+.2f} ({g[1]})" if g else "–"


def trained_table(runs: list[Run], truth: dict[tuple, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = [
        "primary",
        "selector",
        "runs",
        "selected (most often)",
        "dev score trained",
        "gain over the primary alone",
        "gain over all tasks",
        "from",
    ]
    rows = []
    records = trained_records(runs, truth)
    for key in sorted(records, key=lambda k: tuple(map(str, k))):
        entry = truth[key]
        sign = _sign(entry["alone"].metric)
        alone, together = _by_seed(entry["alone"]), _by_seed(entry.get("together"))
        for label, recs in sorted(records[key].items()):
            scored = [rec for rec in recs if rec["score"] is not None]
            common, n = Counter(rec["selected"] for rec in recs).most_common(1)[0]
            picked = ", ".join(common) or "nothing"
            if n < len(recs):
                picked += f" ({n} of {len(recs)})"

            sources = sorted({rec["source"] for rec in scored})
            departs = sorted({d for rec in scored for d in rec["departs"]})
            if departs:
                sources = [f"{src} ({'; '.join(departs)})" if src == "own run" else src for src in sources]
            rows.append(
                [
                    str(key[2]),
                    label,
                    str(len(recs)),
                    picked,
                    f"{statistics.mean(rec['score'] for rec in scored):.2f} ({len(scored)})"
                    if scored
                    else "–",
                    _gain(scored, alone, sign),
                    _gain(scored, together, sign),
                    " + ".join(sources) if sources else "not trained (needs stage=all)",
                ]
            )
    return header, rows


def gradts_order_table(
    runs: list[Run], truth: dict[tuple, dict[str, Any]]
) -> tuple[list[str], list[list[str]]]:
    """Per GradTS Table 2 primary: the four scores on the seeds all four have, and whether the
    paper's order holds."""
    header = ["primary", "seeds", "single task", "no_sel (all tasks)", *GRADTS_ORDER, "order holds"]
    records = trained_records(runs, truth)
    rows = []
    for key in sorted(truth, key=lambda k: tuple(map(str, k))):
        if key[2] not in GRADTS_TABLE2_PRIMARIES:
            continue
        entry = truth[key]
        sign = _sign(entry["alone"].metric)
        per = {
            "single task": _scores(_by_seed(entry["alone"])),
            "no_sel": _scores(_by_seed(entry.get("together"))),
        }
        for m in GRADTS_ORDER:
            recs = _method_records(records[key], m)
            per[m] = {rec["seed"]: rec["score"] for rec in recs if rec["score"] is not None}
        missing = [m for m, by in per.items() if not by]
        seeds = sorted(set.intersection(*(set(by) for by in per.values())), key=repr) if not missing else []
        if not seeds:
            why = f"not run: {', '.join(missing)}" if missing else "no seed shared by all four"
            rows.append([str(key[2]), "–", "", "", "", "", why])
            continue
        mean = {m: statistics.mean(by[s] for s in seeds) for m, by in per.items()}
        fg, trial = (sign * mean[m] for m in GRADTS_ORDER)
        floor = max(sign * mean["single task"], sign * mean["no_sel"])
        holds = fg >= trial >= floor
        broken = (
            []
            if holds
            else [
                n for n, ok in (("fg < trial", fg >= trial), ("trial < baselines", trial >= floor)) if not ok
            ]
        )
        rows.append(
            [
                str(key[2]),
                ",".join(map(str, seeds)),
                *(f"{mean[m]:.2f}" for m in ("single task", "no_sel", *GRADTS_ORDER)),
                "yes" if holds else "no (" + "; ".join(broken) + ")",
            ]
        )
    return header, rows


def _method_records(by_label: dict[str, list[dict]], method: str) -> list[dict]:
    """A method's records under its own rule: the row named ``method``, or where its runs differ in a
    method key (``gradts_trial (trial_seeds=1)`` beside ``(trial_seeds=3)``) the variant with the most
    trained scores (then the shortest label, then by name); never a second rule's view."""
    views = ("(significant)", "(paper)", "(cosine)")
    labels = [
        lb for lb in by_label if lb == method or (lb.startswith(method + " (") and not lb.endswith(views))
    ]
    if not labels:
        return []
    scored = {lb: sum(rec["score"] is not None for rec in by_label[lb]) for lb in labels}
    return by_label[min(labels, key=lambda lb: (-scored[lb], len(lb), lb))]


def _scores(by_seed: dict[Any, Run]) -> dict[Any, float]:
    return {s: r.score("dev") for s, r in by_seed.items() if r.score("dev") is not None}


def sampling_claim_table(
    runs: list[Run],
    truth: dict[tuple, dict[str, Any]],
    ours: str = "fastmtl",
    theirs: str = "random_sampling",
) -> tuple[list[str], list[list[str]]]:
    """FastMTL's claim: ``ours`` against ``theirs`` trained, per primary on shared seeds, and over every
    (primary, seed) pair with a t-interval."""
    header = ["primary", "seeds", ours, theirs, f"{ours} − {theirs}", f"{ours} better"]
    records = trained_records(runs, truth)
    rows, diffs = [], []
    for key in sorted(records, key=lambda k: tuple(map(str, k))):
        a = {r["seed"]: r["score"] for r in _method_records(records[key], ours) if r["source"] == "own run"}
        b = {r["seed"]: r["score"] for r in _method_records(records[key], theirs) if r["source"] == "own run"}
        seeds = sorted(set(a) & set(b), key=repr)
        if not seeds:
            continue
        sign = _sign(truth[key]["alone"].metric)
        d = [sign * (a[s] - b[s]) for s in seeds]
        diffs += d
        rows.append(
            [
                str(key[2]),
                ",".join(map(str, seeds)),
                f"{statistics.mean(a[s] for s in seeds):.2f}",
                f"{statistics.mean(b[s] for s in seeds):.2f}",
                f"{statistics.mean(d):+.2f}",
                f"{sum(x > 0 for x in d)}/{len(d)}",
            ]
        )
    if len(diffs) >= 2:
        mean, (lo, hi) = statistics.mean(diffs), t_interval(diffs)
        rows.append(
            [
                "all",
                f"{len(diffs)} pairs",
                "",
                "",
                f"{mean:+.2f} [{lo:+.2f}, {hi:+.2f}]",
                f"{sum(x > 0 for x in diffs)}/{len(diffs)}",
            ]
        )
    return header, rows


def frontier_table(
    runs: list[Run], truth: dict[tuple, dict[str, Any]]
) -> tuple[list[str], list[list[str]], dict[str, list[dict[str, Any]]]]:
    """Per primary, every selector whose selection was trained at (mean cost of selecting and
    training, mean trained score), with the primary alone and all tasks beside them, and which of
    them no other beats on both (the frontier). Returns the table and the figure's panels."""
    from auxrun.reporting.report_figures import pareto_front

    records = trained_records(runs, truth)
    panels: dict[str, list[dict[str, Any]]] = {}
    for key in sorted(truth, key=lambda k: tuple(map(str, k))):
        entry = truth[key]
        sign = _sign(entry["alone"].metric)
        pts = []
        for label, cell in (("single task", entry["alone"]), ("no_sel (all tasks)", entry.get("together"))):
            done = list(_by_seed(cell).values())
            if done:
                cost = statistics.mean(r.cost() for r in done)
                pts.append(
                    {"method": label, "cost": cost, "score": statistics.mean(r.score("dev") for r in done)}
                )
        alone = _by_seed(entry["alone"])
        base = statistics.mean(r.score("dev") for r in alone.values()) if alone else None
        for label, recs in sorted(records.get(key, {}).items()):
            scored = [rec for rec in recs if rec["score"] is not None]
            if not scored:
                continue
            # the single task's mean plus the gain paired by seed: a method run on fewer seeds is not
            # compared on other seeds' luck
            gain = _mean_gain(scored, alone, sign)
            if gain is not None and base is not None:
                score = base + sign * gain[0]
            else:
                score = statistics.mean(rec["score"] for rec in scored)
            cost = statistics.mean(rec["cost"] for rec in scored)
            pts.append({"method": label, "cost": cost, "score": score})
        if len(pts) > 1:
            panels[" / ".join(map(str, key))] = [{**p, "oriented": sign * p["score"]} for p in pts]
    header = [
        "primary",
        "method",
        "examples back-propagated (select + train)",
        "dev score (paired)",
        "frontier",
    ]
    rows = []
    for title, pts in panels.items():
        front = set(pareto_front([(p["cost"], p["oriented"]) for p in pts]))
        for i, p in sorted(enumerate(pts), key=lambda ip: ip[1]["cost"]):
            cells = [title.split(" / ")[-1], p["method"], f"{p['cost']:.0f}", f"{p['score']:.2f}"]
            rows.append([*cells, "yes" if i in front else ""])
    return header, rows, panels

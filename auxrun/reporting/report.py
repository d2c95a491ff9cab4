"""``auxrun-report DIR``: the run folders under DIR (a sweep, or all of outputs/) as tables a
reviewer can check.

- Cells group runs by their whole resolved config except the seed (any other key that differs
  splits a cell): mean ± sd, n and the seeds present.
- Each method against the baselines (single_task, no_sel: ``Method.baseline``) on the same primary and settings: a paired bootstrap
  over the dev examples (difference, 95% interval, p) and, with 3+ seeds, a t-interval over seeds;
  a gain inside either interval's noise is marked so.
- Sweep points without results.json are listed, with the last error their log shows.
- ``--experiment NAME`` lays the paper's table out as printed, paper | ours (difference).
- Under an ``experiment=transfer_truth`` measurement: the truth table and its heatmap, other work's
  transfer signs beside ours (auxrun/paper_tables/*_transfer.yaml) and every selector scored against
  it (auxrun/reporting/truth.py).
- ``--against RUNS.csv``: each run beside the runs.csv an earlier report wrote (auxrun/reporting/rerun.py).
- ``--out DIR`` writes report.md (every table below and the figures), runs.csv, cells.csv and
  figures/: the score-versus-cost frontier, selection matrices, score against N, the measured
  transfer, and each run's own figures. ``--out PAGE.md`` writes the page itself at PAGE.md and the
  rest into the folder beside it named after it (docs/results/glue6.md, docs/results/glue6/), the
  page's links relative to it, as a documentation site wants.

    auxrun-report multirun/2026-11-22/10-00-00_gradts_table2 --experiment gradts_table2 --out report/
    auxrun-report multirun/transfer_truth/glue6_minilm_l6 --out docs/results/glue6.md
    auxrun-report outputs/ --format md|csv|latex
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from auxrun.methods.registry import baselines, is_baseline
from auxrun.reporting.cells import Cell, add_comparisons, make_cells
from auxrun.reporting.runs import Run, collect, missing_points, varying_keys

CONTEXT_FIRST = ["task_set.name", "backbone.name", "primary"]


# ---- rendering --------------------------------------------------------------------------------


def render(header: list[str], rows: list[list[str]], fmt: str) -> str:
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows([header, *rows])
        return buf.getvalue()
    if fmt == "latex":

        def tex(c: str) -> str:
            return (
                c.replace("_", "\\_").replace("%", "\\%").replace("±", "$\\pm$").replace("†", "$^\\dagger$")
            )

        lines = [
            "\\begin{tabular}{" + "l" * len(header) + "}",
            "\\toprule",
            " & ".join(tex(h) for h in header) + " \\\\",
            "\\midrule",
        ]
        lines += [" & ".join(tex(c) for c in r) + " \\\\" for r in rows]
        return "\n".join([*lines, "\\bottomrule", "\\end{tabular}"]) + "\n"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _short(key: str) -> str:
    return {"task_set.name": "task_set", "backbone.name": "backbone", "method.name": "method"}.get(key, key)


def _val(v: Any) -> str:
    if isinstance(v, tuple | list):
        return "[" + ",".join(map(str, v)) + "]"
    return "" if v is None else str(v)


def _context_keys(keys: list[str], cells: list[Cell]) -> list[str]:
    rest = [k for k in keys if k not in ("method.name", "primary") and not k.startswith("method.")]
    return (
        [k for k in CONTEXT_FIRST if k != "primary"]
        + ["primary"]
        + [k for k in rest if k not in CONTEXT_FIRST]
    )


def _context(cell: Cell, ctx_keys: list[str]) -> tuple[str, ...]:
    return tuple(_val(cell.group.get(k, cell.runs[0].config.get(k))) for k in ctx_keys)


def _column(cell: Cell) -> str:
    extra = [
        f"{k.removeprefix('method.')}={_val(v)}"
        for k, v in cell.group.items()
        if k.startswith("method.") and k != "method.name"
    ]
    return cell.method + (f" ({', '.join(extra)})" if extra else "")


def main_table(keys: list[str], cells: list[Cell]) -> tuple[list[str], list[list[str]]]:
    """A row per context (task set, backbone, primary and every varying non-method key), a column
    per method (and its own varying keys); cells mean ± sd (n)."""
    ctx_keys = _context_keys(keys, cells)
    columns: list[str] = []
    table: dict[tuple, dict[str, Cell]] = defaultdict(dict)
    metric: dict[tuple, str] = {}
    for c in cells:
        col = _column(c)
        if col not in columns:
            columns.append(col)
        ctx = _context(c, ctx_keys)
        table[ctx][col] = c
        metric[ctx] = c.metric or ""
    refs = baselines()
    ordered = [m for m in refs if m in columns] + [m for m in columns if m not in refs]
    header = [*(_short(k) for k in ctx_keys), "metric", *ordered]
    rows = [
        [*ctx, metric[ctx], *(table[ctx][m].fmt() if m in table[ctx] else "" for m in ordered)]
        for ctx in table
    ]
    return header, rows


def seeds_note(cells: list[Cell]) -> str:
    seed_sets = {tuple(sorted(map(str, c.seeds))) for c in cells if c.values}
    if len(seed_sets) == 1:
        return f"Seeds present in every cell: {', '.join(next(iter(seed_sets)))}."
    # One line per seed set: the methods with those seeds, each with its primaries (a primary that
    # has several cells, e.g. the truth's pairs, is counted once with its number of cells).
    by_seeds: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for c in cells:
        seeds = ", ".join(map(str, c.seeds)) or "none"
        primaries = by_seeds[seeds][_column(c)]
        primaries[str(c.primary)] = primaries.get(str(c.primary), 0) + 1
    lines = ["Seeds differ between cells:"]
    for seeds, methods in sorted(by_seeds.items(), key=lambda kv: (-len(kv[0].split(", ")), kv[0])):
        parts = []
        for column, primaries in methods.items():
            named = [p + (f" ({n} cells)" if n > 1 else "") for p, n in primaries.items()]
            parts.append(f"{column} on {', '.join(named)}")
        lines.append(f"- seeds {seeds}: {'; '.join(parts)}")
    return "\n".join(lines)


def _f(x: float | None, nd: int = 2) -> str:
    return "" if x is None else f"{x:.{nd}f}"


def comparison_table(keys: list[str], cells: list[Cell]) -> tuple[list[str], list[list[str]]]:
    ctx_keys = _context_keys(keys, cells)
    header = [
        *(_short(k) for k in ctx_keys),
        "method",
        "vs",
        "diff",
        "95% CI (bootstrap)",
        "p",
        "seeds",
        "sd over seeds",
        "95% CI (seeds)",
        "verdict",
    ]
    rows = []
    for c in cells:
        for name, comp in c.comparisons.items():
            ci = f"[{comp.ci_low:.2f}, {comp.ci_high:.2f}]" if comp.ci_low is not None else comp.note
            sci = f"[{comp.seed_ci[0]:.2f}, {comp.seed_ci[1]:.2f}]" if comp.seed_ci else ""
            rows.append(
                [
                    *_context(c, ctx_keys),
                    _column(c),
                    name,
                    f"{comp.diff:+.2f}",
                    ci,
                    _f(comp.p, 3),
                    ",".join(map(str, comp.seeds)),
                    _f(comp.seed_sd),
                    sci,
                    comp.verdict,
                ]
            )
    return header, rows


# ---- csv files ----------------------------------------------------------------------------------


def run_label(run: Run, root: Path) -> str:
    """A run's folder below the report's root, as runs.csv names it ("." for the root itself)."""
    return str(run.path.relative_to(root)) if run.path != root else "."


def selected_label(run: Run) -> str:
    """The auxiliaries a run's selection.json selected, sorted ("none": it selected nothing; "": no
    selection.json)."""
    if run.selection is None:
        return ""
    return " ".join(sorted(run.selection.get("selected_tasks") or [])) or "none"


def ranking_label(run: Run) -> str:
    """The candidates by the method's score, most useful first (ties by name); "" when it has none."""
    scores = run.task_scores()
    return " > ".join(sorted(scores, key=lambda t: (-scores[t], t)))


def runs_rows(runs: list[Run], root: Path) -> tuple[list[str], list[list[str]]]:
    vary = [k for k in varying_keys(runs) if k != "primary"]
    splits = sorted({s for r in runs if r.results for s in r.results.get("best", {})})
    header = [
        "run",
        "status",
        *vary,
        "primary",
        "method",
        "seed",
        "main_metric",
        *splits,
        "cost_select_wall_s",
        "cost_train_wall_s",
        "cost_examples_backward",
        "selected",
        "ranking",
        "reason",
    ]
    rows = []
    for r in runs:
        cost = (r.results or {}).get("cost", {})
        rows.append(
            [
                run_label(r, root),
                r.status,
                *(_val(r.config.get(k)) for k in vary),
                r.primary,
                r.method,
                _val(r.seed),
                r.main_metric or "",
                *(_f(r.score(s), 4) for s in splits),
                _f(cost.get("select", {}).get("wall_s"), 3),
                _f(cost.get("train", {}).get("wall_s"), 3),
                str(int(r.cost())) if r.results else "",
                selected_label(r),
                ranking_label(r),
                r.reason or "",
            ]
        )
    return header, rows


def cells_rows(keys: list[str], cells: list[Cell]) -> tuple[list[str], list[list[str]]]:
    header = [*keys, "metric", "mean", "sd", "n", "seeds"]
    refs = baselines()
    for b in refs:
        header += [f"{b}_diff", f"{b}_ci_low", f"{b}_ci_high", f"{b}_p", f"{b}_verdict"]
    rows = []
    for c in cells:
        row = [*(_val(c.group.get(k)) for k in keys), c.metric or "", _f(c.mean, 4), _f(c.sd, 4), str(c.n)]
        row.append(" ".join(map(str, c.seeds)))
        for b in refs:
            comp = c.comparisons.get(b)
            row += (
                [_f(comp.diff, 4), _f(comp.ci_low, 4), _f(comp.ci_high, 4), _f(comp.p, 4), comp.verdict]
                if comp
                else [""] * 5
            )
        rows.append(row)
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    from auxrun.io import write_text_atomic

    write_text_atomic(path, render(header, rows, "csv"))


# ---- cost, selections, data amount --------------------------------------------------------------


def cost_table(keys: list[str], cells: list[Cell]) -> tuple[list[str], list[list[str]], dict]:
    from auxrun.reporting.report_figures import pareto_front

    ctx_keys = _context_keys(keys, cells)
    panels: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        done = [r for r in c.runs if r.results is not None]
        if not done or c.mean is None:
            continue
        panels[" / ".join(_context(c, ctx_keys))].append(
            {
                "method": _column(c),
                "cost": statistics.mean(r.cost("examples_backward") for r in done),
                "wall": statistics.mean(r.cost("wall_s") for r in done),
                "score": c.mean,
            }
        )
    header = [
        "context",
        "method",
        "examples back-propagated",
        "wall s (select + train)",
        "dev score",
        "frontier",
    ]
    rows = []
    for ctx, pts in panels.items():
        front = set(pareto_front([(p["cost"], p["score"]) for p in pts]))
        for i, p in sorted(enumerate(pts), key=lambda ip: ip[1]["cost"]):
            rows.append(
                [
                    ctx,
                    p["method"],
                    f"{p['cost']:.0f}",
                    f"{p['wall']:.1f}",
                    f"{p['score']:.2f}",
                    "yes" if i in front else "",
                ]
            )
    return header, rows, panels


def selection_matrices(runs: list[Run], out: Path) -> list[Path]:
    from auxrun.reporting.report_figures import selection_matrix_figure

    groups: dict[tuple, list[Run]] = defaultdict(list)
    for r in runs:
        if r.selection and not is_baseline(r.method) and r.selection.get("candidates"):
            key = (r.method, _val(r.config.get("task_set.name")), _val(r.config.get("backbone.name")))
            groups[key].append(r)
    paths = []
    for (method, task_set, backbone), rs in sorted(groups.items()):
        primaries = sorted({r.primary for r in rs})
        candidates = list(dict.fromkeys(t for r in rs for t in r.selection["candidates"]))
        share = np.full((len(primaries), len(candidates)), np.nan)
        score = np.full_like(share, np.nan)
        for i, p in enumerate(primaries):
            mine = [r for r in rs if r.primary == p]
            for j, t in enumerate(candidates):
                seen = [r for r in mine if t in r.selection["candidates"]]
                if seen:
                    share[i, j] = sum(t in r.selection["selected_tasks"] for r in seen) / len(seen)
                    vals = [r.selection.get("scores", {}).get(t) for r in seen]
                    vals = [float(v) for v in vals if isinstance(v, int | float)]
                    if vals:
                        score[i, j] = float(np.mean(vals))
        name = f"selection_{method}_{task_set}_{backbone}.png"
        title = f"{method} on {task_set} ({backbone}), {len(rs)} runs"
        paths.append(selection_matrix_figure(primaries, candidates, share, score, title, out / name))
    return paths


def score_vs_n(cells: list[Cell], out: Path) -> Path | None:
    from auxrun.reporting.report_figures import score_vs_n_figure

    panels: dict[str, dict[str, Any]] = {}
    with_n = [c for c in cells if c.runs[0].config.get("method.n_samples") is not None and c.values]
    if not with_n:
        return None
    for c in with_n:
        panel = panels.setdefault(c.primary, {"curves": defaultdict(list), "flat": {}, "metric": c.metric})
        cfg = c.runs[0].config
        label = c.method + (
            f" ({cfg['method.discriminator_loss']})" if cfg.get("method.discriminator_loss") else ""
        )
        label += " w/o MTL" if cfg.get("method.td_multitask") is False else ""  # Figure 9's ablation
        panel["curves"][label].append((int(cfg["method.n_samples"]), c.mean, c.sd or 0.0))
    for c in cells:
        if is_baseline(c.method) and c.primary in panels and c.mean is not None:
            panels[c.primary]["flat"][c.method] = c.mean
    return score_vs_n_figure(panels, out / "score_vs_n.png")


def collect_run_figures(runs: list[Run], root: Path, out: Path) -> list[Path]:
    paths = []
    for r in runs:
        fig_dir = r.path / "figures"
        if not fig_dir.is_dir():
            continue
        rel = str(r.path.relative_to(root)).replace("/", "__") if r.path != root else r.path.name
        for png in sorted(fig_dir.glob("*.png")):
            dest = out / "runs" / rel / png.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, dest)
            paths.append(dest)
    return paths


# ---- the report -------------------------------------------------------------------------------


def unfinished_table(runs: list[Run], root: Path) -> tuple[list[str], list[list[str]]]:
    rows = [
        [
            run_label(r, root),
            r.method,
            r.primary,
            _val(r.seed),
            r.reason or "",
        ]
        for r in runs
        if r.results is None
    ]
    for point in missing_points(root):  # grid points with no folder at all
        sweep = Path(point.pop("sweep"))
        where = str(sweep.relative_to(root)) if sweep != root else "."
        rest = ", ".join(f"{k}={_val(v)}" for k, v in point.items() if k not in ("method", "primary", "seed"))
        reason = "never started, or lost before Hydra made its folder" + (f" ({rest})" if rest else "")
        row = [f"{where} (no folder)", *(_val(point.get(k)) for k in ("method", "primary", "seed"))]
        rows.append([*row, reason])
    return ["run", "method", "primary", "seed", "reason"], rows


def build(args) -> dict[str, Any]:
    runs = collect(args.root)
    if not runs:
        raise SystemExit(f"auxrun-report: {args.root}: no run folders below it")
    keys, cells = make_cells(runs, args.split)
    add_comparisons(cells, n_resamples=args.resamples, seed=args.bootstrap_seed)
    experiment = args.experiment
    if experiment is None:
        names = {r.experiment for r in runs}
        experiment = names.pop() if len(names) == 1 else None
    return {"runs": runs, "keys": keys, "cells": cells, "experiment": experiment}


def paper_section(experiment: str | None, cells: list[Cell], fmt: str, explicit: bool) -> str | None:
    from auxrun import paper_tables
    from auxrun.reporting.paper_layout import paper_table

    if experiment is None or experiment not in paper_tables.available():
        from auxrun.paths import CONF_DIR

        is_experiment = experiment is not None and (CONF_DIR / "experiment" / f"{experiment}.yaml").is_file()
        if explicit and not is_experiment:  # toy_planted and transfer_truth have no paper table
            raise SystemExit(
                f"auxrun-report: no paper table '{experiment}'; available: {paper_tables.available()}"
            )
        return None
    table = paper_tables.load(experiment)
    header, rows = paper_table(table, cells)
    intro = (
        f"{table.paper}, {table.table} ({table.split}); each number: paper / ours (ours - paper), ours the mean "
        f"over seeds of the matching cell. † ours on dev where the paper scored {table.split}."
    )
    note = f"\n\nNote: {table.meta['note']}" if table.meta.get("note") else ""
    return intro + note + "\n\n" + render(header, rows, fmt)


def truth_sections(runs: list[Run], cells: list[Cell], args, figs: Path, link: str) -> tuple[list[str], dict]:
    """The measured-transfer truth table with its heatmap, other work's transfer beside it, and the
    selectors scored against it, when truth runs exist; and the truth. ``link``: figs as the page
    links it."""
    from auxrun import paper_tables
    from auxrun.reporting.report_figures import transfer_heatmap_figure
    from auxrun.reporting.truth import (
        chance_of,
        heatmaps,
        learnt,
        primaries_table,
        reference_table,
        selector_table,
        selectors_not_run,
        truth_gains,
        truth_table,
        under_way,
    )

    truth = truth_gains(cells, n_resamples=args.resamples, seed=args.bootstrap_seed)
    if not truth:
        return [], {}
    planted = next((r.planted for r in runs if r.planted), {})
    md = [
        "## Measured transfer",
        "",
        "Each auxiliary's gain: primary + auxiliary against the primary alone (same settings), mean over "
        "shared seeds of the dev difference; helpful or harmful only where the intervals exclude 0. "
        "`planted`: the pool's own roles, where it has them.",
        "",
        render(*truth_table(truth, planted), "md"),
        "The same as a heatmap: colour is the gain (in the primary's metric points), each cell the gain "
        "and the span of its two 95% intervals (bootstrap and seeds); ▲ with a solid frame: helpful, "
        "▼ with a dashed frame: harmful; `all N`: the primary with every other task at once.",
        "",
    ]
    for (task_set, backbone), matrix in heatmaps(truth).items():
        fig = transfer_heatmap_figure(
            matrix,
            f"measured transfer on {task_set} ({backbone})",
            figs / f"transfer_{task_set}_{backbone}.png",
        )
        md += [f"![measured transfer, {task_set} {backbone}]({link}/{fig.name})", ""]
    for name in paper_tables.transfer_references():
        ref = paper_tables.load_transfer(name)
        rheader, rrows = reference_table(truth, ref)
        if not rrows:
            continue
        md += [
            f"## Against {ref.paper}",
            "",
            f"Their pairwise transfer where we measured the same pair ({ref.setting}; {ref.measure}; "
            f"auxrun/paper_tables/{name}.yaml) beside ours (joint training, the gain above, relative to "
            "the primary alone in brackets). Settings differ, so only the signs are compared.",
            "",
            render(rheader, rrows, "md"),
        ]
    references = [paper_tables.load_single_task(n) for n in paper_tables.single_task_references()]
    pheader, prows = primaries_table(truth, references)
    if prows:
        md += [
            "## The primaries alone",
            "",
            "How much of each primary this setting learns: the primary alone (mean ± sd over seeds; the "
            "examples an epoch trained on) against the best constant prediction on the same dev set, "
            "what a model that learnt nothing scores (the majority class for accuracy, the positive class "
            "for F1, 0 for MCC), and where other work scored the task on a backbone of the same size with "
            "full training data (auxrun/paper_tables/*_single_task.yaml), theirs against ours in their "
            "metric. A primary near its constant prediction has little for an auxiliary to add and little "
            "for a selector to find.",
            "",
            render(pheader, prows, "md"),
        ]
    sheader, srows = selector_table(runs, truth, args.resamples, args.bootstrap_seed)
    if srows:
        md += [
            "## Selectors against the measured transfer",
            "",
            "Rank correlation of each method's task scores with the measured gains, precision and recall of its "
            "selection against the helpful set, and whether it selected nothing where nothing helps; mean over "
            "runs (how many in brackets). Cost: selection + training on an empty cache (a per-task fine-tuning "
            "reused from the cache counts at what it cost), and its ratio to the whole measurement for that "
            "primary (all truth runs of one seed). `runs` says which primaries and seeds a row rests on.",
            "",
            render(sheader, srows, "md"),
        ]
        missing = selectors_not_run(runs, truth)
        if missing:
            going = under_way(runs, truth, missing)
            named = [m + (f" (not finished: {going[m]})" if m in going else "") for m in missing]
            md += ["", f"No row (not run on this pool, or not finished): {', '.join(named)}.", ""]
        learnt_keys = [k for k, t in truth.items() if learnt(t["alone"], chance_of(t["alone"]))]
        if learnt_keys and len(learnt_keys) < len(truth):
            lheader, lrows = selector_table(
                runs, {k: truth[k] for k in learnt_keys}, args.resamples, args.bootstrap_seed
            )
            named = ", ".join(str(k[2]) for k in sorted(learnt_keys, key=lambda k: tuple(map(str, k))))
            md += [
                "### On the primaries the setting learns",
                "",
                f"The same on the primaries learnt beyond chance ({named}; see The primaries alone): a "
                "primary that the setting hardly learns gives a selector little to find.",
                "",
                render(lheader, lrows, "md"),
            ]
    return md + selected_sets_sections(runs, truth), truth


def selected_sets_sections(runs: list[Run], truth: dict) -> list[str]:
    """What each selection scores trained, and the seed papers' claims read from it."""
    from auxrun.reporting.selected_sets import gradts_order_table, sampling_claim_table, trained_table

    md: list[str] = []
    header, rows = trained_table(runs, truth)
    if rows:
        md += [
            "## Selections trained",
            "",
            "The primary's dev score when trained with what each selector selected, mean over seeds (how many "
            "in brackets), and its gain over the primary alone and over all tasks at the same seeds. `own run`: "
            "the selector's run trained (stage=all); `truth run`: the measured-transfer run that trained the same "
            "pool at the same seed (nothing selected: the primary alone; one auxiliary: its pair; every candidate: "
            "all tasks). A selection of examples or weights has no truth run: it needs stage=all. An own run "
            "whose training setting differs from the truth's names the keys in brackets: its gains then include "
            "what that setting changes (more epochs, a fine-tuning stage), not only what was selected.",
            "",
            render(header, rows, "md"),
        ]
    header, rows = gradts_order_table(runs, truth)
    if rows:
        md += [
            "## GradTS Table 2's order",
            "",
            "GradTS (Ma et al. 2021, Table 2) reports GradTS-fg >= GradTS-trial >= the better of no_sel and "
            "single task. Here: mean dev score of each on the seeds all four have (the selections trained, as "
            "above).",
            "",
            render(header, rows, "md"),
        ]
    header, rows = sampling_claim_table(runs, truth)
    if rows:
        md += [
            "## FastMTL: similarity sampling against random sampling",
            "",
            "FastMTL (Kung et al. 2021) samples the auxiliary examples most like the primary's; its claim is "
            "that this beats sampling as many at random. Both trained (their own stage=all runs), paired by seed; "
            "`all`: the mean difference over every primary and seed with its 95% t-interval.",
            "",
            render(header, rows, "md"),
        ]
    return md


def provenance_lines(runs: list[Run], args) -> list[str]:
    """Who wrote this page and from what: the report's command, commit, machine and date; every
    sweep command behind the runs with its run count and wall time (auxrun/reporting/sweeps.py); the
    runs' commits and devices."""
    import datetime
    import platform
    import shlex

    from auxrun.provenance import git_commit
    from auxrun.reporting.sweeps import sweeps_table

    argv = getattr(args, "argv", None) or [str(args.root)]
    prov = [(r.results or {}).get("provenance") or {} for r in runs]
    devices = sorted({str(p.get("device")) for p in prov if p.get("device")})
    commits = sorted({str(p.get("git_commit")) for p in prov if p.get("git_commit")})
    packages = sorted(
        {", ".join(f"{k} {p[k]}" for k in ("torch", "transformers") if p.get(k)) for p in prov} - {""}
    )  # a float metric can move in the fourth decimal with another version (resume-and-caches.md)
    wall = sum(r.wall_s() for r in runs)
    lines = [
        f"Written by `{shlex.join(['auxrun-report', *argv])}` at commit {git_commit() or 'unknown'} on "
        f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs), "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.",
    ]
    sheader, srows = sweeps_table(runs, args.root)
    if srows:
        lines += ["", "The runs came from:", "", render(sheader, srows, "md").rstrip("\n")]
    lines += [
        "",
        f"Runs' commits: {', '.join(commits) or 'unknown'}; devices: {', '.join(devices) or 'unknown'}; "
        f"packages: {'; '.join(packages) or 'unknown'}; "
        f"summed wall time of their stages: {wall / 3600:.2f} h.",
    ]
    return lines


def report_paths(out: Path) -> tuple[Path, Path]:
    """(the page, the folder of its figures and tables): ``--out DIR`` gives DIR/report.md and DIR;
    ``--out PAGE.md`` gives PAGE.md and the folder beside it named after it (glue6.md, glue6/)."""
    if out.suffix == ".md":
        return out, out.with_suffix("")
    return out / "report.md", out


def write_report(data: dict[str, Any], args) -> Path:
    from auxrun.io import write_text_atomic
    from auxrun.reporting.planted import planted_table
    from auxrun.reporting.report_figures import cost_frontier_figure
    from auxrun.reporting.weight_drift import drift_table

    page, out = report_paths(args.out)
    figs = out / "figures"
    link = (out / "figures").relative_to(page.parent).as_posix()  # figures/ as the page links it
    runs, keys, cells = data["runs"], data["keys"], data["cells"]
    finished = [r for r in runs if r.results is not None]
    selected = [r for r in runs if r.selection_only]
    only = f"{len(selected)} selection only (stage=select), " if selected else ""
    md = [
        f"# auxrun report: {args.root}",
        "",
        *provenance_lines(runs, args),
        "",
        f"{len(finished)} finished runs, {only}{len(runs) - len(finished) - len(selected)} unfinished, {len(cells)} cells "
        f"(split `{args.split}`, the primary's main metric). Cells group runs whose resolved config "
        f"differs only in the seed; keys that vary here: {', '.join(f'`{k}`' for k in varying_keys(finished)) or 'none'}.",
        "",
        "## Scores",
        "",
        render(*main_table(keys, cells), "md"),
        seeds_note(cells),
        "",
    ]
    if getattr(args, "earlier", None):  # --against, read once by main()
        from auxrun.reporting.rerun import against_section

        md += against_section(runs, args.root, args.against, args.earlier)
    paper = paper_section(data["experiment"], cells, "md", args.experiment is not None)
    if paper:
        md += [f"## Against the paper ({data['experiment']})", "", paper]
    header, rows = comparison_table(keys, cells)
    md += ["## Against the baselines", ""]
    if rows:
        md += [
            f"Paired bootstrap over the {args.split} examples ({args.resamples} resamples, seed "
            f"{args.bootstrap_seed}; seeds both runs share, averaged), and with 3+ seeds a t-interval over the "
            "per-seed differences. 'inside the noise': an interval holds 0.",
            "",
            render(header, rows, "md"),
        ]
    else:
        md += [
            f"No method shares a primary, settings and seeds with a baseline ({', '.join(baselines())}).",
            "",
        ]
    planted_header, planted_rows = planted_table(runs)
    if planted_rows:
        md += [
            "## Planted score",
            "",
            "How often each method selected the planted related auxiliary, selected the noise auxiliary, and "
            "scored related above noise (a tie counts half), over primaries and seeds (chance: a random subset "
            "of the same size; 0.5 for the ranking, with the one-sided binomial p of doing this well by chance).",
            "",
            render(planted_header, planted_rows, "md"),
        ]
    drift_header, drift_rows = drift_table(runs)
    if drift_rows:
        md += [
            "## Weight drift",
            "",
            "Per epoch, how far alpha-VIL's or DIW's weights moved the related auxiliary above the noise one "
            "(mean m ± its standard error, sd s), and the epochs (1.2816 s / m)^2 after which the final weights "
            "would rank related above noise in 90% of runs (auxrun/reporting/weight_drift.py).",
            "",
            render(drift_header, drift_rows, "md"),
        ]
    truth_md, truth = truth_sections(runs, cells, args, figs, link)
    md += truth_md
    if truth:  # a transfer page: each selector's selection trained against what selecting and training cost
        from auxrun.reporting.selected_sets import frontier_table

        cheader, crows, panels = frontier_table(runs, truth)
        about = (
            "Per primary, each selector at the mean cost of selecting and training its selection (back-propagated "
            "examples on an empty cache; a selection trained by a truth run counts that run's training) and the "
            "dev score of its selection trained (the table above) as the primary alone's mean plus the gain over "
            "it paired by seed (so a method run on fewer seeds is not compared on other seeds' luck), beside the "
            "primary alone and all tasks; the frontier holds those no other beats on both."
        )
    else:
        cheader, crows, panels = cost_table(keys, cells)
        about = (
            "Cost from each run's ledger (selection + training); the frontier holds the methods no other "
            "method beats on both."
        )
    if crows:
        fig = cost_frontier_figure(
            panels, "examples back-propagated (selection + training)", figs / "cost_frontier.png"
        )
        md += [
            "## Score against cost",
            "",
            about,
            "",
            render(cheader, crows, "md"),
            f"![cost frontier]({link}/{fig.name})",
            "",
        ]
    matrices = selection_matrices(runs, figs)
    if matrices:
        md += [
            "## Selections",
            "",
            "Shading: share of seeds that selected the candidate; text: the method's score.",
            "",
        ]
        md += [f"![{p.stem}]({link}/{p.name})" for p in matrices] + [""]
    curve = score_vs_n(cells, figs)
    if curve:
        md += [
            "## Score against the number of sampled auxiliary examples",
            "",
            f"![score vs N]({link}/{curve.name})",
            "",
        ]
    uheader, urows = unfinished_table(runs, args.root)
    md += ["## Unfinished sweep points", ""]
    md += [render(uheader, urows, "md")] if urows else ["None: every run folder has results.json.", ""]
    run_figs = collect_run_figures(runs, args.root, figs) if getattr(args, "run_figures", True) else []
    if run_figs:
        md += ["## Each run's figures", ""]
        links = [(p, p.relative_to(page.parent).as_posix()) for p in run_figs]
        md += [f"- [{p.parent.name}/{p.name}]({link})" for p, link in links] + [""]
    write_csv(out / "runs.csv", *runs_rows(runs, args.root))
    write_csv(out / "cells.csv", *cells_rows(keys, cells))
    ext = {"md": "md", "csv": "csv", "latex": "tex"}[args.format]
    write_text_atomic(out / f"table.{ext}", render(*main_table(keys, cells), args.format))
    if paper:
        table_fmt = paper_section(data["experiment"], cells, args.format, False)
        write_text_atomic(
            out / f"paper_table.{ext}", table_fmt.split("\n\n")[-1] if args.format != "md" else table_fmt
        )
    write_text_atomic(page, "\n".join(md) + "\n")
    return page


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="auxrun-report", description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("root", type=Path, help="a folder holding run folders (multirun/..., outputs/)")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--format", choices=["md", "csv", "latex"], default="md")
    ap.add_argument("--experiment", help="lay out this paper table (auxrun/paper_tables/NAME.yaml)")
    ap.add_argument(
        "--out",
        type=Path,
        help="a folder: write report.md, runs.csv, cells.csv and figures/ there; a PAGE.md: write the "
        "page there and the rest into the folder PAGE/ beside it",
    )
    ap.add_argument(
        "--no-run-figures",
        dest="run_figures",
        action="store_false",
        help="do not copy each run's own figures beside the report (a results page kept in git)",
    )
    ap.add_argument(
        "--against",
        type=Path,
        metavar="RUNS.csv",
        help="compare each run's scores with the runs.csv an earlier report wrote (a rerun of a results page)",
    )
    ap.add_argument("--resamples", type=int, default=1000, help="paired-bootstrap resamples")
    ap.add_argument("--bootstrap-seed", type=int, default=0)
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not args.root.is_dir():
        ap.error(f"{args.root}: no such folder")
    args.earlier = None
    if args.against is not None:
        from auxrun.reporting.rerun import AgainstError, read_runs_csv

        try:
            args.earlier = read_runs_csv(args.against)
        except AgainstError as e:
            ap.error(f"--against {e}")
    data = build(args)
    if args.out:
        path = write_report(data, args)
        print(
            f"auxrun-report: wrote {path}, and runs.csv, cells.csv and figures/ in {report_paths(args.out)[1]}"
        )
        return
    sys.stdout.write(render(*main_table(data["keys"], data["cells"]), args.format))
    paper = paper_section(data["experiment"], data["cells"], args.format, args.experiment is not None)
    if paper:
        sys.stdout.write("\n" + (paper if args.format == "md" else paper.split("\n\n")[-1]))
    if args.earlier is not None:
        from auxrun.reporting.rerun import against_section

        section = against_section(data["runs"], args.root, args.against, args.earlier)
        sys.stdout.write("\n" + "\n".join(section))
    uheader, urows = unfinished_table(data["runs"], args.root)
    if urows:
        sys.stdout.write("\nUnfinished sweep points:\n" + render(uheader, urows, args.format))


if __name__ == "__main__":
    main()

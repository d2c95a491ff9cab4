"""The report's own figures: the score-versus-cost frontier, the selection matrix (GradTS Figures
1-2), score against the number of sampled auxiliary examples (FastMTL Figures 3-5) and the measured
transfer as a primary x auxiliary heatmap. PNGs through matplotlib's Agg backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from auxrun.io import save_figure_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both cost (lower) and score (higher)."""
    front = []
    for i, (c, s) in enumerate(points):
        dominated = any(
            (c2 <= c and s2 >= s) and (c2 < c or s2 > s) for j, (c2, s2) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return front


def cost_frontier_figure(panels: dict[str, list[dict[str, Any]]], xlabel: str, path: Path) -> Path:
    """One panel per primary: each method at (mean cost, mean score), the frontier joined."""
    plt = _pyplot()
    n = len(panels)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.8 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, (title, pts) in zip(axes.flat, panels.items()):
        xs = [max(p["cost"], 1e-9) for p in pts]
        ys = [p["score"] for p in pts]
        ax.scatter(xs, ys, color="tab:blue")
        for p, x, y in zip(pts, xs, ys):
            ax.annotate(p["method"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        oriented = [p.get("oriented", p["score"]) for p in pts]  # higher is better
        front = sorted(pareto_front(list(zip(xs, oriented))), key=lambda i: xs[i])
        ax.plot([xs[i] for i in front], [ys[i] for i in front], color="tab:red", lw=1, ls="--")
        if min(xs) > 0 and max(xs) / min(xs) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("primary dev score")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure_atomic(fig, path)


def selection_matrix_figure(
    primaries: list[str], candidates: list[str], share: np.ndarray, score: np.ndarray, title: str, path: Path
) -> Path:
    """Primary x candidate: shading is how often (over seeds) the candidate was selected; the text is
    the method's mean score for it (blank where the method gives none)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.2 + 0.75 * len(candidates), 1.0 + 0.5 * len(primaries)))
    im = ax.imshow(share, cmap="Greens", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(candidates)), candidates, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(primaries)), primaries, fontsize=8)
    for i in range(len(primaries)):
        for j in range(len(candidates)):
            if not np.isnan(score[i, j]):
                dark = not np.isnan(share[i, j]) and share[i, j] > 0.6
                ax.text(
                    j,
                    i,
                    f"{score[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
            elif np.isnan(share[i, j]):
                ax.text(j, i, "-", ha="center", va="center", fontsize=7, color="grey")
    ax.set_xlabel("candidate auxiliary")
    ax.set_ylabel("primary")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="selected (share of seeds)")
    return save_figure_atomic(fig, path)


def score_vs_n_figure(panels: dict[str, dict[str, Any]], path: Path) -> Path:
    """One panel per primary: a line per sampler over N (mean ± sd over seeds), the baselines that
    take no N as horizontal lines."""
    plt = _pyplot()
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.6), squeeze=False)
    for ax, (primary, panel) in zip(axes[0], panels.items()):
        for label, pts in panel["curves"].items():
            pts = sorted(pts)
            xs = [p[0] for p in pts]
            ax.errorbar(
                xs, [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", ms=3, capsize=2, label=label
            )
        for label, y in panel["flat"].items():
            ax.axhline(y, ls=":", lw=1, color="grey")
            ax.annotate(label, (0.01, y), xycoords=("axes fraction", "data"), fontsize=7, color="grey")
        ax.set_xscale("log")
        ax.set_xlabel("N sampled auxiliary examples")
        ax.set_ylabel(f"{primary} dev {panel['metric']}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure_atomic(fig, path)


MARKS = {"helpful": "\u25b2", "harmful": "\u25bc"}  # the label's mark after the gain: up, down triangles


def transfer_heatmap_figure(matrix: dict[str, Any], title: str, path: Path) -> Path:
    """Primary x auxiliary (and ``all N``): colour is the gain over the primary alone (one diverging
    scale, centred on 0, in the primaries' own metric points), each cell its gain and the span of its
    95% intervals; helpful cells framed solid and marked with an up triangle, harmful ones framed
    dashed with a down triangle; grey where the pair was not measured (the primary's own column)."""
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    rows, columns, gain = matrix["rows"], matrix["columns"], matrix["gain"]
    low, high, label = matrix["low"], matrix["high"], matrix["label"]
    fig, ax = plt.subplots(figsize=(2.2 + 1.15 * len(columns), 1.4 + 0.7 * len(rows)))
    bound = float(np.nanmax(np.abs(gain))) if np.isfinite(gain).any() else 1.0
    bound = bound or 1.0
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#e8e8e8")
    im = ax.imshow(np.ma.masked_invalid(gain), cmap=cmap, vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.set_yticks(
        range(len(rows)), [f"{r} ({m})" if m else r for r, m in zip(rows, matrix["metrics"])], fontsize=8
    )
    for i in range(len(rows)):
        for j in range(len(columns)):
            g = gain[i, j]
            if np.isnan(g):
                ax.text(j, i, "-", ha="center", va="center", fontsize=8, color="grey")
                continue
            text = f"{g:+.2f}{MARKS.get(label[i][j], '')}"
            if not np.isnan(low[i, j]):
                text += f"\n[{low[i, j]:.1f}, {high[i, j]:.1f}]"
            dark = abs(g) > 0.6 * bound
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
            if label[i][j] in MARKS:
                ax.add_patch(
                    Rectangle(
                        (j - 0.47, i - 0.45),
                        0.94,
                        0.9,
                        fill=False,
                        lw=1.8,
                        edgecolor="black",
                        ls="-" if label[i][j] == "helpful" else "--",
                    )
                )
    if columns and columns[-1].startswith("all"):
        ax.axvline(len(columns) - 1.5, color="black", lw=1)
    ax.set_xlabel("auxiliary trained with the primary")
    ax.set_ylabel("primary (metric)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="gain over the primary alone (points)")
    fig.tight_layout()
    return save_figure_atomic(fig, path)

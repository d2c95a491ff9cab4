"""AUTOSEM figures: the bandit arms' posterior densities (the paper's Figure 3, section 6.3) and the
GP mixing-ratio search's best-so-far curve. PNGs under ``run_dir/figures/``; matplotlib's Agg
backend, so no display is needed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import beta as beta_dist  # noqa: E402

from auxrun.io import save_figure_atomic  # noqa: E402


def plot_arm_posteriors(beta_params: dict[str, list[float]], primary: str, path: Path) -> Path:
    """One Beta(alpha, beta) density per arm, with its 90% credible interval as a bar below the
    curves (Figure 3: "each curve corresponds to a task and the bar corresponds to their confidence
    interval"); the primary's curve is drawn thicker."""
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = np.linspace(0.001, 0.999, 400)
    peak = 0.0
    curves = []
    for task, (a, b) in beta_params.items():
        ys = beta_dist.pdf(xs, a, b)
        peak = max(peak, float(np.nanmax(ys)))
        curves.append((task, a, b, ys))
    for i, (task, a, b, ys) in enumerate(curves):
        mean = a / (a + b)
        (line,) = ax.plot(
            xs,
            ys,
            lw=2.5 if task == primary else 1.4,
            label=f"{task}{' (primary)' if task == primary else ''}: {mean:.2f}",
        )
        lo, hi = beta_dist.ppf([0.05, 0.95], a, b)
        y = -(i + 1) * peak * 0.04
        ax.plot([lo, hi], [y, y], color=line.get_color(), lw=3, solid_capstyle="butt")
        ax.plot([mean], [y], "o", color=line.get_color(), ms=3)
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_yticks([t for t in ax.get_yticks() if 0 <= t <= peak * 1.05])  # the bars sit below 0
    ax.set_xlabel("task utility θ (reward: primary's select_dev score did not drop)")
    ax.set_ylabel("posterior density")
    ax.set_title(f"AUTOSEM stage 1: arm posteriors, primary {primary}")
    ax.legend(fontsize=8, title="task: E[θ]", title_fontsize=8)
    return save_figure_atomic(fig, path)


def plot_gp_best_so_far(
    scores: list[float], path: Path, lower_is_better: bool = False, metric: str = ""
) -> Path:
    """Each GP evaluation's select_dev score and the best so far (section 3.4's sequential search)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    xs = np.arange(1, len(scores) + 1)
    best = np.minimum.accumulate(scores) if lower_is_better else np.maximum.accumulate(scores)
    ax.plot(xs, scores, "o", color="tab:grey", ms=4, label="evaluation")
    ax.step(xs, best, where="post", color="tab:blue", lw=2, label="best so far")
    ax.set_xlabel("GP evaluation (one full MTL training each)")
    ax.set_ylabel(f"primary select_dev {metric}".strip())
    ax.set_title("AUTOSEM stage 2: mixing-ratio search")
    ax.legend(fontsize=8)
    return save_figure_atomic(fig, path)

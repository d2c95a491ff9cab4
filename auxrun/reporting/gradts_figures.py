"""GradTS figures: a task's head-importance heatmap (paper Figure 3) and the pool's Kendall-tau
task-correlation matrix (Figure 4), as PNGs under ``<run_dir>/figures/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from auxrun.io import save_figure_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    return plt


def head_importance_heatmap(matrix: np.ndarray, task: str, path: Path) -> Path:
    """Layers as rows, heads as columns, darker = more important (as the paper's Figure 3)."""
    plt = _pyplot()
    layers, heads = matrix.shape
    fig, ax = plt.subplots(figsize=(max(3.0, 0.45 * heads + 1.5), max(2.0, 0.35 * layers + 1.0)))
    im = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(heads), [str(h + 1) for h in range(heads)])
    ax.set_yticks(range(layers), [str(layer + 1) for layer in range(layers)])
    ax.set_title(f"head importance: {task}")
    fig.colorbar(im, ax=ax)
    try:
        return save_figure_atomic(fig, path)
    finally:
        plt.close(fig)


def task_correlation_figure(names: list[str], taus: np.ndarray, path: Path) -> Path:
    """Kendall's tau between every pair of tasks' head-importance matrices."""
    plt = _pyplot()
    n = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * n, 0.8 + 0.6 * n))
    im = ax.imshow(taus, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    for a in range(n):
        for b in range(n):
            ax.text(b, a, f"{taus[a, b]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title("Kendall's tau between tasks")
    fig.colorbar(im, ax=ax)
    try:
        return save_figure_atomic(fig, path)
    finally:
        plt.close(fig)


def write_gradts_figures(
    run_dir: Path, matrices: dict[str, np.ndarray], names: list[str], taus: np.ndarray
) -> list[str]:
    """Every task's heatmap and the correlation matrix; the paths, relative to ``run_dir``."""
    out = run_dir / "figures"
    paths = [head_importance_heatmap(m, t, out / f"head_importance_{t}.png") for t, m in matrices.items()]
    paths.append(task_correlation_figure(names, taus, out / "task_correlation.png"))
    return [str(p.relative_to(run_dir)) for p in paths]

"""Per-epoch decisions of a dynamic method, drawn generically: every ``<name>_history`` entry of a
controller's results that is a list of ``{task: value}`` dicts becomes ``figures/<name>.png``, one
line per task over the epochs (alpha-VIL's Figure 3: the alphas and the normalised task weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from auxrun.io import save_figure_atomic  # noqa: E402


def per_task_histories(results: dict[str, Any]) -> dict[str, list[dict[str, float]]]:
    """The entries of ``results`` that are per-epoch {task: number} records."""
    out = {}
    for key, value in results.items():
        if not key.endswith("_history") or not isinstance(value, list) or not value:
            continue
        if all(isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()) for v in value):
            out[key[: -len("_history")]] = value
    return out


def plot_histories(results: dict[str, Any], out_dir: Path) -> list[Path]:
    paths = []
    for name, history in per_task_histories(results).items():
        tasks: list[str] = []
        for rec in history:
            tasks += [t for t in rec if t not in tasks]
        epochs = list(range(1, len(history) + 1))
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for t in tasks:
            ax.plot(epochs, [rec.get(t, float("nan")) for rec in history], marker="o", ms=3, label=t)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name.replace("_", " "))
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
        paths.append(save_figure_atomic(fig, Path(out_dir) / f"{name}.png"))
    return paths

"""FastMTL's Figure 6: each auxiliary task's share of the sampled examples, against the share random
sampling takes in expectation (its dotted lines), as ``<run_dir>/figures/<method>_sample_share.png``."""

from __future__ import annotations

from pathlib import Path

from auxrun.io import save_figure_atomic


def write_share_figure(
    run_dir: Path, method: str, share: dict[str, float], expected: dict[str, float]
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(share)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(tasks) + 1.5), 3.2))
    x = range(len(tasks))
    ax.bar(x, [100 * share[t] for t in tasks], color="tab:blue", label=method)
    ax.scatter(
        x, [100 * expected[t] for t in tasks], marker="_", s=400, color="black", label="random (expected)"
    )
    ax.set_xticks(list(x), tasks, rotation=30, ha="right")
    ax.set_ylabel("% of sampled examples")
    ax.legend(frameon=False)
    rel = f"figures/{method}_sample_share.png"
    save_figure_atomic(fig, Path(run_dir) / rel)
    return rel

"""Weight drift: how fast alpha-VIL's and DIW's weights separate a planted related task from the
noise task (the report's "Weight drift" section, on runs of a pool with planted roles).

Both methods move each task's weight a little every epoch, and the planted score reads the final
weights: related is recovered when its weight ends above the noise task's. That final difference is
the sum of one increment per epoch:

- avil: w_i <- w_i + alpha_i - 1 (Algorithm 1, line 11), so the increment of w_rel - w_noise in an
  epoch is exactly alpha_rel - alpha_noise (results.json ``alpha_history``; the 1e-6 clamp aside);
- diw: the increment is the change of the normalised weight difference between epochs
  (``task_weight_history``; before the first epoch every weight is equal). DIW's driver, the
  primary's score after one unweighted pass of a task alone (``single_task_score_history``), is
  shown too: s_rel - s_noise per epoch. For avil the primary's own alpha - 1 is shown: below 0,
  alpha-VIL scales the primary's own update back.

Treating the increments as draws with mean m and standard deviation s, the difference after N
epochs is above 0 with probability Phi(sqrt(N) m / s), so recovering the related task in 90% of runs
takes N >= (1.2816 s / m)^2 epochs, and no number of epochs when m <= 0. The table gives m, its
standard error and that N per method and primary, at the mean and at the mean's upper 95% bound
(the most favourable reading of the data).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from auxrun.reporting.runs import Run

Z90 = 1.2816  # Phi^-1(0.9)


def increments(results: dict[str, Any], related: str, noise: str) -> tuple[list[float], list[float]]:
    """Per-epoch increments of (related - noise) weight, and the per-epoch diagnostic: the
    primary's own alpha - 1 for avil (below 0: its own update is scaled back), s_rel - s_noise for
    DIW."""
    if "alpha_history" in results:
        hist, own = results["alpha_history"], results["primary"]
        return [e[related] - e[noise] for e in hist], [e[own] - 1.0 for e in hist if own in e]
    hist = results["task_weight_history"]
    diffs = [0.0] + [e[related] - e[noise] for e in hist]
    solo = [e[related] - e[noise] for e in results.get("single_task_score_history", [])]
    return [b - a for a, b in zip(diffs, diffs[1:])], solo


def epochs_needed(mean: float, sd: float) -> float:
    """Epochs for the summed drift to be above 0 in 90% of runs; inf when it drifts the wrong way."""
    return math.inf if mean <= 0 else (Z90 * sd / mean) ** 2


def fmt_epochs(n: float) -> str:
    if math.isnan(n):
        return ""
    return "never (drift <= 0)" if math.isinf(n) else f"{math.ceil(n)}"


def drift_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """A row per (method, primary) over the finished runs with a weight history and planted roles
    (the first related and the first noise auxiliary of the primary)."""
    incs: dict[tuple[str, str], list[float]] = {}
    diags: dict[tuple[str, str], list[float]] = {}
    for r in runs:
        res = r.results or {}
        roles = (r.planted or {}).get(r.primary)
        if not roles or not ("alpha_history" in res or "task_weight_history" in res):
            continue
        inc, diag = increments({**res, "primary": r.primary}, roles["related"][0], roles["noise"][0])
        incs.setdefault((r.method, r.primary), []).extend(inc)
        diags.setdefault((r.method, r.primary), []).extend(diag)
    header = [
        "method",
        "primary",
        "epochs",
        "drift m ± se",
        "sd s",
        "epochs for 90%",
        "at m's upper 95% bound",
        "avil: primary's own alpha - 1; diw: solo score rel - noise",
    ]
    rows = []
    for (method, primary), xs in sorted(incs.items()):
        m = statistics.mean(xs)
        sd = statistics.stdev(xs) if len(xs) > 1 else math.nan
        se = sd / math.sqrt(len(xs))
        diag = diags[(method, primary)]
        digits = 3 if method == "avil" else 1
        below = sum(x < 0 for x in diag)
        rows.append(
            [
                method,
                primary,
                str(len(xs)),
                f"{m:+.4f} ± {se:.4f}",
                f"{sd:.4f}",
                fmt_epochs(epochs_needed(m, sd)),
                fmt_epochs(epochs_needed(m + 1.96 * se, sd)),
                f"{statistics.mean(diag):+.{digits}f} (below 0 in {below}/{len(diag)} epochs)"
                if diag
                else "",
            ]
        )
    return header, rows

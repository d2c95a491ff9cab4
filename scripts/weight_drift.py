"""How fast do alpha-VIL's and DIW's weights separate a planted related task from the noise task?

Both methods move each task's weight a little every epoch, and the planted check reads the final
weights: related is recovered when its weight ends above the noise task's. That final difference is
the sum of one increment per epoch:

- avil: w_i <- w_i + alpha_i - 1 (Algorithm 1, line 11), so the increment of w_rel - w_noise in an
  epoch is exactly alpha_rel - alpha_noise (``alpha_history``; the 1e-6 clamp aside);
- diw: the increment is the change of the normalised weight difference between epochs
  (``task_weight_history``; before the first epoch every weight is equal). DIW's driver, the
  primary's score after one unweighted pass of a task alone (``single_task_score_history``), is
  shown too: s_rel - s_noise per epoch. For avil the primary's own alpha - 1 is shown: below 0,
  alpha-VIL scales the primary's own update back.

Treating the increments as draws with mean m and standard deviation s, the difference after N
epochs is above 0 with probability Phi(sqrt(N) m / s), so recovering the related task in 90% of runs
takes N >= (1.2816 s / m)^2 epochs, and no number of epochs when m <= 0. The script prints m, its
standard error and that N per primary, at the mean and at the mean's upper 95% bound (the most
favourable reading of the data). A measurement for the README's planted check, not a method.

    python scripts/weight_drift.py /tmp/pc_avil /tmp/pc_avil10     # planted_check.py --out folders
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
Z90 = 1.2816  # Phi^-1(0.9)


def increments(results: dict, related: str, noise: str) -> tuple[list[float], list[float]]:
    """Per-epoch increments of (related - noise) weight, and the per-epoch diagnostic: the
    primary's own alpha - 1 for avil (below 0: its own update is scaled back), s_rel - s_noise for
    DIW."""
    if results["method"] == "avil":
        hist, own = results["alpha_history"], results["primary"]
        return [e[related] - e[noise] for e in hist], [e[own] - 1.0 for e in hist if own in e]
    hist = results["task_weight_history"]
    diffs = [0.0] + [e[related] - e[noise] for e in hist]
    solo = [e[related] - e[noise] for e in results.get("single_task_score_history", [])]
    return [b - a for a, b in zip(diffs, diffs[1:])], solo


def epochs_needed(mean: float, sd: float) -> float:
    return math.inf if mean <= 0 else (Z90 * sd / mean) ** 2


def fmt_epochs(n: float) -> str:
    return "never (drift <= 0)" if math.isinf(n) else f"{math.ceil(n)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", help="planted_check.py --out folders (avil or diw runs)")
    ap.add_argument("--task-set", default="toy_planted")
    args = ap.parse_args()
    planted = OmegaConf.load(REPO / "auxrun" / "conf" / "task_set" / f"{args.task_set}.yaml").planted
    by_primary: dict[tuple[str, str], list[float]] = {}
    diag_by: dict[tuple[str, str], list[float]] = {}
    runs = 0
    for folder in args.folders:
        for path in sorted(Path(folder).glob("runs/*/results.json")):
            res = json.loads(path.read_text())
            if res.get("method") not in ("avil", "diw") or res.get("primary") not in planted:
                continue
            roles = planted[res["primary"]]
            inc, diag = increments(res, roles.related[0], roles.noise[0])
            key = (res["method"], res["primary"])
            by_primary.setdefault(key, []).extend(inc)
            diag_by.setdefault(key, []).extend(diag)
            runs += 1
            print(
                f"{res['method']} {res['primary']} seed {res['seed']}: related - noise per epoch "
                + " ".join(f"{x:+.3f}" for x in inc)
                + (f" | diagnostic {statistics.mean(diag):+.3f}" if diag else "")
            )
    if not runs:
        sys.exit(f"no avil or diw results.json under runs/ in {args.folders}")
    print(
        "\n| method | primary | epochs | drift m +- se | sd s | epochs for 90% | at m's upper 95% bound "
        "| avil: primary's own alpha - 1; diw: solo score rel - noise |"
    )
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for (method, primary), xs in sorted(by_primary.items()):
        m = statistics.mean(xs)
        sd = statistics.stdev(xs) if len(xs) > 1 else math.nan
        se = sd / math.sqrt(len(xs))
        n, n_hi = epochs_needed(m, sd), epochs_needed(m + 1.96 * se, sd)
        worst = max(worst, n_hi)
        diag = diag_by[(method, primary)]
        below = sum(x < 0 for x in diag)
        digits = 3 if method == "avil" else 1
        diag_cell = (
            f"{statistics.mean(diag):+.{digits}f} (below 0 in {below}/{len(diag)} epochs)" if diag else ""
        )
        print(
            f"| {method} | {primary} | {len(xs)} | {m:+.4f} +- {se:.4f} | {sd:.4f} | {fmt_epochs(n)} "
            f"| {fmt_epochs(n_hi)} | {diag_cell} |"
        )
    print(f"epochs for 90% recovery on every primary, most favourable reading: {fmt_epochs(worst)}")


if __name__ == "__main__":
    main()

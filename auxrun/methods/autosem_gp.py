"""AUTOSEM stage 2: a Gaussian-process search over the MTL mixing ratio (Guo, Pasunuru and Bansal
2019, "AutoSeM", section 3.4), with scikit-optimize as in the paper (section 4: "the Gaussian
Process implementation is based on Scikit-Optimize ... we adopt most of the default
configurations").

- The search space is the ratio eta_1:...:eta_N of section 3.2 over the primary and the stage-1
  tasks: integers, the primary's in [1, max_ratio] (the schedule needs at least one primary batch
  per cycle) and each auxiliary's in [0, max_ratio], a zero dropping the task (footnote 2 and the
  reported 20:0:5, 13:5:0:0).
- ``gp_minimize`` with its default estimator, a GP with an ARD Matern kernel (nu = 5/2, one
  length scale per task), and ``acq_func="gp_hedge"`` (GP-Hedge over PI, EI and LCB; Hoffman et al.
  2011), starting from ``n_initial_points`` random ratios (the paper's "random initial
  observations"; their number is not given, so skopt's default 10 is kept).
- gp_minimize minimises, so the callback's score is negated (unless lower is better).

Resuming. Warm-starting gp_minimize with x0/y0 does NOT reproduce an uninterrupted search:
skopt's random generator has advanced by then for the initial points, the GP's restarts and the
acquisition optimiser, so the warm-started run proposes different ratios (checked in
tests/test_autosem.py). Instead a resumed search REPLAYS the saved observations: gp_minimize runs
again with the same random_state and the same settings, and for the first n proposals the score
callback answers from the saved observations (checking that the proposal is the saved ratio)
instead of training. Replaying costs n GP fits, seconds, and gives the identical sequence.

Departure (efficiency, not method): auxrun's training is deterministic for a seed, so a ratio the GP
proposes a second time gets the score it got the first time without training again; the
observation is recorded with ``repeat: true`` and still counts as one of the n_calls.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from auxrun.errors import AuxrunError

log = logging.getLogger("auxrun")


@dataclass
class GPObservation:
    """One evaluation of the GP search: the ratio tried and the primary's select_dev score."""

    ratios: dict[str, int]
    score: float
    repeat: bool = False  # same ratio as an earlier evaluation: its score, without training again

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GPSearchResult:
    best_ratios: dict[str, int]
    best_score: float
    observations: list[GPObservation] = field(default_factory=list)


def ratio_dimensions(primary: str, auxiliaries: list[str], max_ratio: int):
    """The search space: the primary's ratio in [1, max_ratio], each auxiliary's in [0, max_ratio]."""
    from skopt.space import Integer

    return [Integer(1, max_ratio, name=primary)] + [Integer(0, max_ratio, name=t) for t in auxiliaries]


def search_mixing_ratio(
    primary: str,
    auxiliaries: list[str],
    score: Callable[[dict[str, int]], float],
    n_calls: int = 20,
    n_initial_points: int = 10,
    max_ratio: int = 20,
    random_state: int = 0,
    acq_func: str = "gp_hedge",
    lower_is_better: bool = False,
    observations: list[GPObservation] | None = None,
    on_observation: Callable[[list[GPObservation]], None] | None = None,
    **gp_options: Any,
) -> GPSearchResult:
    """Search the mixing ratio of ``primary`` and ``auxiliaries`` with a GP (section 3.4).

    ``score(ratios)`` trains and scores one ratio (higher is better unless ``lower_is_better``).
    ``observations`` are those of an interrupted search with the same arguments: they are replayed,
    not re-evaluated. ``on_observation(all_so_far)`` is called after each new evaluation (to save).
    ``gp_options`` go to gp_minimize unchanged (tests use a cheaper acquisition optimiser).
    """
    from skopt import gp_minimize

    tasks = [primary, *auxiliaries]
    saved = list(observations or [])
    done: list[GPObservation] = []
    sign = 1.0 if lower_is_better else -1.0

    def objective(x: list[Any]) -> float:
        ratios = {t: int(v) for t, v in zip(tasks, x)}
        i = len(done)
        if i < len(saved):  # replay an interrupted search: the same proposal, the saved score
            if saved[i].ratios != ratios:
                raise AuxrunError(
                    f"resume: GP evaluation {i + 1} proposes {ratios} but the saved search tried "
                    f"{saved[i].ratios}; the settings changed since it was saved (delete the saved "
                    "observations to start the search again)"
                )
            done.append(saved[i])
            return sign * saved[i].score
        earlier = next((o for o in done if o.ratios == ratios), None)
        if earlier is not None:
            obs = GPObservation(ratios=ratios, score=earlier.score, repeat=True)
        else:
            obs = GPObservation(ratios=ratios, score=float(score(ratios)))
        done.append(obs)
        log.info(
            "autosem GP evaluation %d: ratios %s -> select_dev %.2f%s",
            len(done),
            ratios,
            obs.score,
            " (repeat)" if obs.repeat else "",
        )
        if on_observation is not None:
            on_observation(list(done))
        return sign * obs.score

    with warnings.catch_warnings():
        # skopt warns when a proposal repeats an evaluated point; repeats are handled above.
        warnings.filterwarnings("ignore", message="The objective has been evaluated at")
        gp_minimize(
            objective,
            ratio_dimensions(primary, auxiliaries, max_ratio),
            n_calls=n_calls,
            n_initial_points=n_initial_points,
            acq_func=acq_func,
            random_state=random_state,
            **gp_options,
        )
    best = (min if lower_is_better else max)(done, key=lambda o: o.score)  # first best on ties
    return GPSearchResult(best_ratios=dict(best.ratios), best_score=best.score, observations=done)

"""AUTOSEM, both stages (``autosem``): the bandit's task selection, then a Gaussian-process search of
the mixing ratio, then MTL with the best ratio (Guo, Pasunuru and Bansal 2019, "AutoSeM: Automatic
Task Selection and Mixing in Multi-Task Learning", NAACL; sections 3.3, 3.4 and 4).

Stage 1 is ``autosem_p1``'s bandit (auxrun/methods/autosem_p1.py). Stage 2
(auxrun/methods/autosem_gp.py) searches integer ratios eta over the primary and the stage-1 tasks,
the primary's in [1, max_ratio] and each auxiliary's in [0, max_ratio] (zero drops the task, as the
GP dropped WNLI in section 5.2), with scikit-optimize's ``gp_minimize`` (ARD Matern 5/2 kernel,
GP-Hedge acquisition). Each evaluation is a full MTL training on the ratio, scored by the
primary's best main metric on ``select_dev`` (``RunContext.trial_score``). The final model trains
with the best ratio under AUTOSEM's ratio schedule (auxrun/training/schedule.py: eta_i mini-batches
of task i in turn, section 3.2).

Departures from the paper, and choices where it is silent (besides those of stage 1):
- Evaluations are scored on ``select_dev``, not on the reported dev set.
- Ratio bounds: not stated; max_ratio = 20, the largest eta among the ratios the paper reports
  (20:0:5 for QNLI, 20:5:0 for CoLA).
- Random initial observations: their number is not stated ("we adopt most of the default
  configurations"): skopt's default, 10.
- If stage 1 keeps no auxiliary, there is no ratio to search: the primary trains alone (ratio 1).
- A ratio the GP proposes again is not retrained (auxrun's training is deterministic for a seed);
  the repeat is recorded and counts as an evaluation.
- Resumable: each observation is saved to ``run_dir/autosem/gp.json``; a resumed search replays the
  saved observations through gp_minimize with the same random_state (see autosem_gp.py for why x0/y0
  warm-starting would not reproduce the search).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from auxrun.errors import ConfigError
from auxrun.eval.metrics import LOWER_IS_BETTER
from auxrun.io import read_json, read_or_set_aside, write_json_atomic
from auxrun.methods.autosem_gp import GPObservation, search_mixing_ratio
from auxrun.methods.autosem_p1 import (
    AutosemP1,
    AutosemP1Config,
    stage1_extra,
    validate_autosem_p1,
)
from auxrun.methods.greedy import select_dev_warning
from auxrun.methods.registry import register
from auxrun.selection import Selection

log = logging.getLogger("auxrun")

ACQ_FUNCS = ("gp_hedge", "EI", "PI", "LCB")


@dataclass
class AutosemConfig(AutosemP1Config):
    name: str = "autosem"
    n_calls: int = 20  # section 4: 15 (MRPC) or 20 (the rest) GP samples
    n_initial_points: int = 10  # random initial observations; the paper: skopt's defaults
    max_ratio: int = 20  # largest eta the paper reports (20:0:5, 20:5:0)
    acq_func: str = "gp_hedge"  # section 3.4: GP-Hedge
    gp_epochs: int | None = None  # epochs of each evaluation; None: train.epochs (a full training)
    gp_random_state: int | None = None  # None: the run's seed


def save_gp_observations(path, state: dict[str, Any]) -> None:
    """One atomic JSON per observation (a module function, so tests can interrupt right after it)."""
    write_json_atomic(path, state)


@register("autosem", AutosemConfig)
class Autosem(AutosemP1):
    @classmethod
    def validate_config(cls, cfg, specs) -> None:
        from auxrun.validate import _range

        m = cfg.method
        validate_autosem_p1(m)
        _range("method.n_calls", m.n_calls, 1)
        _range("method.n_initial_points", m.n_initial_points, 1, m.n_calls)
        _range("method.max_ratio", m.max_ratio, 1)
        _range("method.gp_epochs", m.gp_epochs, 1)
        if m.acq_func not in ACQ_FUNCS:
            raise ConfigError(f"method.acq_func='{m.acq_func}' is not one of {list(ACQ_FUNCS)}")

    def select(self) -> Selection:
        ctx, cfg = self.ctx, self.cfg
        primary = ctx.pool.primary
        out, stage1 = self.bandit_stage()
        extra = stage1_extra(out, stage1)
        aux_utilities = {t: u for t, u in out.utilities.items() if t != primary}
        if not stage1:
            extra.update(gp_observations=[])
            return self.selection([], ratios={primary: 1}, scores=aux_utilities, extra=extra)

        metric = ctx.pool.specs[primary].main_metric
        lower = metric in LOWER_IS_BETTER
        n_select_dev = len(ctx.pool.split(primary, "select_dev").gold)
        warning = select_dev_warning(metric, n_select_dev, rule="gp", decided="the GP's comparisons")
        if warning:
            log.warning("autosem: %s", warning)
        random_state = ctx.cfg.seed if cfg.gp_random_state is None else cfg.gp_random_state
        path = ctx.run_dir / "autosem" / "gp.json"
        settings = {
            "primary": primary,
            "tasks": stage1,
            "n_calls": cfg.n_calls,
            "n_initial_points": cfg.n_initial_points,
            "max_ratio": cfg.max_ratio,
            "acq_func": cfg.acq_func,
            "random_state": random_state,
            "gp_epochs": cfg.gp_epochs,
        }

        with ctx.ledger.stage("select/gp"):
            saved: list[GPObservation] = []
            state = (
                read_or_set_aside(path, read_json, "the GP search starts again") if ctx.cfg.resume else None
            )
            if state is not None:
                if state["settings"] != settings:
                    raise ConfigError(
                        f"resume: {path} was saved with {state['settings']}, this run has {settings}; "
                        "delete it to start the GP search again"
                    )
                saved = [GPObservation(**o) for o in state["observations"]]
                ctx.ledger.load_state_dict({"stages": state["ledger"]})
                ctx.ledger.note("select/gp", f"resumed after {len(saved)} of {cfg.n_calls} GP evaluations")

            def train_and_score(ratios: dict[str, int]) -> float:
                kept = [t for t in stage1 if ratios[t] > 0]
                trial = self.selection(kept, ratios={t: r for t, r in ratios.items() if r > 0})
                return ctx.trial_score(trial, stage="autosem_gp_trial", epochs=cfg.gp_epochs)

            def save(observations: list[GPObservation]) -> None:
                save_gp_observations(
                    path,
                    {
                        "settings": settings,
                        "observations": [o.to_dict() for o in observations],
                        "ledger": ctx.ledger.to_dict("select"),
                    },
                )

            result = search_mixing_ratio(
                primary,
                stage1,
                train_and_score,
                n_calls=cfg.n_calls,
                n_initial_points=cfg.n_initial_points,
                max_ratio=cfg.max_ratio,
                random_state=random_state,
                acq_func=cfg.acq_func,
                lower_is_better=lower,
                observations=saved,
                on_observation=save,
            )

        from auxrun.reporting.autosem_figures import plot_gp_best_so_far

        plot_gp_best_so_far(
            [o.score for o in result.observations],
            ctx.run_dir / "figures" / "autosem_gp_search.png",
            lower_is_better=lower,
            metric=metric,
        )
        ratios = {t: r for t, r in result.best_ratios.items() if r > 0}
        kept = [t for t in stage1 if t in ratios]
        log.info("autosem stage 2: best ratio %s (select_dev %s %.4f)", ratios, metric, result.best_score)
        extra.update(
            gp_observations=[o.to_dict() for o in result.observations],
            gp_best_score=result.best_score,
            select_dev_examples=n_select_dev,
            gp_warning=warning,
        )
        return self.selection(kept, ratios=ratios, scores=aux_utilities, extra=extra)

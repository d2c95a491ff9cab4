"""AUTOSEM stage 1 alone (``autosem_p1``): task selection with a Beta-Bernoulli multi-armed bandit and
Thompson sampling during MTL training (Guo, Pasunuru and Bansal 2019, "AutoSeM: Automatic Task
Selection and Mixing in Multi-Task Learning", NAACL; section 3.3, Algorithm 1, Eq. 3; defaults from
section 4). Then MTL on the primary plus the selected tasks.

The bandit has one arm per task, the primary included (section 3.3). A round: draw
theta_k ~ Beta(alpha_k, beta_k), train the arg-max task for ``batches_per_round`` mini-batches
through the trainer's controller hooks, score the primary on ``select_dev``, reward 1 when the score
did not drop (Eq. 3: R_t >= R_{t-1}), and apply the non-stationary update of Algorithm 1 (every arm
decays towards (alpha0, beta0) with rate gamma). The utility of a task is alpha/(alpha+beta)
(Eq. 6); the selection keeps the top ``top_k`` auxiliaries plus any with utility above
``utility_threshold`` (section 4: top two, plus those above 0.5).

Departures from the paper, and choices where it is silent:
- Reward metric: the primary's main metric on ``select_dev`` (10% of its train set held out), not on
  the GLUE dev set, which auxrun reports and never selects on (the GradTS protocol).
- R_0, the score before round 1, is the untrained model's score (the paper's Eq. 3 needs one and
  does not say; section 3.3 notes the first rounds nearly always improve, which is why the primary
  gets a stronger prior).
- ``tie_break`` (default "none", the paper's rule): with "loss", a round whose metric ties the
  previous one is rewarded only if the primary's select_dev loss did not rise. An option, not the
  default: the toy pool uses it because its 30-example select_dev makes ties the rule (Eq. 3 then
  rewards almost every round: 196 of 200 for toy_ner).
- gamma: not given in the paper; default 0.01 (see conf/method/autosem_p1.yaml).
- The primary's stronger prior: "slightly stronger" but no value; default Beta(2, 1). All arms decay
  towards the common (alpha0, beta0) of Algorithm 1, so this head start fades.
- The bandit runs on the trainer's controller contract, one trainer epoch per round: the learning-rate
  schedule (warm-up then linear decay, auxrun's trainer) spans exactly rounds x batches_per_round
  steps, and dropout is seeded per round by the trainer's (seed, epoch) rule. Each round draws its
  mini-batches from a fresh shuffle of the arm's data (a function of seed, task and round) rather
  than continuing one stream; the paper's LSTM used plain Adam.
- Final MTL (this method only, without stage 2): the trainer's size-proportional sampling over the
  primary and the kept tasks, since there is no learned ratio (the paper's "w/o Stage-2" ablation
  grid-searched one instead).
- Resumable: the bandit (with its numpy RNG), the trainer's epoch-boundary state (weights,
  optimizer, scheduler, round) and the ledger are saved to ``run_dir/autosem/bandit.pt``; with
  ``resume=true`` the search continues from there and ends exactly where an uninterrupted one does.
  The interrupted part's wall time is kept in the ledger. Checkpoints are proportionate: every
  ``checkpoint_every`` rounds, or by default every ceil(3 x parameter MB / checkpoint_mb_per_round)
  rounds (16 MB: every round for the tiny model, every ~79 rounds for BERT-base instead of 1.3 GB
  each round); the bytes written are counted in the ledger (``bytes_written``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from auxrun.config import MethodConfig
from auxrun.errors import ConfigError
from auxrun.eval.metrics import LOWER_IS_BETTER
from auxrun.io import read_or_set_aside, torch_save_atomic
from auxrun.methods.autosem_bandit import BetaBernoulliBandit
from auxrun.methods.base import Method
from auxrun.methods.registry import register
from auxrun.selection import Selection
from auxrun.training.controller import Controller

if TYPE_CHECKING:
    from auxrun.context import RunContext
    from auxrun.training.controller import TrainerHooks

log = logging.getLogger("auxrun")


@dataclass
class AutosemP1Config(MethodConfig):
    name: str = "autosem_p1"
    rounds: int = 200  # section 4: "approximately 200 rounds"
    batches_per_round: int = 10  # section 4: "each round consist of approximately 10 mini-batches"
    alpha0: float = 1.0  # section 4: alpha0 = beta0 = 1
    beta0: float = 1.0  # the Beta prior's second parameter, as alpha0
    primary_prior: list[float] = field(default_factory=lambda: [2.0, 1.0])  # paper: "slightly stronger"
    gamma: float = 0.01  # the decay of Algorithm 1; the paper gives no value
    top_k: int = 2  # section 4: "the top two tasks"
    utility_threshold: float = 0.5  # section 4: "... if their utility estimate is above 0.5"
    # Rounds between bandit checkpoints (0: only the final record); None: scaled to the model so that
    # checkpoints write at most checkpoint_mb_per_round MB per round on average (every round for the
    # tiny model, every ~79 rounds for BERT-base, whose checkpoint with AdamW state is ~1.3 GB).
    checkpoint_every: int | None = None
    checkpoint_mb_per_round: float = 16.0  # the default checkpoint interval's budget: MB written a round
    # Eq. 3 rewards a tie ("improves (or maintains)"). "loss": a tie in the metric is decided by the
    # primary's select_dev loss (not higher: reward 1); for small select_dev sets (see the yaml).
    tie_break: str = "none"


@dataclass
class BanditOutcome:
    """What stage 1 leaves: the arms' posteriors and the round-by-round record."""

    utilities: dict[str, float]
    beta_params: dict[str, list[float]]
    pulls: dict[str, int]
    initial_score: float
    arms: list[str] = field(default_factory=list)  # the arm pulled each round
    rewards: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # the primary's select_dev score after each round
    losses: list[float] = field(default_factory=list)  # and its select_dev loss

    def record(self) -> dict[str, Any]:
        return {
            "initial_score": self.initial_score,
            "pulls": self.pulls,
            "arms": self.arms,
            "rewards": self.rewards,
            "scores": self.scores,
            "losses": self.losses,
        }


# ---- ledger across an interruption ------------------------------------------------------------


# ---- stage 1 ---------------------------------------------------------------------------------


TIE_BREAKS = ("none", "loss")


def bandit_reward(metric: str, now: tuple[float, float], before: tuple[float, float], tie_break: str) -> int:
    """Eq. 3: 1 when the primary's validation metric improved or stayed the same. ``now`` and
    ``before`` are (metric, loss); with tie_break="loss" an unchanged metric counts as a success only
    if the loss did not rise (a departure, for select_dev sets so small that the metric rarely moves)."""
    (m_now, l_now), (m_before, l_before) = now, before
    if m_now == m_before and tie_break == "loss":
        return int(l_now <= l_before)
    return int(m_now <= m_before if metric in LOWER_IS_BETTER else m_now >= m_before)


def checkpoint_interval(cfg: AutosemP1Config, parameters: Iterable[torch.Tensor]) -> int:
    """Rounds between bandit checkpoints: ``checkpoint_every`` when set (0: only the final record);
    else scaled to the model's ``parameters``, so checkpoints write at most
    ``checkpoint_mb_per_round`` MB per round on average (a checkpoint holds the weights and AdamW's
    two moments, 3x the parameters)."""
    if cfg.checkpoint_every is not None:
        return cfg.checkpoint_every
    state_mb = 3 * sum(p.numel() * p.element_size() for p in parameters) / 2**20
    return max(1, math.ceil(state_mb / cfg.checkpoint_mb_per_round))


def _fingerprint(cfg: AutosemP1Config, arms: list[str], seed: int) -> dict[str, Any]:
    return {
        "arms": arms,
        "rounds": cfg.rounds,
        "batches_per_round": cfg.batches_per_round,
        "alpha0": cfg.alpha0,
        "beta0": cfg.beta0,
        "primary_prior": list(cfg.primary_prior),
        "gamma": cfg.gamma,
        "tie_break": cfg.tie_break,
        "seed": seed,
    }


def save_bandit_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """One atomic file per checkpoint (a module function, so tests can interrupt right after it)."""
    torch_save_atomic(state, path)


class BanditController(Controller):
    """Algorithm 1 on the trainer's controller contract: an epoch of the bandit's trainer is one
    round (choose an arm, train ``batches_per_round`` of its mini-batches); the trainer's per-epoch
    evaluation of the primary on select_dev gives the reward (Eq. 3). The trainer owns the
    learning-rate schedule (``epoch_steps``) and the dropout seed of each round."""

    def __init__(self, ctx: RunContext, cfg: AutosemP1Config, bandit: BetaBernoulliBandit, fingerprint):
        self.ctx, self.cfg, self.bandit, self.fingerprint = ctx, cfg, bandit, fingerprint
        self.primary = ctx.pool.primary
        self.metric = ctx.pool.specs[self.primary].main_metric
        self.path = ctx.run_dir / "autosem" / "bandit.pt"
        self.prev: tuple[float, float] | None = None
        self.record: dict[str, Any] = {}
        self.arm: str | None = None
        self.every = 1

    def epoch_steps(self, trainer: TrainerHooks) -> int:
        return self.cfg.batches_per_round

    def on_train_start(self, trainer: TrainerHooks) -> None:
        self.every = checkpoint_interval(self.cfg, trainer.trainable_parameters().values())
        if self.prev is None:
            self.prev = _primary_score(trainer, self.primary, self.metric)  # R_0
            self.record = {
                "initial_score": self.prev[0],
                "arms": [],
                "rewards": [],
                "scores": [],
                "losses": [],
            }

    def train_epoch(self, trainer: TrainerHooks, epoch: int) -> float:
        self.arm, _ = self.bandit.choose()  # Algorithm 1, lines 2-6
        return trainer.train_batches(self.arm, self.cfg.batches_per_round)  # "apply x_t"

    def on_epoch_end(self, trainer: TrainerHooks, epoch: int, metrics: dict[str, Any]) -> None:
        vals = metrics["select_dev"][self.primary]
        now = (float(vals[self.metric]), float(vals["loss"]))
        reward = bandit_reward(self.metric, now, self.prev, self.cfg.tie_break)  # Eq. 3
        self.bandit.update(self.arm, reward)  # lines 10-16
        self.prev = now
        for key, value in (("arms", self.arm), ("rewards", reward), ("scores", now[0]), ("losses", now[1])):
            self.record[key].append(value)
        done, rounds = epoch + 1, self.cfg.rounds
        if done == rounds or (self.every > 0 and done % self.every == 0):
            save_bandit_checkpoint(
                self.path,
                {
                    "fingerprint": self.fingerprint,
                    "round": done,
                    "prev_score": self.prev,
                    "bandit": self.bandit.state_dict(),
                    # the last round needs no trainer: a resume only reads the bandit
                    "trainer": trainer.checkpoint_state() if done < rounds else None,
                    "record": self.record,
                    "ledger": self.ctx.ledger.to_dict("select"),
                },
            )
            # after the save: the file's own size is not in the ledger it holds (a resumed run's
            # bytes_written is what its sessions wrote, which pickling makes differ by a few bytes)
            self.ctx.ledger.count(bytes_written=self.path.stat().st_size)


def run_bandit(ctx: RunContext, cfg: AutosemP1Config) -> BanditOutcome:
    """Algorithm 1 over the primary and every auxiliary, acting through the trainer's hooks."""
    pool = ctx.pool
    primary = pool.primary
    arms = [primary, *pool.auxiliaries]
    path = ctx.run_dir / "autosem" / "bandit.pt"
    fingerprint = _fingerprint(cfg, arms, ctx.cfg.seed)

    state = None
    if ctx.cfg.resume:
        load = lambda p: torch.load(p, map_location="cpu", weights_only=False)  # noqa: E731
        state = read_or_set_aside(path, load, "the bandit starts again")
    if state is not None:
        if state["fingerprint"] != fingerprint:
            raise ConfigError(
                f"resume: {path} was saved with {state['fingerprint']}, this run has {fingerprint}; "
                "delete it to start the bandit again"
            )

    bandit = BetaBernoulliBandit(
        arms,
        cfg.alpha0,
        cfg.beta0,
        cfg.gamma,
        initial={primary: (cfg.primary_prior[0], cfg.primary_prior[1])},
        seed=ctx.cfg.seed,
    )
    out = BanditOutcome(utilities={}, beta_params={}, pulls={}, initial_score=float("nan"))
    if state is not None and state["round"] >= cfg.rounds:  # finished before the interruption
        bandit.load_state_dict(state["bandit"])
        _fill(out, bandit, state["record"])
        ctx.ledger.load_state_dict({"stages": state["ledger"]})
        return out

    controller = BanditController(ctx, cfg, bandit, fingerprint)
    trainer = ctx.new_trainer(
        Selection(
            method="autosem_bandit",
            primary=primary,
            candidates=pool.auxiliaries,
            selected_tasks=list(pool.auxiliaries),
        ),
        stage="autosem_bandit",
        epochs=cfg.rounds,  # one trainer epoch per round
        controller=controller,
        eval_splits=["select_dev"],
        best_split="select_dev",
        progress=False,
    )
    if state is not None:
        trainer.load_checkpoint_state(state["trainer"])
        bandit.load_state_dict(state["bandit"])
        ctx.ledger.load_state_dict({"stages": state["ledger"]})
        controller.record, controller.prev = state["record"], tuple(state["prev_score"])
        ctx.ledger.note("select/bandit", f"resumed after round {state['round']} of {cfg.rounds}")
        log.info("autosem: resuming the bandit after round %d of %d", state["round"], cfg.rounds)
    trainer.fit()
    ctx.ledger.note("select/bandit", f"bandit checkpoints every {controller.every} rounds (0: final only)")
    _fill(out, bandit, controller.record)
    return out


def _primary_score(trainer: TrainerHooks, primary: str, metric: str) -> tuple[float, float]:
    """The primary's main metric and loss on select_dev (one forward pass gives both)."""
    vals = trainer.evaluate("select_dev", [primary])[primary]
    return float(vals[metric]), float(vals["loss"])


def _fill(out: BanditOutcome, bandit: BetaBernoulliBandit, record: dict[str, Any]) -> None:
    out.utilities = bandit.utilities()
    out.beta_params = bandit.params()
    out.pulls = {a: int(n) for a, n in zip(bandit.arms, bandit.pulls)}
    out.initial_score = float(record["initial_score"])
    out.arms, out.rewards = list(record["arms"]), list(record["rewards"])
    out.scores, out.losses = list(record["scores"]), list(record["losses"])


def pick_tasks(utilities: dict[str, float], primary: str, top_k: int, threshold: float) -> list[str]:
    """Section 4: the top ``top_k`` auxiliaries by utility, plus any other above ``threshold``
    (ties keep the pool's order)."""
    aux = [t for t in utilities if t != primary]
    ranked = sorted(aux, key=lambda t: -utilities[t])
    return [t for i, t in enumerate(ranked) if i < top_k or utilities[t] > threshold]


def validate_autosem_p1(cfg: AutosemP1Config) -> None:
    from auxrun.validate import _range

    _range("method.rounds", cfg.rounds, 1)
    _range("method.batches_per_round", cfg.batches_per_round, 1)
    _range("method.alpha0", cfg.alpha0, 0, lo_open=True)
    _range("method.beta0", cfg.beta0, 0, lo_open=True)
    _range("method.gamma", cfg.gamma, 0, 1)
    _range("method.top_k", cfg.top_k, 0)
    _range("method.utility_threshold", cfg.utility_threshold, 0, 1)
    _range("method.checkpoint_every", cfg.checkpoint_every, 0)
    _range("method.checkpoint_mb_per_round", cfg.checkpoint_mb_per_round, 0, lo_open=True)
    if cfg.tie_break not in TIE_BREAKS:
        raise ConfigError(f"method.tie_break='{cfg.tie_break}' is not one of {list(TIE_BREAKS)}")
    if len(cfg.primary_prior) != 2 or min(cfg.primary_prior) <= 0:
        raise ConfigError(
            f"method.primary_prior={list(cfg.primary_prior)} must be [alpha, beta] with both > 0"
        )


def stage1_extra(out: BanditOutcome, selected: list[str]) -> dict[str, Any]:
    return {
        "utilities": out.utilities,
        "beta_params": out.beta_params,
        "stage1_selected": selected,
        "bandit": out.record(),
    }


@register("autosem_p1", AutosemP1Config)
class AutosemP1(Method):
    @classmethod
    def validate_config(cls, cfg, specs) -> None:
        validate_autosem_p1(cfg.method)

    def bandit_stage(self) -> tuple[BanditOutcome, list[str]]:
        ctx, cfg = self.ctx, self.cfg
        with ctx.ledger.stage("select/bandit"):
            out = run_bandit(ctx, cfg)
        selected = pick_tasks(out.utilities, ctx.pool.primary, cfg.top_k, cfg.utility_threshold)
        from auxrun.reporting.autosem_figures import plot_arm_posteriors

        plot_arm_posteriors(out.beta_params, ctx.pool.primary, ctx.run_dir / "figures" / "autosem_arms.png")
        log.info(
            "autosem stage 1: utilities %s -> %s",
            {t: round(u, 3) for t, u in out.utilities.items()},
            selected,
        )
        return out, selected

    def select(self) -> Selection:
        out, selected = self.bandit_stage()
        aux_utilities = {t: u for t, u in out.utilities.items() if t != self.ctx.pool.primary}
        return self.selection(selected, scores=aux_utilities, extra=stage1_extra(out, selected))

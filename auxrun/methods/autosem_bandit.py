"""AUTOSEM stage 1's controller: a Beta-Bernoulli multi-armed bandit with Thompson sampling and a
non-stationary decay (Guo, Pasunuru and Bansal 2019, "AutoSeM", section 3.3, Algorithm 1).

A pure, seeded, checkpointable class with no training in it, so its updates can be tested on a
scripted reward sequence. It follows Algorithm 1 as printed:

- each round draws theta_k ~ Beta(alpha_k, beta_k) for every arm and pulls arg max_k theta_k
  (lines 2-6);
- after observing reward r, EVERY arm decays towards the prior, alpha_k <- (1 - gamma) alpha_k +
  gamma alpha0 and likewise beta (lines 10-12, Eq. 7), and only the pulled arm then adds
  (r, 1 - r) (lines 13-16);
- the utility of an arm is the posterior mean alpha_k / (alpha_k + beta_k) (Eq. 6).

The one addition the paper describes in prose but Algorithm 1 does not show is the "stronger prior
for the primary task" (section 3.3): an arm may start from its own (alpha, beta). Every arm still
decays towards the common (alpha0, beta0) of Algorithm 1, so the primary's head start fades as
training proceeds, which is the behaviour the paper motivates ("the bandit will then sample the
primary model more often at the beginning, and then start exploring auxiliary tasks").

This module is not a method: ``autosem_p1`` drives it (auxrun/methods/autosem_p1.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class BanditStep:
    """One round of Algorithm 1: the sampled thetas, the arm pulled and the reward observed."""

    arm: str
    reward: int
    thetas: list[float]


class BetaBernoulliBandit:
    """Thompson sampling over Bernoulli arms with Beta posteriors and decay towards the prior."""

    def __init__(
        self,
        arms: list[str],
        alpha0: float = 1.0,
        beta0: float = 1.0,
        gamma: float = 0.0,
        initial: dict[str, tuple[float, float]] | None = None,
        seed: int = 0,
    ):
        if not arms:
            raise ValueError("a bandit needs at least one arm")
        if alpha0 <= 0 or beta0 <= 0:
            raise ValueError(f"Beta prior parameters must be > 0, got alpha0={alpha0}, beta0={beta0}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"decay gamma must be in [0, 1], got {gamma}")
        self.arms = list(arms)
        self.alpha0, self.beta0, self.gamma = float(alpha0), float(beta0), float(gamma)
        self.alpha = np.full(len(arms), self.alpha0)
        self.beta = np.full(len(arms), self.beta0)
        for arm, (a, b) in (initial or {}).items():
            i = self.arms.index(arm)
            self.alpha[i], self.beta[i] = float(a), float(b)
        self.rng = np.random.default_rng(seed)
        self.pulls = np.zeros(len(arms), dtype=np.int64)
        self.rounds = 0

    # ---- Algorithm 1 ----------------------------------------------------------------------------

    def sample(self) -> np.ndarray:
        """theta_k ~ Beta(alpha_k, beta_k) for every arm (Algorithm 1, lines 2-4)."""
        return self.rng.beta(self.alpha, self.beta)

    def choose(self) -> tuple[str, np.ndarray]:
        """The arm with the largest sampled theta (line 6) and the thetas it was chosen from."""
        thetas = self.sample()
        return self.arms[int(np.argmax(thetas))], thetas

    def update(self, arm: str, reward: int) -> None:
        """Decay every arm towards (alpha0, beta0), then add (r, 1 - r) to the pulled arm (lines 10-16)."""
        if reward not in (0, 1):
            raise ValueError(f"a Bernoulli reward is 0 or 1, got {reward}")
        k = self.arms.index(arm)
        self.alpha = (1.0 - self.gamma) * self.alpha + self.gamma * self.alpha0
        self.beta = (1.0 - self.gamma) * self.beta + self.gamma * self.beta0
        self.alpha[k] += reward
        self.beta[k] += 1 - reward
        self.pulls[k] += 1
        self.rounds += 1

    def step(self, reward_of) -> BanditStep:
        """One round: choose, observe ``reward_of(arm)``, update."""
        arm, thetas = self.choose()
        reward = int(reward_of(arm))
        self.update(arm, reward)
        return BanditStep(arm=arm, reward=reward, thetas=[float(t) for t in thetas])

    # ---- read-outs ------------------------------------------------------------------------------

    def utilities(self) -> dict[str, float]:
        """E[theta_k] = alpha_k / (alpha_k + beta_k) (Eq. 6)."""
        return {a: float(self.alpha[i] / (self.alpha[i] + self.beta[i])) for i, a in enumerate(self.arms)}

    def params(self) -> dict[str, list[float]]:
        return {a: [float(self.alpha[i]), float(self.beta[i])] for i, a in enumerate(self.arms)}

    # ---- checkpointing --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "arms": list(self.arms),
            "alpha0": self.alpha0,
            "beta0": self.beta0,
            "gamma": self.gamma,
            "alpha": self.alpha.tolist(),
            "beta": self.beta.tolist(),
            "pulls": self.pulls.tolist(),
            "rounds": self.rounds,
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if list(state["arms"]) != self.arms:
            raise ValueError(f"bandit state has arms {state['arms']}, this bandit has {self.arms}")
        self.alpha0, self.beta0, self.gamma = state["alpha0"], state["beta0"], state["gamma"]
        self.alpha = np.asarray(state["alpha"], dtype=float)
        self.beta = np.asarray(state["beta"], dtype=float)
        self.pulls = np.asarray(state["pulls"], dtype=np.int64)
        self.rounds = int(state["rounds"])
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])

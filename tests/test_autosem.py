"""AUTOSEM: the bandit follows Algorithm 1, Thompson sampling finds the best arm, the GP search finds
the optimum region and resumes exactly, and both methods run end to end on toy (and resume)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from auxrun.errors import ConfigError
from auxrun.methods import autosem as autosem_mod
from auxrun.methods import autosem_p1 as p1_mod
from auxrun.methods.autosem_bandit import BetaBernoulliBandit
from auxrun.methods.autosem_gp import GPObservation, search_mixing_ratio
from auxrun.methods.autosem_p1 import bandit_reward, pick_tasks
from auxrun.paths import CONF_DIR
from tests.conftest import FAST, compose, run_auxrun

# ---- stage 1: the bandit -----------------------------------------------------------------------


def test_bandit_follows_algorithm_1_on_a_scripted_sequence():
    arms = ["p", "a", "b"]
    gamma, a0, b0 = 0.1, 1.0, 1.0
    bandit = BetaBernoulliBandit(arms, a0, b0, gamma, initial={"p": (2.0, 1.0)}, seed=0)
    alpha = {"p": 2.0, "a": 1.0, "b": 1.0}
    beta = {"p": 1.0, "a": 1.0, "b": 1.0}
    script = [("a", 1), ("p", 0), ("a", 1), ("b", 0), ("b", 1), ("p", 1)]
    for arm, r in script:
        bandit.update(arm, r)
        for k in arms:  # Algorithm 1, lines 10-16, by hand
            alpha[k] = (1 - gamma) * alpha[k] + gamma * a0 + (r if k == arm else 0)
            beta[k] = (1 - gamma) * beta[k] + gamma * b0 + (1 - r if k == arm else 0)
        params = bandit.params()
        assert set(params) == set(arms)
        for k in arms:
            assert params[k] == pytest.approx([alpha[k], beta[k]])
    # first step spelled out: 'a' rewarded from (1, 1) -> (0.9 + 0.1 + 1, 0.9 + 0.1) = (2, 1);
    # unpulled 'p' decays (2, 1) -> (1.9, 1.0)
    assert bandit.utilities() == pytest.approx({k: alpha[k] / (alpha[k] + beta[k]) for k in arms})
    assert bandit.pulls.tolist() == [2, 2, 2] and bandit.rounds == 6
    # no decay (gamma = 0) is the stationary Bayes rule, Eq. 5
    plain = BetaBernoulliBandit(["x"], gamma=0.0)
    for r in (1, 1, 0):
        plain.update("x", r)
    assert plain.params() == {"x": [3.0, 2.0]}
    with pytest.raises(ValueError):
        plain.update("x", 2)


def test_bandit_choice_is_the_argmax_of_seeded_beta_draws_and_resumes():
    b = BetaBernoulliBandit(["p", "a", "b"], gamma=0.05, initial={"p": (3.0, 1.0)}, seed=11)
    rng = np.random.default_rng(11)
    for r in (1, 0, 1, 1, 0):
        thetas = rng.beta(b.alpha, b.beta)
        arm, drawn = b.choose()
        assert drawn.tolist() == thetas.tolist() and arm == b.arms[int(np.argmax(thetas))]
        b.update(arm, r)
    state = b.state_dict()
    twin = BetaBernoulliBandit(["p", "a", "b"], seed=999)
    twin.load_state_dict(state)
    for r in (1, 0, 0, 1):
        x, y = b.step(lambda _, r=r: r), twin.step(lambda _, r=r: r)
        assert x == y
    assert b.params() == twin.params()


def test_thompson_sampling_favours_the_best_arm_of_a_stationary_bernoulli_problem():
    probs = {"low": 0.2, "mid": 0.5, "best": 0.8}
    env = np.random.default_rng(0)
    bandit = BetaBernoulliBandit(list(probs), gamma=0.0, seed=1)
    for _ in range(500):
        bandit.step(lambda arm: env.random() < probs[arm])
    pulls = dict(zip(bandit.arms, bandit.pulls.tolist()))
    assert pulls["best"] > 0.7 * 500 and pulls["best"] > pulls["mid"] > pulls["low"]
    u = bandit.utilities()
    assert max(u, key=u.get) == "best" and abs(u["best"] - 0.8) < 0.06


def test_eq3_reward_and_selection_rule():
    assert bandit_reward("accuracy", (70.0, 0.6), (70.0, 0.5), "none") == 1  # maintains: reward 1
    assert bandit_reward("accuracy", (66.0, 0.4), (70.0, 0.5), "none") == 0
    assert bandit_reward("mse", (0.3, 0.3), (0.4, 0.4), "none") == 1  # lower is better
    assert bandit_reward("accuracy", (70.0, 0.6), (70.0, 0.5), "loss") == 0  # tie decided by loss
    u = {"p": 0.9, "a": 0.3, "b": 0.45, "c": 0.55, "d": 0.1, "e": 0.7}
    assert pick_tasks(u, "p", 2, 0.5) == ["e", "c"]  # top two; none else above 0.5
    assert pick_tasks(u, "p", 1, 0.5) == ["e", "c"]  # c is above 0.5
    assert pick_tasks(u, "p", 3, 0.6) == ["e", "c", "b"]


# ---- stage 2: the GP search --------------------------------------------------------------------


# A cheaper acquisition optimiser than skopt's default (n_points=10000, 5 L-BFGS restarts): same
# GP and GP-Hedge, a few seconds instead of tens on a shared 2-core machine.
CHEAP = {"n_points": 1000, "n_restarts_optimizer": 1}


def _objective(calls):
    """A smooth synthetic ratio objective with its optimum at primary 3, a 7, b 0."""

    def score(r):
        calls.append(dict(r))
        return 100.0 - ((r["p"] - 3) ** 2 + (r["a"] - 7) ** 2 + 2.0 * r["b"] ** 2)

    return score


def test_gp_search_finds_the_optimum_region_within_20_evaluations():
    calls = []
    res = search_mixing_ratio(
        "p",
        ["a", "b"],
        _objective(calls),
        n_calls=20,
        n_initial_points=8,
        max_ratio=10,
        random_state=3,
        **CHEAP,
    )
    assert len(res.observations) == 20 and len(calls) <= 20  # repeats are not re-evaluated
    best = res.best_ratios
    assert abs(best["p"] - 3) <= 1 and abs(best["a"] - 7) <= 1 and best["b"] <= 1, best
    assert all(1 <= o.ratios["p"] <= 10 and 0 <= o.ratios["b"] <= 10 for o in res.observations)


def test_gp_search_resumes_by_replay_and_warm_start_would_not():
    kw = dict(n_calls=8, n_initial_points=3, max_ratio=10, random_state=5, **CHEAP)
    full = search_mixing_ratio("p", ["a", "b"], _objective([]), **kw)
    saved: list[list[GPObservation]] = []
    with pytest.raises(KeyboardInterrupt):

        def interrupt(obs):
            saved.append(obs)
            if len(obs) == 6:
                raise KeyboardInterrupt

        search_mixing_ratio("p", ["a", "b"], _objective([]), on_observation=interrupt, **kw)
    calls = []
    resumed = search_mixing_ratio("p", ["a", "b"], _objective(calls), observations=saved[-1], **kw)
    assert [o.ratios for o in resumed.observations] == [o.ratios for o in full.observations]
    assert resumed.best_ratios == full.best_ratios and len(calls) <= 2  # only the rest is evaluated

    # Why replay: warm-starting gp_minimize with x0/y0 and the same random_state proposes others.
    from skopt import gp_minimize

    from auxrun.methods.autosem_gp import ratio_dimensions

    x0 = [[o.ratios[t] for t in ("p", "a", "b")] for o in full.observations[:6]]
    y0 = [-o.score for o in full.observations[:6]]
    warm = gp_minimize(
        lambda x: -_objective([])(dict(zip(("p", "a", "b"), x))),
        ratio_dimensions("p", ["a", "b"], 10),
        n_calls=2,
        n_initial_points=0,
        x0=x0,
        y0=y0,
        random_state=5,
        acq_func="gp_hedge",
        **CHEAP,
    )
    proposals = [[o.ratios[t] for t in ("p", "a", "b")] for o in full.observations]
    assert [list(map(int, x)) for x in warm.x_iters[6:]] != proposals[6:]
    # changed settings are refused, not silently mixed
    with pytest.raises(Exception, match="settings changed"):
        search_mixing_ratio(
            "p", ["a", "b"], _objective([]), observations=saved[-1], **{**kw, "random_state": 6}
        )


# ---- config ------------------------------------------------------------------------------------


def test_yaml_defaults_agree_and_bad_values_fail_in_one_line():
    p1 = OmegaConf.load(CONF_DIR / "method" / "autosem_p1.yaml")
    both = OmegaConf.load(CONF_DIR / "method" / "autosem.yaml")
    for k, v in p1.items():
        if k not in ("defaults",):
            assert both[k] == v, k
    cfg = compose(["method=autosem", "method.gamma=1.5"])
    with pytest.raises(ConfigError, match=r"method.gamma=1.5 is out of range; allowed: \[0, 1\]"):
        autosem_mod.Autosem.validate_config(cfg, {})
    cfg = compose(["method=autosem", "method.n_initial_points=30"])
    with pytest.raises(ConfigError, match="method.n_initial_points=30"):
        autosem_mod.Autosem.validate_config(cfg, {})
    cfg = compose(["method=autosem_p1", "method.tie_break=bogus"])
    with pytest.raises(ConfigError, match="method.tie_break='bogus'"):
        p1_mod.AutosemP1.validate_config(cfg, {})


# ---- end to end on toy -------------------------------------------------------------------------

TASKS = "task_set.tasks=[toy_sentiment,toy_rating,toy_topic,toy_noise]"
P1 = [
    "method=autosem_p1",
    "primary=toy_sentiment",
    TASKS,
    *FAST,
    "train.epochs=1",
    "method.rounds=12",
    "method.batches_per_round=2",
]
FULL = [
    "method=autosem",
    "primary=toy_sentiment",
    TASKS,
    *FAST,
    "train.epochs=1",
    "method.rounds=8",
    "method.batches_per_round=2",
    "method.top_k=2",
    "method.n_calls=4",
    "method.n_initial_points=2",
    "method.max_ratio=3",
]


def _without_wall(d):
    """Without wall time, peak memory and bytes written: a resumed run rewrites checkpoints whose
    pickled size differs by a few bytes (object sharing after torch.load)."""
    if isinstance(d, dict):
        return {
            k: _without_wall(v) for k, v in d.items() if k not in ("wall_s", "peak_mem_mb", "bytes_written")
        }
    return d


def test_autosem_p1_end_to_end(tmp_path):
    res = run_auxrun(P1, tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    arms = ["toy_sentiment", *sel["candidates"]]
    assert sel["method"] == "autosem_p1" and set(sel["utilities"]) == set(arms) == set(sel["beta_params"])
    assert len(sel["bandit"]["arms"]) == 12 and sum(sel["bandit"]["pulls"].values()) == 12
    assert len(sel["selected_tasks"]) >= 2 and sel["ratios"] == {}
    for t, (a, b) in sel["beta_params"].items():
        assert sel["utilities"][t] == pytest.approx(a / (a + b))
    assert res["training_tasks"] == ["toy_sentiment", *sel["selected_tasks"]]
    cost = sel["cost"]["select/bandit"]
    assert 12 * 2 * 8 < cost["examples_backward"] <= 12 * 2 * 16  # 24 batches of 16 (a pass may end short)
    assert cost["examples_forward"] == cost["examples_backward"] + 13 * 9  # + 13 select_dev scorings
    assert (tmp_path / "figures" / "autosem_arms.png").stat().st_size > 1000


def test_autosem_end_to_end_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
    full = run_auxrun(FULL, tmp_path / "full")
    sel = json.loads((tmp_path / "full" / "selection.json").read_text())
    assert sel["method"] == "autosem" and len(sel["gp_observations"]) == 4
    assert sel["ratios"]["toy_sentiment"] >= 1 and set(sel["ratios"]) == set(full["training_tasks"])
    assert set(sel["selected_tasks"]) <= set(sel["stage1_selected"])
    best = max(o["score"] for o in sel["gp_observations"])
    assert sel["gp_best_score"] == best
    # the GP compares ratios on select_dev; a small one is named, as for the trial methods
    assert sel["select_dev_examples"] == 9 and "fewer than 100 for accuracy" in sel["gp_warning"]
    assert "the GP's comparisons" in sel["gp_warning"] and "trial_rule" not in sel["gp_warning"]
    assert sel["cost"]["select/gp"]["examples_backward"] > 0
    assert sel["cost"]["select"]["examples_backward"] == (
        sel["cost"]["select/bandit"]["examples_backward"] + sel["cost"]["select/gp"]["examples_backward"]
    )
    assert (tmp_path / "full" / "figures" / "autosem_gp_search.png").is_file()

    # interrupt once in the bandit (after round 5's checkpoint) and once in the GP (after 2 evaluations)
    cut = tmp_path / "cut"
    orig_bandit, orig_gp = p1_mod.save_bandit_checkpoint, autosem_mod.save_gp_observations

    def bandit_then_stop(path, state):
        orig_bandit(path, state)
        if state["round"] == 5:
            raise KeyboardInterrupt

    def gp_then_stop(path, state):
        orig_gp(path, state)
        if len(state["observations"]) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(p1_mod, "save_bandit_checkpoint", bandit_then_stop)
    monkeypatch.setattr(autosem_mod, "save_gp_observations", gp_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_auxrun(FULL, cut)
    assert not (cut / "selection.json").exists()
    with pytest.raises(KeyboardInterrupt):
        run_auxrun(["resume=true", *FULL], cut)  # finishes the bandit, stops in the GP
    monkeypatch.setattr(p1_mod, "save_bandit_checkpoint", orig_bandit)
    monkeypatch.setattr(autosem_mod, "save_gp_observations", orig_gp)
    resumed = run_auxrun(["resume=true", *FULL], cut)

    a = json.loads((tmp_path / "full" / "selection.json").read_text())
    b = json.loads((cut / "selection.json").read_text())
    assert _without_wall(a) == _without_wall(b)  # utilities, tasks, observations, ratios, example counts
    assert resumed["best"] == full["best"]


def test_bandit_checkpoints_are_proportionate_and_their_bytes_counted(tmp_path, monkeypatch):
    import math

    import torch

    from auxrun.methods.autosem_p1 import AutosemP1Config, checkpoint_interval

    weights = list(torch.nn.Linear(1000, 1000).parameters())  # 1,001,000 fp32: 3 x 3.82 MB with AdamW's
    state_mb = 3 * 1_001_000 * 4 / 2**20
    assert checkpoint_interval(AutosemP1Config(checkpoint_mb_per_round=1.0), weights) == math.ceil(state_mb)
    assert checkpoint_interval(AutosemP1Config(checkpoint_mb_per_round=100.0), weights) == 1
    assert checkpoint_interval(AutosemP1Config(checkpoint_every=7), weights) == 7
    bert_base = 3 * 110e6 * 4 / 2**20  # ~1.26 GB of checkpoint per round at the old default
    assert math.ceil(bert_base / AutosemP1Config().checkpoint_mb_per_round) >= 50

    sizes = []
    orig = p1_mod.save_bandit_checkpoint

    def spy(path, state):
        orig(path, state)
        sizes.append((state["round"], path.stat().st_size))

    monkeypatch.setattr(p1_mod, "save_bandit_checkpoint", spy)
    run_auxrun([*P1, "method.checkpoint_every=5"], tmp_path)  # 12 rounds: after 5, 10 and the last
    assert [r for r, _ in sizes] == [5, 10, 12]
    cost = json.loads((tmp_path / "selection.json").read_text())["cost"]["select/bandit"]
    assert cost["bytes_written"] == sum(s for _, s in sizes)
    assert sizes[-1][1] < sizes[0][1] / 10  # the final record holds no model

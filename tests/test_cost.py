"""The cost ledger: nested stages, counts into every open stage, and checkpoints taken mid-stage."""

from auxrun.training import cost as cost_mod
from auxrun.training.cost import CostLedger


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_nested_counts_and_mid_stage_checkpoint(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(cost_mod.time, "perf_counter", clock)
    ledger = CostLedger()
    with ledger.stage("select"):
        with ledger.stage("select/bandit"):
            ledger.count(forward=3, backward=2)
            clock.t = 10.0
            saved = ledger.state_dict("select")  # a checkpoint 10 s into both open stages
    assert (
        saved["stages"]["select"]["wall_s"] == 10.0
        and saved["stages"]["select/bandit"]["examples_backward"] == 2
    )

    resumed = CostLedger()  # a new process: starts at t=100, restores, works 5 s more
    clock.t = 100.0
    with resumed.stage("select"):
        with resumed.stage("select/bandit"):
            resumed.load_state_dict({"stages": saved["stages"]})
            clock.t = 105.0
            resumed.count(forward=1)
    d = resumed.to_dict()
    assert d["select"]["wall_s"] == 15.0 and d["select/bandit"]["wall_s"] == 15.0  # 10 saved + 5 new
    assert d["select"]["examples_forward"] == 4 and d["select/bandit"]["examples_forward"] == 4

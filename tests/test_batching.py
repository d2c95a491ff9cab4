"""Training batches: length grouping (deterministic, resumable, less padding) and the DataLoader feeder."""

import copy
import dataclasses
import random

import pytest
import torch

from auxrun.data.features import EncodedSplit
from auxrun.run import build_context
from auxrun.selection import Selection
from auxrun.training.batching import BatchFeeder, TaskBatches, padding_ratio
from auxrun.training.cost import CostLedger
from auxrun.validate import validate_run
from tests.conftest import FAST, compose


def spread_split(n: int = 700, seed: int = 0) -> EncodedSplit:
    """Made-up examples of 8 to 128 tokens (ids are their positions)."""
    rng = random.Random(seed)
    ids = [list(range(rng.randint(8, 128))) for _ in range(n)]
    return EncodedSplit("spread", "train", ids, [[0] * len(x) for x in ids], [0] * n, [0] * n)


def take(b: TaskBatches, k: int) -> list[list[int]]:
    return [b.next() for _ in range(k)]


@pytest.mark.parametrize("grouped", [False, True])
def test_each_pass_covers_every_example_once_in_full_batches(grouped):
    split = spread_split()
    indices = list(range(0, 700, 2))  # a subset: 350 examples
    b = TaskBatches(split, indices, 32, seed=3, group_by_length=grouped)
    batches = take(b, len(b))
    assert sorted(i for x in batches for i in x) == indices
    assert [len(x) for x in batches] == [32] * 10 + [30]
    assert take(b, len(b)) != batches  # the second pass is reshuffled


def test_grouped_order_is_a_function_of_seed_task_and_epoch():
    split = spread_split()
    runs = []
    for seed, epoch in [(3, 0), (3, 0), (3, 1), (4, 0)]:
        b = TaskBatches(split, list(range(700)), 32, seed=seed, group_by_length=True)
        b.reset(epoch)
        runs.append(take(b, 30))
    assert runs[0] == runs[1] and runs[0] != runs[2] and runs[0] != runs[3]


def test_grouped_position_resumes_exactly():
    split = spread_split()
    a = TaskBatches(split, list(range(700)), 32, seed=5, group_by_length=True)
    a.reset(2)
    take(a, 27)  # into the second pass
    state = a.state_dict()
    expected = take(a, 20)
    b = TaskBatches(split, list(range(700)), 32, seed=5, group_by_length=True)
    b.load_state_dict(state)
    assert take(b, 20) == expected


def test_grouping_reduces_padding():
    split = spread_split(1600)
    ratios = {}
    for grouped in (False, True):
        b = TaskBatches(split, list(range(1600)), 32, seed=0, group_by_length=grouped)
        computed, real = padding_ratio(split, take(b, len(b)))
        ratios[grouped] = computed / real
    # uniform lengths 8..128: a random batch of 32 pads to ~125 tokens for a mean of 68
    assert ratios[False] > 1.6
    assert ratios[True] < 1.05


def test_feeder_with_workers_gives_the_same_batches_as_in_process():
    split = spread_split(300)
    feeders = [
        BatchFeeder(
            TaskBatches(split, list(range(300)), 16, seed=1, group_by_length=True), "classification", 0, w
        )
        for w in (0, 1)
    ]
    seen = []
    for f in feeders:
        out = [f.next() for _ in range(5)]
        f.batches.reset(1)  # a new epoch: the loader restarts from the new position
        out += [f.next() for _ in range(25)]
        f.batches.load_state_dict({"epoch": 0, "passes": 0, "offset": 32})  # a resume
        out += [f.next() for _ in range(3)]
        seen.append(out)
        f.close()
    assert len(seen[0]) == len(seen[1]) == 33
    for (ia, la, ra, ba), (ib, lb, rb, bb) in zip(*seen):
        assert ia == ib == la == lb and ra and rb
        assert ba.keys() == bb.keys() and all(torch.equal(ba[k], bb[k]) for k in ba)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    cfg = compose(["quiet=true", "task_set.tasks=[toy_sentiment,toy_rating,toy_pos]", *FAST])
    specs = validate_run(cfg)
    return build_context(cfg, tmp_path_factory.mktemp("run"), specs, CostLedger())


def _trainer(ctx, num_workers: int = 0, **train):
    cfg = copy.deepcopy(ctx.cfg)
    cfg.hardware.num_workers = num_workers
    for k, v in train.items():
        setattr(cfg.train, k, v)
    sel = Selection("t", "toy_sentiment", ctx.pool.auxiliaries, ["toy_rating", "toy_pos"])
    return dataclasses.replace(ctx, cfg=cfg).new_trainer(
        sel, "t", epochs=2, eval_splits=["select_dev"], progress=False
    )


def test_trainer_groups_by_length_and_resumes_exactly(ctx):
    plain = _trainer(ctx)
    for _ in range(12):
        plain.train_batches("toy_pos", 1)
    grouped = _trainer(ctx, group_by_length=True)
    torch.manual_seed(0)
    for _ in range(6):
        grouped.train_batches("toy_pos", 1)
    state = grouped.state_dict()
    rest = [grouped.train_batches("toy_pos", 1) for _ in range(6)]
    assert (
        grouped.tokens["computed"] / grouped.tokens["real"] < plain.tokens["computed"] / plain.tokens["real"]
    )
    resumed = _trainer(ctx, group_by_length=True)
    resumed.load_state_dict(state)
    assert [resumed.train_batches("toy_pos", 1) for _ in range(6)] == rest


@pytest.mark.slow
def test_trainer_with_dataloader_workers_trains_identically(ctx):
    histories = []
    for workers in (0, 1):
        trainer = _trainer(ctx, num_workers=workers, group_by_length=True)
        feeder = trainer.feeders["toy_pos"]
        assert feeder.num_workers == workers
        loaders = []
        original = feeder._loader
        feeder._loader = lambda loaders=loaders, original=original: loaders.append(1) or original()
        trainer.fit()
        assert len(loaders) == (2 if workers else 0)  # with workers: a DataLoader per epoch fed the batches
        assert feeder._it is None  # fit stops the workers at the end
        histories.append(trainer.history)
    assert histories[0] == histories[1]

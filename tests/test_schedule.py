"""Batch schedules: MT-DNN's size-proportional order and AUTOSEM's fixed mixing ratio."""

import random
from collections import Counter

import pytest

from auxrun.errors import ConfigError
from auxrun.training.schedule import epoch_schedule, mixing_ratio, size_proportional


def test_size_proportional_uses_every_batch_once():
    n = {"p": 10, "a": 30, "b": 5}
    order = size_proportional(n, random.Random(0))
    assert Counter(order) == Counter(n)
    assert order != sorted(order)  # shuffled


def test_ratio_matches_the_configured_proportions():
    n = {"p": 12, "a": 100, "b": 100, "c": 100}
    order = mixing_ratio(n, {"p": 2, "a": 3, "b": 1, "c": 0}, "p")
    counts = Counter(order)
    assert counts == {"p": 12, "a": 18, "b": 6}  # 6 cycles of 2:3:1, c dropped by its zero ratio
    assert order[:6] == ["p", "p", "a", "a", "a", "b"]


def test_ratio_needs_the_primary():
    with pytest.raises(ConfigError, match="primary 'p' must be >= 1"):
        mixing_ratio({"p": 3, "a": 3}, {"a": 1}, "p")


def test_schedule_is_a_function_of_seed_and_epoch():
    n = {"p": 7, "a": 9}
    assert epoch_schedule("auto", n, {}, "p", 1, 0) == epoch_schedule("auto", n, {}, "p", 1, 0)
    assert epoch_schedule("auto", n, {}, "p", 1, 0) != epoch_schedule("auto", n, {}, "p", 1, 1)
    assert Counter(epoch_schedule("auto", n, {"p": 1, "a": 2}, "p", 1, 0)) == {"p": 7, "a": 14}

"""Checks before compute: one clear line naming the bad value and the allowed ones."""

import pytest

from auxrun.errors import ConfigError
from auxrun.validate import validate_run
from tests.conftest import compose


def test_default_primary_is_the_first_of_the_task_set():
    cfg = compose([])
    validate_run(cfg)
    assert cfg.primary == "toy_sentiment"


@pytest.mark.parametrize(
    "overrides,pattern",
    [
        (["primary=toy_xyz"], r"primary='toy_xyz' is not in task_set 'toy'; allowed: \['toy_sentiment'"),
        (
            ["task_set.tasks=[toy_sentiment,nosuch]"],
            r"unknown task 'nosuch'; available tasks: \[.*'toy_pair'",
        ),
        (["train.epochs=0"], r"train.epochs=0 is out of range; allowed: \[1, inf\]"),
        (["data.select_dev_fraction=1.5"], r"data.select_dev_fraction=1.5 is out of range"),
        (["train.lr=-1"], r"train.lr=-1.0 is out of range"),
        (["data.max_length=4096"], r"data.max_length=4096 is out of range; allowed: \[8, 128\]"),
        (["stage=explode"], r"stage='explode' is not one of"),
        (["task_set.tasks=[toy_pair,toy_pair]", "primary=toy_pair"], r"more than once"),
    ],
)
def test_bad_values_are_named(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        validate_run(compose(overrides))


def test_message_is_one_line():
    with pytest.raises(ConfigError) as e:
        validate_run(compose(["primary=toy_xyz"]))
    assert "\n" not in str(e.value)

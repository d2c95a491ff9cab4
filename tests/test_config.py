"""Every option of every config group composes; the schema rejects bad keys and types."""

import pytest
from hydra.errors import ConfigCompositionException

from auxrun.paths import CONF_DIR
from tests.conftest import compose

GROUPS = ["method", "backbone", "task_set", "hardware", "logger"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]


@pytest.mark.parametrize("group,option", OPTIONS)
def test_every_option_composes(group, option):
    cfg = compose([f"{group}={option}"])
    assert getattr(cfg, group).name == option


def test_toy_is_the_default():
    cfg = compose([])
    assert (cfg.task_set.name, cfg.backbone.name, cfg.hardware.name) == ("toy", "tiny", "cpu")
    assert set(cfg.task_set.planted) == set(cfg.task_set.primaries)


def test_misspelt_key_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException, match="lrr"):
        compose(["train.lrr=0.1"])


def test_wrong_type_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException, match="epochs"):
        compose(["train.epochs=many"])


def test_method_keys_are_checked():
    with pytest.raises(ConfigCompositionException):
        compose(["method=single_task", "method.threshold=0.5"])


def test_task_set_narrowing_and_primary():
    cfg = compose(["task_set.tasks=[toy_pair,toy_topic]", "primary=toy_pair"])
    assert cfg.task_set.tasks == ["toy_pair", "toy_topic"] and cfg.primary == "toy_pair"

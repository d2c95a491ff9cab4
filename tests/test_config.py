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


@pytest.mark.parametrize(
    "option,launcher",
    [("slurm", "SlurmLauncher"), ("local_parallel", "LocalLauncher"), ("cpu", "BasicLauncher")],
)
def test_hardware_picks_the_sweep_launcher(option, launcher):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from auxrun.paths import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"hardware={option}"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith(launcher)


def test_local_parallel_sweep_runs_every_point_at_most_width_at_once(tmp_path):
    """hardware=local_parallel runs every point, and no more than array_parallelism at a time
    (submitit's local executor alone would start them all at once): with a width of 1 each point
    starts (Hydra writes .hydra/overrides.yaml) after the one before it wrote its results."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "auxrun.cli",
            "-m",
            "hardware=local_parallel",
            "hydra.launcher.array_parallelism=1",
            "method=single_task",
            "seed=1,2,3",
            "task_set.tasks=[toy_sentiment,toy_rating]",
            "data.toy_scale=0.1",
            "train.epochs=1",
            "quiet=true",
            f"hydra.sweep.dir={tmp_path}",
        ],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    runs = sorted(p.parent for p in tmp_path.glob("*/results.json"))
    seeds = sorted(json.loads((d / "results.json").read_text())["seed"] for d in runs)
    assert seeds == [1, 2, 3]
    spans = sorted(
        ((d / ".hydra" / "overrides.yaml").stat().st_mtime_ns, (d / "results.json").stat().st_mtime_ns)
        for d in runs
    )
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans


def test_local_parallel_width_defaults_to_cores_over_cpus_per_task(monkeypatch):
    import os

    from auxrun.launcher import local_width

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert (local_width(1), local_width(2), local_width(3), local_width(16), local_width(None)) == (
        8,
        4,
        2,
        1,
        8,
    )


def _setting_files():
    return sorted((CONF_DIR / "setting").glob("*.yaml"))


@pytest.mark.parametrize("path", _setting_files(), ids=lambda p: p.stem)
def test_every_setting_applies_to_its_task_set_and_method(path):
    """setting/<task_set>_<method>.yaml composes, and only for its own pair."""
    from auxrun.methods.registry import METHODS, load_all

    load_all()
    method = next(m for m in sorted(METHODS, key=len, reverse=True) if path.stem.endswith("_" + m))
    task_set = path.stem[: -len(method) - 1]
    cfg = compose([f"task_set={task_set}", f"method={method}"])
    assert (cfg.task_set.name, cfg.method.name) == (task_set, method)


def test_setting_applies_per_task_set_and_the_command_line_wins():
    assert compose(["method=autosem"]).method.rounds == 100  # setting/toy_autosem.yaml
    assert compose(["method=autosem", "method.rounds=7"]).method.rounds == 7
    assert compose(["method=autosem", "task_set=glue8"]).method.rounds == 200  # the paper's default
    assert compose(["method=autosem_p1"]).method.tie_break == "loss"
    assert compose(["method=gradts_trial"]).method.name == "gradts_trial"  # no setting file: fine

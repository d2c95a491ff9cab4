import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Every test session gets its own artifact cache (toy data, tokenizers, head matrices)."""
    os.environ["AUXRUN_CACHE"] = str(tmp_path_factory.mktemp("auxrun-cache"))
    yield


def compose(overrides: list[str]):
    """The RunConfig the CLI would build from these overrides (validated)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from auxrun.config import register_configs
    from auxrun.paths import CONF_DIR

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        dcfg = hydra_compose("config", overrides=overrides)
    return OmegaConf.to_object(dcfg)


def run_auxrun(overrides: list[str], run_dir: Path) -> dict:
    """Compose, validate and run in-process (what `auxrun` does, minus Hydra's job plumbing)."""
    from auxrun.run import run, save_config
    from auxrun.validate import validate_run

    cfg = compose(["quiet=true", *overrides])
    specs = validate_run(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not cfg.resume:
        save_config(cfg, run_dir)
    return run(cfg, run_dir, specs)


# Small and fast: toy pool at 30% size, 2 epochs.
FAST = ["data.toy_scale=0.3", "train.epochs=2", "train.batch_size=16"]

"""The ``auxrun`` entry point: compose the config with Hydra, validate it, run the stages."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from auxrun.config import register_configs
from auxrun.errors import AuxrunError
from auxrun.paths import CONF_DIR

register_configs()
log = logging.getLogger("auxrun")


def _cleanup_if_empty(run_dir: Path) -> None:
    """Remove the folder Hydra made when the run failed before writing any output of its own."""
    if not run_dir.is_dir():
        return
    leftovers = [p for p in run_dir.iterdir() if p.name != ".hydra" and not p.name.endswith(".log")]
    if not leftovers:
        shutil.rmtree(run_dir, ignore_errors=True)


def _run(dcfg: DictConfig) -> float | None:
    from auxrun.run import load_saved_config, run, save_config
    from auxrun.validate import validate_run

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    created = not (run_dir / "config.yaml").exists()
    try:
        if dcfg.resume:
            cfg = load_saved_config(run_dir)
        else:
            cfg = OmegaConf.to_object(dcfg)
        specs = validate_run(cfg)
        if not dcfg.resume:
            save_config(cfg, run_dir)
        results = run(cfg, run_dir, specs)
    except AuxrunError as e:
        if created and not dcfg.resume and not (run_dir / "selection.json").exists():
            (run_dir / "config.yaml").unlink(missing_ok=True)
            _cleanup_if_empty(run_dir)
        print(f"auxrun: error: {e}", file=sys.stderr)
        sys.exit(2)
    best = results.get("best", {}) if isinstance(results, dict) else {}
    main = results.get("main_metric") if isinstance(results, dict) else None
    return best.get("dev", {}).get(main) if main else None  # what a Hydra sweeper optimises


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(dcfg: DictConfig) -> float | None:
    return _run(dcfg)


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _hydra_main()


if __name__ == "__main__":
    main()

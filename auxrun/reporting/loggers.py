"""Experiment loggers beyond the run folder's own files (which are always written)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf


def log_run(cfg, run_dir: Path, results: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Send a finished run to the configured logger; ``csv`` and ``none`` need nothing more."""
    if cfg.logger.name != "wandb":
        return
    import wandb

    mode = cfg.logger.mode if os.environ.get("WANDB_API_KEY") else "offline"
    run = wandb.init(
        project=cfg.logger.project,
        mode=mode,
        dir=str(run_dir),
        name=run_dir.name,
        config=OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True),
        reinit="finish_previous",
    )
    try:
        for row in history:
            run.log(row, step=row["epoch"])
        run.summary.update(
            {f"best/{s}/{m}": v for s, vals in results["best"].items() for m, v in vals.items()}
        )
    finally:
        run.finish()  # always close, even when logging fails

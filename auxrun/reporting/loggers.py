"""Experiment loggers beyond the run folder's own files (which are always written).

``open_logger(cfg, run_dir)`` is opened before training; the trainer calls ``log_epoch`` with each
epoch's row as soon as it is evaluated, and ``finish`` adds the best scores and closes the run.

wandb: runs of one sweep share a group (the sweep folder, where Hydra writes ``multirun.yaml``); the
wandb run id is kept in the run folder (``wandb_id``), so ``resume=true`` continues the same wandb run
and logs only the epochs it trains. Online or offline is wandb's own decision (``wandb login``,
``WANDB_MODE``), unless ``logger.mode`` names one.
"""

from __future__ import annotations

import atexit
import secrets
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf


class NullLogger:
    def log_epoch(self, row: dict[str, Any]) -> None:
        pass

    def finish(self, results: dict[str, Any]) -> None:
        pass


def sweep_group(run_dir: Path) -> str | None:
    """The sweep a run belongs to: its parent folder when Hydra wrote ``multirun.yaml`` there."""
    parent = Path(run_dir).resolve().parent
    return f"{parent.parent.name}/{parent.name}" if (parent / "multirun.yaml").is_file() else None


class WandbLogger(NullLogger):
    def __init__(self, cfg, run_dir: Path):
        import wandb

        from auxrun.io import write_text_atomic

        id_path = Path(run_dir) / "wandb_id"
        run_id = id_path.read_text().strip() if id_path.is_file() else secrets.token_hex(4)
        if not id_path.is_file():
            write_text_atomic(id_path, run_id + "\n")
        kwargs: dict[str, Any] = {"mode": cfg.logger.mode} if cfg.logger.mode else {}
        self.run = wandb.init(
            project=cfg.logger.project,
            id=run_id,
            resume="allow",
            group=cfg.logger.group or sweep_group(run_dir),
            dir=str(run_dir),
            name=Path(run_dir).name,
            config=OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True),
            reinit="finish_previous",
            **kwargs,
        )
        atexit.register(self._close)  # a failed run is still closed (wandb marks its exit code)

    def log_epoch(self, row: dict[str, Any]) -> None:
        self.run.log(dict(row), step=int(row["epoch"]))

    def finish(self, results: dict[str, Any]) -> None:
        try:
            self.run.summary.update(
                {f"best/{s}/{m}": v for s, vals in results["best"].items() for m, v in vals.items()}
            )
            self.run.summary["best_epoch"] = results.get("best_epoch")
        finally:
            self._close()

    def _close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


def open_logger(cfg, run_dir: Path) -> NullLogger:
    """The configured logger; ``csv`` and ``none`` need nothing beyond the run folder's files."""
    if cfg.logger.name == "wandb":
        return WandbLogger(cfg, run_dir)
    return NullLogger()

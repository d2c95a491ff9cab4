"""The config a job runs with: a new run's composed config, or a resumed run's saved ``config.yaml``.

``resume`` is ``false`` (start), ``true`` (continue the run folder; it must hold a run) or ``auto``
(continue when the folder holds a run, else start: what a requeued Slurm job needs, and what
``hardware.requeue: true`` implies). A resumed run reloads its ``config.yaml``; an override on the
command line that would change what the run computes is refused with the keys that differ, and
the few that cannot change a number (``quiet``, threads, workers, logger, cache folder) are applied.
``stage=all`` on a finished ``stage=select`` run is taken too: it trains on the saved selection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from auxrun.config import RunConfig
from auxrun.errors import AuxrunError, ConfigError

GROUPS = ("method", "backbone", "task_set", "hardware", "logger", "setting")
# Keys a resumed run may take from the command line: none changes a computed number.
SAFE_ON_RESUME = ("quiet", "cache_dir", "hardware.num_threads", "hardware.num_workers", "hardware.requeue")
SAFE_PREFIXES = ("logger",)
# Changes a resumed run may take because they only add work after what it saved: a finished
# selection (stage=select) goes on to train on that selection (stage=all).
WIDENING = (("stage", "select", "all"),)
IGNORED = ("resume",)


def resume_mode(value: Any) -> str:
    """``true`` / ``false`` / ``auto`` from what Hydra parsed (a bool or a string)."""
    text = str(value).lower()
    if text not in ("true", "false", "auto"):
        raise ConfigError(f"resume={value} is not one of ['true', 'false', 'auto']")
    return text


def schema_for(method_name: str) -> DictConfig:
    from auxrun.methods.registry import METHODS, load_all

    load_all()
    schema = OmegaConf.structured(RunConfig)
    if method_name in METHODS:
        schema.method = OmegaConf.structured(METHODS[method_name][1])
    return schema


def strict_config(dcfg: DictConfig) -> RunConfig:
    """The composed config checked against the schema again, so that a key added with ``+key=value``
    that the schema does not know fails like a misspelt key instead of being carried along unused."""
    raw = OmegaConf.to_container(dcfg, resolve=True)
    raw.pop("hydra", None)
    try:
        merged = OmegaConf.merge(schema_for(str(dcfg.method.name)), raw)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "?"
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        node = OmegaConf.select(schema_for(str(dcfg.method.name)), parent) if parent else None
        known = sorted(node.keys()) if isinstance(node, DictConfig) else sorted(RunConfig.__annotations__)
        raise ConfigError(
            f"unknown key '{key}'; known keys{' under ' + parent if parent else ''}: {known}"
        ) from None
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def override_keys(overrides: list[str]) -> list[str]:
    keys = []
    for o in overrides:
        key = o.lstrip("+~").split("=", 1)[0].strip()
        if key and not key.startswith("hydra.") and key not in IGNORED:
            keys.append(key)
    return keys


def changed_keys(saved: RunConfig, new: RunConfig, overrides: list[str]) -> list[tuple[str, Any, Any]]:
    """(key, saved value, new value) for each overridden key whose value differs from the saved run's."""
    s, n = OmegaConf.structured(saved), OmegaConf.structured(new)
    out = []
    for key in override_keys(overrides):
        if key == "setting":
            continue  # a setting's keys are compared through the keys it sets (method.*, train.*)
        a, b = OmegaConf.select(s, key, default=None), OmegaConf.select(n, key, default=None)
        a = OmegaConf.to_container(a) if OmegaConf.is_config(a) else a
        b = OmegaConf.to_container(b) if OmegaConf.is_config(b) else b
        if key == "primary" and b is None:
            continue
        if a != b:
            out.append((key, a, b))
    return out


def _safe(key: str) -> bool:
    return key in SAFE_ON_RESUME or key.split(".", 1)[0] in SAFE_PREFIXES


def resumed_config(run_dir: Path, new: RunConfig, overrides: list[str]) -> RunConfig:
    from auxrun.run import load_saved_config

    try:
        saved = load_saved_config(run_dir)
    except AuxrunError:
        raise
    except Exception as e:  # cut short or edited into something else: nothing to heal it from
        from auxrun.io import damage

        raise ConfigError(
            f"resume: {run_dir / 'config.yaml'} is damaged ({damage(e)}); restore it, or start a new run"
        ) from None
    diff = changed_keys(saved, new, overrides)
    refused = [(k, a, b) for k, a, b in diff if not _safe(k) and (k, a, b) not in WIDENING]
    if refused:
        listed = ", ".join(f"{k} (saved {a!r}, given {b!r})" for k, a, b in refused)
        raise ConfigError(
            f"resume: the overrides change {listed} from {run_dir / 'config.yaml'}; a resumed run keeps its "
            f"saved config: drop them, or start a new run"
        )
    merged = OmegaConf.structured(saved)
    n = OmegaConf.structured(new)
    for key, _, _ in diff:
        OmegaConf.update(merged, key, OmegaConf.select(n, key), merge=False)
    cfg: RunConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    cfg.resume = True
    return cfg


def job_config(dcfg: DictConfig, run_dir: Path, overrides: list[str]) -> RunConfig:
    """The RunConfig this job runs: new (``resume`` false) or the folder's saved one."""
    mode = resume_mode(dcfg.resume)
    new = strict_config(dcfg)
    if mode == "false" and new.hardware.requeue:
        mode = "auto"
    if mode == "auto":
        mode = "true" if (run_dir / "config.yaml").is_file() else "false"
    if mode == "false":
        new.resume = False
        return new
    return resumed_config(run_dir, new, overrides)


# ---- an interrupted run: where it stands, and the command that continues it -------------------------


def standing(run_dir: Path) -> str:
    """Where an interrupted run stands, read from its folder: which stage finished, how many
    training epochs its checkpoint holds."""
    import csv

    import yaml

    if (run_dir / "results.json").is_file():
        return "the run had finished (results.json)"
    if not (run_dir / "selection.json").is_file():
        return "the selection stage had not finished (resuming runs it again; what it cached is reused)"
    try:
        epochs = (yaml.safe_load((run_dir / "config.yaml").read_text()) or {})["train"]["epochs"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        epochs = "?"
    try:
        with open(run_dir / "metrics.csv", newline="") as f:
            done = max(0, sum(1 for _ in csv.reader(f)) - 1)
    except OSError:
        done = 0
    if not (run_dir / "checkpoints" / "train.pt").is_file():
        done = 0
    if done and (run_dir / "checkpoints" / "finetune.pt").is_file():
        return "training done, fine-tuning interrupted (its checkpoint is kept)"
    return f"selection done, training interrupted with {done} of {epochs} epochs checkpointed"


def resume_command(run_dir: Path | None, sweep_dir: Path | None, argv: list[str]) -> str:
    """The command that continues: ``resume=true`` on the run folder, or the same sweep again on its
    folder with ``resume=auto`` (finished points are skipped, the others continue)."""
    import shlex

    if sweep_dir is None:
        return shlex.join(["auxrun", "resume=true", f"hydra.run.dir={run_dir}"])
    kept = [a for a in argv if not a.startswith(("resume=", "hydra.sweep.dir="))]
    return shlex.join(["auxrun", *kept, "resume=auto", f"hydra.sweep.dir={sweep_dir}"])

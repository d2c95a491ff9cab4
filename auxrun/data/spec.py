"""TaskSpec: a task defined as data, one YAML file per task under conf/task/ (MT-DNN's task_def)."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from auxrun.errors import ConfigError

TASK_TYPES = ("single_sentence", "paraphrase", "inference", "similarity", "tagging", "emotion", "choice")


@dataclass
class LocalSource:
    """Files under ``data.root``: ``<root>/<dir>/<files[split]>`` read by the reader named ``format``."""

    format: str = "glue_tsv"
    dir: str = ""
    files: dict[str, str] = field(default_factory=dict)  # split name -> file name
    options: dict[str, Any] = field(default_factory=dict)  # reader-specific (columns, header, ...)


@dataclass
class HubSource:
    """A Hugging Face hub dataset (``datasets.load_dataset(id, config, revision=...)``)."""

    id: str = ""
    config: str | None = None
    revision: str | None = None
    splits: dict[str, str] = field(default_factory=dict)  # auxrun split -> hub split
    columns: dict[str, str] = field(default_factory=dict)  # Example field -> hub column
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToySource:
    """The embedded generator (auxrun.data.toy): which family/rule and how many examples per split."""

    rule: str = ""
    sizes: dict[str, int] = field(default_factory=dict)


@dataclass
class Sources:
    local: LocalSource | None = None
    hub: HubSource | None = None
    toy: ToySource | None = None


@dataclass
class TaskSpec:
    name: str = "???"
    objective: str = "classification"  # a module of auxrun/objectives/
    task_type: str = "single_sentence"
    labels: list[str] = field(default_factory=list)  # empty for regression
    input_fields: list[str] = field(default_factory=lambda: ["text_a"])
    metrics: list[str] = field(default_factory=list)  # empty: the objective's default metrics
    main_metric: str = ""  # empty: the first of metrics
    # Splits that are reported (scored when labelled); "dev" is the one best-epoch selection uses.
    eval_splits: list[str] = field(default_factory=lambda: ["dev"])
    # Carve a dev split out of train when the data set has none (CoNLL-2000): fraction and seed.
    dev_from_train: float = 0.0
    dev_from_train_seed: int = 42
    description: str = ""
    sources: Sources = field(default_factory=Sources)

    def __post_init__(self) -> None:
        from auxrun.objectives import OBJECTIVES, objective_names

        if self.objective in objective_names(task_files_only=False) and not self.metrics:
            self.metrics = list(OBJECTIVES[self.objective].default_metrics)
        if not self.main_metric and self.metrics:
            self.main_metric = self.metrics[0]

    @property
    def num_labels(self) -> int:
        from auxrun.objectives import get_objective

        return get_objective(self.objective).num_outputs(self)

    def validate(self, where: str) -> None:
        from auxrun.objectives import get_objective, objective_names

        if self.objective not in objective_names():
            raise ConfigError(f"{where}: objective '{self.objective}' is not one of {objective_names()}")
        if self.task_type not in TASK_TYPES:
            raise ConfigError(f"{where}: task_type '{self.task_type}' is not one of {list(TASK_TYPES)}")
        get_objective(self.objective).validate_spec(self, where)
        if self.main_metric not in self.metrics:
            raise ConfigError(f"{where}: main_metric '{self.main_metric}' is not in metrics {self.metrics}")
        from auxrun.eval.metrics import METRICS

        for m in self.metrics:
            if m not in METRICS:
                raise ConfigError(f"{where}: metric '{m}' is unknown; known metrics: {sorted(METRICS)}")
        if not 0.0 <= self.dev_from_train < 1.0:
            raise ConfigError(f"{where}: dev_from_train={self.dev_from_train} must be in [0, 1)")
        self._validate_sources(where)

    def source_splits(self) -> dict[str, list[str]]:
        """The splits each defined source provides, by source name."""
        out = {}
        if self.sources.local is not None:
            out["local"] = list(self.sources.local.files)
        if self.sources.hub is not None:
            out["hub"] = list(self.sources.hub.splits)
        if self.sources.toy is not None:
            out["toy"] = list(self.sources.toy.sizes)
        return out

    def _validate_sources(self, where: str) -> None:
        for source, splits in self.source_splits().items():
            have = set(splits) | ({"dev"} if self.dev_from_train > 0 else set())
            if "train" not in have:
                raise ConfigError(f"{where}: sources.{source} has no train split; it lists {splits}")
            for split in self.eval_splits:
                if split not in have:
                    raise ConfigError(
                        f"{where}: eval_splits lists '{split}', which sources.{source} does not provide "
                        f"(it lists {splits})"
                    )
        local = self.sources.local
        if local is None:
            return
        from auxrun.data.formats import COLUMN_FIELDS, COMMON_OPTIONS, READER_OPTIONS

        if local.format not in READER_OPTIONS:
            return  # a reader registered elsewhere checks its own options
        allowed = (*READER_OPTIONS[local.format], *COMMON_OPTIONS)
        prefix = f"{where}: sources.local.options"
        _check_keys(local.options, allowed, prefix, local.format)
        per_split = local.options.get("per_split") or {}
        for split, opts in per_split.items():
            if split not in local.files:
                raise ConfigError(f"{prefix}.per_split: split '{split}' is not in files {list(local.files)}")
            _check_keys(
                opts or {}, [k for k in allowed if k != "per_split"], f"{prefix}.per_split.{split}", ""
            )
        for opts, at in [
            (local.options, prefix),
            *((o or {}, f"{prefix}.per_split.{s}") for s, o in per_split.items()),
        ]:
            columns = opts.get("columns")
            if isinstance(columns, dict):
                _check_keys(columns, COLUMN_FIELDS, f"{at}.columns", "")


def _check_keys(options: Any, allowed, where: str, reader: str) -> None:
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: expected a mapping, found {options!r}")
    for key in options:
        if key not in allowed:
            by = f" the {reader} reader's" if reader else ""
            raise ConfigError(f"{where}: unknown key '{key}'; allowed:{by} {sorted(allowed)}")


def task_dirs(extra: list[str] | None = None) -> list[Path]:
    from auxrun.paths import CONF_DIR

    return [Path(d) for d in (extra or [])] + [CONF_DIR / "task"]


def available_tasks(extra_dirs: list[str] | None = None) -> list[str]:
    names: set[str] = set()
    for d in task_dirs(extra_dirs):
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def load_task_spec(name: str, extra_dirs: list[str] | None = None) -> TaskSpec:
    """Read ``<name>.yaml`` from the task directories, checked against the TaskSpec schema."""
    for d in task_dirs(extra_dirs):
        path = d / f"{name}.yaml"
        if path.is_file():
            break
    else:
        raise ConfigError(f"unknown task '{name}'; available tasks: {available_tasks(extra_dirs)}")
    st = path.stat()
    # a copy, as callers may change theirs; the file's real path, mtime and size key the cache (an edit
    # is read again)
    return copy.deepcopy(_read_task_spec(name, path, path.resolve(), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=256)
def _read_task_spec(name: str, path: Path, _where: Path, _mtime_ns: int, _size: int) -> TaskSpec:
    """The spec in ``path`` (schema-checked: OmegaConf's merge is most of a run's validation time)."""
    try:
        raw = OmegaConf.load(path)
        merged = OmegaConf.merge(OmegaConf.structured(TaskSpec), raw)
        spec: TaskSpec = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except (OmegaConfBaseException, yaml.YAMLError) as e:
        msg = " ".join(str(e).split())
        raise ConfigError(f"{path}: {msg}") from None
    if spec.name != name:
        raise ConfigError(f"{path}: name '{spec.name}' does not match the file name '{name}'")
    spec.validate(str(path))
    return spec

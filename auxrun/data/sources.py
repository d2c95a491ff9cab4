"""Where a task's raw splits come from: local official files, the hub, or the toy generator."""

from __future__ import annotations

import logging
from pathlib import Path

from auxrun.config import DataConfig
from auxrun.data.example import Example
from auxrun.data.spec import TaskSpec
from auxrun.errors import DataError

log = logging.getLogger("auxrun")


def choose_source(spec: TaskSpec, data: DataConfig) -> str:
    if data.source != "auto":
        if getattr(spec.sources, data.source, None) is None:
            raise DataError(f"task '{spec.name}' has no '{data.source}' source (data.source={data.source})")
        return data.source
    if spec.sources.toy is not None:
        return "toy"
    if spec.sources.local is not None and data.root:
        return "local"
    if spec.sources.hub is not None:
        return "hub"
    if spec.sources.local is not None:
        raise DataError(
            f"task '{spec.name}' reads local files: set data.root=DIR to a folder holding "
            f"'{spec.sources.local.dir}/'"
        )
    raise DataError(f"task '{spec.name}' defines no data source")


def load_raw_splits(spec: TaskSpec, data: DataConfig) -> dict[str, list[Example]]:
    """All splits the task has, as Examples: train, the eval splits, and test where present. A split
    with no examples, or a reported split the source did not provide, is an error here, before any
    compute (not an empty results table at the end)."""
    source = choose_source(spec, data)
    if source == "toy":
        from auxrun.data import toy

        splits = _read_local(spec, toy.ensure_toy_task(spec, data))
    elif source == "local":
        if not data.root:
            raise DataError(f"task '{spec.name}': data.source=local needs data.root=DIR")
        splits = _read_local(spec, Path(data.root))
    else:
        from auxrun.data import hub

        splits = hub.load_hub_splits(spec, data)
        for split, examples in splits.items():
            if not examples:
                raise DataError(
                    f"task '{spec.name}': hub dataset '{spec.sources.hub.id}' split '{split}' is empty"
                )
    train = splits.get("train", [])
    if getattr(data, "select_dev_fraction", 0) > 0 and len(train) < 2:
        raise DataError(
            f"task '{spec.name}': the train split has {len(train)} example(s) ({_where(spec, source, data)}); "
            "at least 2 are needed to hold out select_dev"
        )
    carved = {"dev"} if spec.dev_from_train > 0 and "dev" not in splits else set()
    missing = [s for s in spec.eval_splits if s not in splits and s not in carved]
    if missing:
        raise DataError(
            f"task '{spec.name}': reported split(s) {missing} were not read from the {source} source "
            f"(read: {sorted(splits)})"
        )
    return splits


def _read_local(spec: TaskSpec, root: Path) -> dict[str, list[Example]]:
    from auxrun.data.formats import READERS

    local = spec.sources.local
    if local is None:
        raise DataError(f"task '{spec.name}' has no local source")
    if local.format not in READERS:
        raise DataError(f"task '{spec.name}': unknown format '{local.format}'; known: {sorted(READERS)}")
    folder = root / local.dir
    splits = {}
    for split, fname in local.files.items():
        path = folder / fname
        if not path.is_file():
            expected = ", ".join(f"{local.dir}/{f}" for f in local.files.values())
            raise DataError(
                f"task '{spec.name}': missing file {path}; expected under data.root={root}: {expected}"
            )
        splits[split] = READERS[local.format](path, spec, split, dict(local.options))
        if not splits[split]:
            raise DataError(f"task '{spec.name}': {path} holds no examples (split '{split}')")
        expected = local.options.get("expected_counts", {}).get(split)
        if expected is not None and len(splits[split]) != expected:
            log.warning(
                "task '%s' split '%s': read %d examples from %s; the full official file has %d "
                "(a partial copy or another release?)",
                spec.name,
                split,
                len(splits[split]),
                path,
                expected,
            )
    return splits


def _where(spec: TaskSpec, source: str, data: DataConfig) -> str:
    local = spec.sources.local
    if source == "local" and local is not None and "train" in local.files:
        return str(Path(data.root or ".") / local.dir / local.files["train"])
    return f"{source} source"

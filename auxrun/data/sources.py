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
    """All splits the task has, as Examples: train, the eval splits, and test where present."""
    source = choose_source(spec, data)
    if source == "toy":
        from auxrun.data import toy

        root = toy.ensure_toy_task(spec, data)
        return _read_local(spec, root)
    if source == "local":
        if not data.root:
            raise DataError(f"task '{spec.name}': data.source=local needs data.root=DIR")
        return _read_local(spec, Path(data.root))
    from auxrun.data import hub

    return hub.load_hub_splits(spec, data)


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

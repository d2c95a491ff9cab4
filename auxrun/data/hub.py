"""Hub sources: a task's splits from the Hugging Face hub, or from the authors' files on GitHub.

``sources.hub`` in a task file names the data set: ``id``, ``config``, ``revision`` (the
``refs/convert/parquet`` branch for data sets whose main branch still holds a loading script, which
datasets 4+ no longer runs), ``splits`` (auxrun split -> hub split), ``columns`` (Example field -> hub
column) and ``options``. ``options.provider: github_raw`` (MELD, which has no trustworthy hub copy)
downloads ``splits`` as file paths of the GitHub repository ``id`` at ``revision`` and reads them with
the task's local reader. Before anything is imported or downloaded the host is probed, so an offline
or unreachable hub fails within ``data.hub_timeout_s`` with a DataError naming data.root.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from auxrun.config import DataConfig
from auxrun.data.example import Example
from auxrun.data.spec import TaskSpec
from auxrun.errors import DataError
from auxrun.objectives import get_objective

HF_HOST = "huggingface.co"
GITHUB_RAW_HOST = "raw.githubusercontent.com"
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def offline_reason() -> str | None:
    for var in _OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var}={os.environ[var]}"
    return None


def probe(host: str, timeout: float) -> str | None:
    """None when https://host answers (any HTTP status) within timeout, else why not. An HTTPS request,
    not a bare TCP connect: a proxy or firewall may accept connections it never answers. Runs in a
    thread so a hanging DNS lookup cannot outlast the timeout; HTTPS_PROXY is honoured by urllib."""
    outcome: list[str | None] = [f"no answer from https://{host} within {timeout:g}s"]

    def request() -> None:
        try:
            urllib.request.urlopen(
                urllib.request.Request(f"https://{host}/", method="HEAD"), timeout=timeout
            ).close()
            outcome[0] = None
        except urllib.error.HTTPError:
            outcome[0] = None  # the server answered
        except (OSError, ValueError) as e:
            outcome[0] = f"cannot reach https://{host} ({getattr(e, 'reason', e)})"

    worker = threading.Thread(target=request, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if not worker.is_alive() else f"no answer from https://{host} within {timeout:g}s"


def _way_out(spec: TaskSpec) -> str:
    local = spec.sources.local
    if local is None:
        return "this task has no local source"
    files = ", ".join(f"{local.dir}/{f}" for f in local.files.values())
    return f"set data.root=DIR to a folder with the official files ({files})"


def load_hub_splits(spec: TaskSpec, data: DataConfig) -> dict[str, list[Example]]:
    hub = spec.sources.hub
    if hub is None:
        raise DataError(f"task '{spec.name}' has no hub source; {_way_out(spec)}")
    github = hub.options.get("provider") == "github_raw"
    if github and all(_github_cache_path(hub, p).is_file() for p in hub.splits.values()):
        return _load_github_raw(spec, data)  # already downloaded: no network needed
    reason = offline_reason() or probe(GITHUB_RAW_HOST if github else HF_HOST, data.hub_timeout_s)
    if reason:
        raise DataError(f"task '{spec.name}': the hub is unreachable ({reason}); {_way_out(spec)}")
    return _load_github_raw(spec, data) if github else _load_datasets(spec)


# --- Hugging Face datasets -------------------------------------------------------------------------


def _load_datasets(spec: TaskSpec) -> dict[str, list[Example]]:
    import datasets

    hub = spec.sources.hub
    assert hub is not None
    try:
        loaded = datasets.load_dataset(hub.id, hub.config, revision=hub.revision)
    except Exception as e:  # network, auth, missing config: one line and the way out
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"task '{spec.name}': cannot load {hub.id} ({hub.config}, revision {hub.revision}) "
            f"from the hub: {msg}; {_way_out(spec)}"
        ) from None
    out = {}
    for split, hub_split in hub.splits.items():
        if hub_split not in loaded:
            raise DataError(
                f"task '{spec.name}': {hub.id} has no split '{hub_split}'; it has {sorted(loaded)}"
            )
        out[split] = hub_examples(
            spec, loaded[hub_split].to_dict(), _label_names(loaded[hub_split].features, hub), split
        )
    return out


def _label_names(features: Any, hub: Any) -> list[str] | None:
    feat = features.get(hub.columns.get("label", "label")) if features is not None else None
    names = getattr(feat, "names", None) or getattr(getattr(feat, "feature", None), "names", None)
    return list(names) if names else None


def hub_examples(
    spec: TaskSpec, columns: dict[str, list], label_names: list[str] | None, split: str
) -> list[Example]:
    """Column-wise hub rows -> Examples. Integer labels become spec.labels strings: through the hub's
    ClassLabel names when they are the task's label strings (RTE, MNLI, NER), else by position (GLUE's
    0/1 tasks, whose names differ from the files' digits). Negative labels (GLUE test) become None."""
    hub = spec.sources.hub
    assert hub is not None
    cols, opts = hub.columns, hub.options
    allowed = set(spec.labels)
    label_names = label_names or opts.get("label_names")  # parquet files may carry no ClassLabel names
    names = label_names if label_names and any(n in allowed for n in label_names) else list(spec.labels)
    drop: dict[str, Any] = dict(opts.get("drop_tokens_where", {}))
    n = len(next(iter(columns.values()), []))

    def col(field: str) -> list | None:
        name = cols.get(field)
        if name is None:
            return None
        if name not in columns:
            raise DataError(
                f"task '{spec.name}': hub data {hub.id} has no column '{name}'; columns: {sorted(columns)}"
            )
        return columns[name]

    objective = get_objective(spec.objective)

    def label_of(value: Any, row: int) -> Any:
        return objective.hub_label(value, names, list(spec.labels), f"{hub.id} {split} row {row}")

    uids, text_a, text_b, tokens, labels = (
        col("uid"),
        col("text_a"),
        col("text_b"),
        col("tokens"),
        col("label"),
    )
    choice_cols = [columns[c] for c in opts.get("choices", [])]
    questions = columns.get(opts["question_column"]) if opts.get("question_column") else None
    question_text = dict(opts.get("question_text", {}))
    out = []
    for i in range(n):
        ex = Example(uid=str(uids[i]) if uids is not None else f"{split}-{i}")
        ex.text_a = text_a[i] if text_a is not None else None
        ex.text_b = text_b[i] if text_b is not None else None
        if questions is not None and ex.text_a is not None:
            ex.text_a = f"{ex.text_a} {question_text[questions[i]]}"
        if choice_cols:
            ex.choices = [c[i] for c in choice_cols]
        if tokens is not None:
            keep = [j for j in range(len(tokens[i])) if all(columns[c][i][j] != v for c, v in drop.items())]
            ex.tokens = [tokens[i][j] for j in keep]
            if labels is not None:
                ex.label = [label_of(labels[i][j], i) for j in keep]
        elif labels is not None:
            ex.label = label_of(labels[i], i)
        out.append(ex)
    return out


# --- original files on GitHub (MELD) ---------------------------------------------------------------


def _github_cache_path(hub: Any, repo_path: str) -> Path:
    from auxrun.paths import default_cache_dir

    return default_cache_dir() / "hub" / "github" / hub.id / (hub.revision or "master") / repo_path


def _download(url: str, dest: Path, timeout: float) -> None:
    """Once per cache: under the file's lock (a concurrent job waits and reuses the file), into a
    private temp file published first-writer-wins, so a failed or killed download leaves no half
    file and two jobs never write one temp file (auxrun/cache.py)."""
    from auxrun.cache import entry_lock, publish, temp_path

    with entry_lock(dest, f"the download of {url}"):
        if dest.is_file():
            return
        tmp = temp_path(dest)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as f:
                f.write(response.read())
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise DataError(f"cannot download {url} ({e})") from None
        publish(tmp, dest)


def _load_github_raw(spec: TaskSpec, data: DataConfig) -> dict[str, list[Example]]:
    from auxrun.data.formats import READERS

    hub, local = spec.sources.hub, spec.sources.local
    assert hub is not None
    if local is None:
        raise DataError(
            f"task '{spec.name}': provider github_raw reads with the local format; add sources.local"
        )
    out = {}
    for split, repo_path in hub.splits.items():
        dest = _github_cache_path(hub, repo_path)
        if not dest.is_file():
            url = f"https://{GITHUB_RAW_HOST}/{hub.id}/{hub.revision or 'master'}/{repo_path}"
            try:
                _download(url, dest, timeout=max(30.0, data.hub_timeout_s))
            except DataError as e:
                raise DataError(f"task '{spec.name}': {e}; {_way_out(spec)}") from None
        out[split] = READERS[local.format](dest, spec, split, dict(local.options))
    return out

"""Atomic file writes: an output is either whole or absent, never half-written."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """JSON that every reader accepts: a NaN or infinite number (a metric of a constant prediction)
    is written as null, never as the non-standard ``NaN``."""
    text = json.dumps(finite_json(obj), indent=2, sort_keys=False, default=_default, allow_nan=False)
    write_text_atomic(path, text + "\n")


def finite_json(obj: Any) -> Any:
    """``obj`` with every non-finite float (numpy scalars included) replaced by None."""
    import numpy as np

    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite_json(obj.tolist())
    return obj


def check_writable(folder: Path, what: str) -> None:
    """Create ``folder`` and write a file in it, or fail with one line naming the path and the reason
    (an output folder under a file, a read-only file system or cache). Tries for real: permission
    bits say nothing to root or to a read-only mount."""
    from auxrun.errors import ConfigError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".auxrun-write-check.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ConfigError(f"{what} {folder} is not writable: {e.strerror or type(e).__name__}") from None


def torch_save_atomic(obj: Any, path: Path) -> int:
    """torch.save to a temporary file, then rename; returns the bytes written (for the cost ledger)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    size = tmp.stat().st_size
    os.replace(tmp, path)
    return size


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_figure_atomic(fig: Any, path: Path, dpi: int = 120) -> Path:
    """A matplotlib figure as PNG, written atomically, and the figure closed."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(Path(path), buf.getvalue())
    return Path(path)


# ---- artifacts read back: a damaged one is set aside, never a traceback ----------------------------


def set_aside(path: Path, problem: str, consequence: str) -> Path:
    """Move a damaged artifact out of the way (``<name>.damaged``, kept for a post-mortem) and say so
    in one line: which file, what is wrong with it, what the run does instead."""
    import logging

    path = Path(path)
    dest = path.with_name(path.name + ".damaged")
    os.replace(path, dest)
    log = logging.getLogger("auxrun")
    log.warning("%s is damaged (%s); set aside as %s; %s", path, problem, dest.name, consequence)
    return dest


def read_or_set_aside(path: Path, reader: Any, consequence: str) -> Any | None:
    """``reader(path)``, or None when the file is absent, or damaged (then set aside, see ``set_aside``)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return reader(path)
    except Exception as e:  # truncated, garbled, or not what was written: any reader error
        set_aside(path, damage(e), consequence)
        return None


def damage(e: BaseException) -> str:
    """What a reader's exception says about the file, in a few words on one line."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def read_json(path: Path) -> Any:
    """JSON read strictly: a file cut short is an error, never a partial object."""
    return json.loads(Path(path).read_text())

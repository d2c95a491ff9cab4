"""Where auxrun finds its configs and keeps its caches."""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
# The configs ship inside the package (Hydra's convention for installed apps), so a non-editable
# install finds them wherever it runs.
CONF_DIR = PACKAGE_DIR / "conf"


def default_cache_dir() -> Path:
    """$AUXRUN_CACHE; else ``.cache/`` in a source checkout (editable install); else the user's cache
    folder (``$XDG_CACHE_HOME/auxrun``, default ``~/.cache/auxrun``), never inside site-packages."""
    if os.environ.get("AUXRUN_CACHE"):
        return Path(os.environ["AUXRUN_CACHE"])
    if (REPO_DIR / "pyproject.toml").is_file() and (PACKAGE_DIR / "conf").is_dir():
        return REPO_DIR / ".cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "auxrun"

"""Where auxrun finds its configs and keeps its caches."""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
# The configs live in the checkout's top-level conf/ (the design card's layout); a wheel ships the same
# files as the package auxrun.conf (pyproject.toml maps it), so a non-editable install finds them
# wherever it runs.
_CHECKOUT_CONF = REPO_DIR / "conf"
IN_CHECKOUT = (REPO_DIR / "pyproject.toml").is_file() and (_CHECKOUT_CONF / "config.yaml").is_file()
CONF_DIR = _CHECKOUT_CONF if IN_CHECKOUT else PACKAGE_DIR / "conf"


def default_cache_dir() -> Path:
    """$AUXRUN_CACHE; else ``.cache/`` in a source checkout (editable install); else the user's cache
    folder (``$XDG_CACHE_HOME/auxrun``, default ``~/.cache/auxrun``), never inside site-packages."""
    if os.environ.get("AUXRUN_CACHE"):
        return Path(os.environ["AUXRUN_CACHE"])
    if IN_CHECKOUT:
        return REPO_DIR / ".cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "auxrun"

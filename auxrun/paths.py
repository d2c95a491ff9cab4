"""Where auxrun finds its configs and keeps its caches."""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
CONF_DIR = REPO_DIR / "conf"


def default_cache_dir() -> Path:
    return Path(os.environ.get("AUXRUN_CACHE", REPO_DIR / ".cache"))

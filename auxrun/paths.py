"""Where auxrun finds its configs and keeps its caches."""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
# The configs ship inside the package (Hydra's convention for installed apps), so a non-editable
# install finds them wherever it runs.
CONF_DIR = PACKAGE_DIR / "conf"


def default_cache_dir() -> Path:
    return Path(os.environ.get("AUXRUN_CACHE", REPO_DIR / ".cache"))

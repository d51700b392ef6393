"""Where things live: the repository, the machine-level cache, build outputs, tools."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "aiwfe"
VALUES_DIR = REPO / "values"
BUILD = REPO / "build"
TOOLS_BIN = REPO / ".tools" / "bin"


def cache_dir() -> Path:
    """Machine-level cache shared by every checkout (and by CI, which runs on the same machine).

    AIWFE_CACHE_DIR wins; else $XDG_CACHE_HOME/aiwfe; else ~/.cache/aiwfe.
    """
    explicit = os.environ.get("AIWFE_CACHE_DIR")
    if explicit:
        path = Path(explicit)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "aiwfe"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    path = cache_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def env_with_tools(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment with .tools/bin first on PATH."""
    result = dict(os.environ if env is None else env)
    result["PATH"] = f"{TOOLS_BIN}{os.pathsep}{result.get('PATH', '')}"
    return result

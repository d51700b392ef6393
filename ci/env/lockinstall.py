"""How a nox session installs Python dependencies: always exactly what uv.lock pins.

With uv on PATH, `uv sync --frozen` into the session's virtualenv. Without it (nox installed
with pip, say), the session first pip-installs the uv pinned in ci/requirements-harness.txt
into its own virtualenv and syncs with that one: no path resolves from pyproject's ranges.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ci.paths import REPO

REQUIREMENTS = REPO / "ci" / "requirements-harness.txt"


@dataclass(frozen=True)
class Step:
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)


def harness_pin(name: str, requirements: Path = REQUIREMENTS) -> str:
    """`name==version` as pinned in ci/requirements-harness.txt."""
    for line in requirements.read_text().splitlines():
        match = re.match(rf"^\s*({re.escape(name)}==[^\s#;]+)", line)
        if match:
            return match.group(1)
    raise LookupError(f"{requirements} pins no {name}==<version>; add one")


def find_uv() -> str | None:
    """uv on PATH, else the uv package beside nox (`pipx install nox[uv]`, which nox then uses
    for its virtualenvs, so they have no pip); None when there is neither."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return None


def sync_args(uv: str, groups: Sequence[str], project: bool) -> list[str]:
    args = [uv, "sync", "--frozen", "--no-default-groups", "--inexact"]
    args += [f"--group={group}" for group in groups]
    if not project:
        args.append("--no-install-project")
    return args


def plan(
    venv: str | Path,
    groups: Sequence[str],
    *,
    project: bool = False,
    uv_finder: Callable[[], str | None] = find_uv,
) -> list[Step]:
    """The commands that install `groups` (and the aiwfe package) from uv.lock into `venv`."""
    env = {"UV_PROJECT_ENVIRONMENT": str(venv)}
    uv = uv_finder()
    steps: list[Step] = []
    if uv is None:
        bindir = Path(venv) / ("Scripts" if os.name == "nt" else "bin")
        python = str(bindir / "python")
        steps.append(Step([python, "-m", "pip", "install", "-q", harness_pin("uv")]))
        uv = str(bindir / "uv")
    steps.append(Step(sync_args(uv, groups, project), env))
    return steps

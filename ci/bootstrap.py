"""Run nox from a fresh machine: `python3 ci/bootstrap.py [nox args]`.

Creates (once) a virtualenv in the machine cache with the pinned nox and uv from
ci/requirements-harness.txt, then hands every argument to nox. Stdlib only, so it runs before
anything is installed. With nox already installed, `nox ...` does the same.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "ci" / "requirements-harness.txt"


def harness_venv() -> Path:
    base = os.environ.get("AIWFE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "aiwfe"
    )
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return Path(base) / f"harness-{sys.version_info.major}.{sys.version_info.minor}-{digest}"


def ensure_venv() -> Path:
    """The venv keyed by the requirements' hash: a pin change makes a new one."""
    path = harness_venv()
    marker = path / ".complete"
    if not marker.exists():
        print(f"[aiwfe] creating the harness venv {path}", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
        marker.write_text("ok\n")
    return path


def main(argv: list[str]) -> int:
    path = ensure_venv()
    env = dict(os.environ, PATH=f"{path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    os.chdir(REPO)
    return subprocess.run([str(path / "bin" / "nox"), *argv], env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

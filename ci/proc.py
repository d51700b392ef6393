"""Small subprocess helpers: one place for logging commands and capturing output."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def echo(message: str) -> None:
    print(f"[aiwfe] {message}", file=sys.stderr, flush=True)


def run(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    check: bool = True,
    capture: bool = False,
    timeout: float | None = None,
    quiet: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command, echoing it first; capture=True returns stdout/stderr as text."""
    args = [str(part) for part in cmd]
    if not quiet:
        echo("$ " + shlex.join(args))
    return subprocess.run(
        args,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        check=check,
        text=True,
        capture_output=capture,
        timeout=timeout,
    )


def output(cmd: Sequence[str | Path], **kwargs) -> str:
    """stdout+stderr of a command that must succeed, stripped."""
    result = run(cmd, capture=True, quiet=True, **kwargs)
    return (result.stdout + result.stderr).strip()

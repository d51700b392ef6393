"""The harness's one door to subprocesses: echoing commands, capturing output, running a
command into a log file (and failing with the log's tail), starting servers.

Every module of ci/ runs commands through here (ci/bootstrap.py excepted: it must run before
anything is installed, with the standard library alone), so how a command is shown, logged
and reported when it fails has one home.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# Re-exported so callers name the standard types without importing subprocess themselves.
CompletedProcess = subprocess.CompletedProcess
Popen = subprocess.Popen
TimeoutExpired = subprocess.TimeoutExpired
CalledProcessError = subprocess.CalledProcessError
DEVNULL = subprocess.DEVNULL
PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT

TAIL_LINES = 20


class CommandError(RuntimeError):
    """A command of run_logged failed; the message names it, its exit status, its log and the
    log's last lines."""


def echo(message: str) -> None:
    print(f"[aiwfe] {message}", file=sys.stderr, flush=True)


def _args(cmd: Sequence[str | Path]) -> list[str]:
    return [str(part) for part in cmd]


def run(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    check: bool = True,
    capture: bool = False,
    timeout: float | None = None,
    quiet: bool = False,
    input: str | bytes | None = None,
    stdin: IO[Any] | int | None = None,
    stdout: IO[Any] | int | None = None,
    stderr: IO[Any] | int | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run a command, echoing it first (unless quiet); capture=True returns stdout/stderr."""
    args = _args(cmd)
    if not quiet:
        echo("$ " + shlex.join(args))
    return subprocess.run(
        args,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        check=check,
        text=text,
        capture_output=capture,
        timeout=timeout,
        input=input,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
    )


def output(cmd: Sequence[str | Path], **kwargs) -> str:
    """stdout+stderr of a command that must succeed, stripped."""
    result = run(cmd, capture=True, quiet=True, **kwargs)
    return (result.stdout + result.stderr).strip()


def succeeds(cmd: Sequence[str | Path], **kwargs) -> bool:
    """Whether a command exits 0 (its output discarded; not echoed)."""
    return run(cmd, capture=True, check=False, quiet=True, **kwargs).returncode == 0


def log_tail(log: Path, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of a log file ('' when it does not exist)."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_logged(
    cmd: Sequence[str | Path],
    log: Path,
    *,
    what: str | None = None,
    error: type[Exception] = CommandError,
    lines: int = TAIL_LINES,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    input: str | bytes | None = None,
    stdin: IO[Any] | int | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run `cmd` with stdout and stderr appended to `log` (after a `$ command` line).

    A non-zero exit raises `error` (CommandError unless the caller names its own) with
    "<what> failed (exit N); see <log>:" and the log's last `lines` lines, so the reader sees
    why without opening the file. `what` defaults to the command's first words."""
    args = _args(cmd)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        handle.write("$ " + shlex.join(args) + "\n")
        handle.flush()
        result = subprocess.run(
            args,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            input=input,
            text=isinstance(input, str),
            stdin=stdin,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        name = what or shlex.join(args[:4]) + (" ..." if len(args) > 4 else "")
        raise error(f"{name} failed (exit {result.returncode}); see {log}:\n{log_tail(log, lines)}")
    return result


def spawn(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    stdin: IO[Any] | int | None = None,
    stdout: IO[Any] | int | None = None,
    stderr: IO[Any] | int | None = None,
    new_session: bool = False,
) -> subprocess.Popen:
    """Start a long-running process (a server, a daemon) without waiting for it."""
    return subprocess.Popen(
        _args(cmd),
        env=dict(env) if env is not None else None,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=new_session,
    )


def stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    """End a process started by `spawn`: SIGTERM, then SIGKILL if it is still there after
    `grace` seconds. A process that already exited is only reaped."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

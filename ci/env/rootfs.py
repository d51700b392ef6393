"""The one Debian root filesystem builder: debootstrap, once, under a lock, into the cache.

Callers own their cache layout (a tarball for the images' base, a directory for the service
servers); this module owns how a tree is made: `build` takes a file lock beside the target,
asks the caller whether what is there is ready (and may be brought up to date in place),
otherwise debootstraps into a fresh staging directory beside it, lets the caller finish the
tree, and commits it (by default: renames it into place). A failed build leaves no staging
tree behind and raises RootfsError with the log's last lines.

ci/nodeimage/rootfs.py still has its own copy: the node image's cache key hashes the sources
of ci/nodeimage/, so moving it onto this builder forces a 40-minute rebuild; do it together
with the next change that rebuilds the node image anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci import proc

DEBOOTSTRAP: tuple[str, ...] = ("debootstrap",)


class RootfsError(RuntimeError):
    """debootstrap (or finishing the tree) failed; the message names the log."""


@dataclass(frozen=True)
class Debootstrap:
    """One debootstrap invocation: suite, mirror, variant and the packages to include."""

    suite: str
    mirror: str
    variant: str = "minbase"
    include: tuple[str, ...] = ()
    components: str | None = None
    nice: int | None = None

    def argv(self, root: Path, program: Sequence[str] = DEBOOTSTRAP) -> list[str]:
        cmd = ["nice", "-n", str(self.nice)] if self.nice is not None else []
        cmd += [*program, f"--variant={self.variant}"]
        if self.components:
            cmd.append(f"--components={self.components}")
        if self.include:
            cmd.append("--include=" + ",".join(self.include))
        return [*cmd, self.suite, str(root), self.mirror]


def ensure_debootstrap() -> None:
    """debootstrap from the host's apt (Debian and Ubuntu have it); root installs it."""
    if shutil.which("debootstrap"):
        return
    if os.geteuid() != 0:
        raise RootfsError(
            "debootstrap is not installed and we are not root: apt-get install debootstrap"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    proc.run(["apt-get", "update", "-qq"], env=env)
    proc.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap"], env=env)


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """An exclusive file lock for building `target` (another session waits, then reuses)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(target), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _rename(staging: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def build(
    target: Path,
    spec: Debootstrap,
    log: Path,
    *,
    ready: Callable[[Path], bool] | None = None,
    finish: Callable[[Path], None] | None = None,
    commit: Callable[[Path, Path], None] = _rename,
    program: Sequence[str] = DEBOOTSTRAP,
) -> Path:
    """`target`, built once. `ready(target)` runs under the lock (default: target exists) and
    may update an older tree in place; otherwise debootstrap fills a staging directory beside
    the target, `finish(staging)` completes it and `commit(staging, target)` puts it in place.
    `program` replaces the debootstrap command (tests inject a fake one)."""
    is_ready = ready or (lambda path: path.exists())
    with locked(target):
        if is_ready(target):
            proc.echo(f"debootstrap: reusing {target}")
            return target
        if tuple(program) == DEBOOTSTRAP:
            ensure_debootstrap()
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        staging.chmod(0o755)  # "/" of a chroot: unprivileged users must traverse it
        try:
            proc.echo(f"debootstrap {spec.suite} ({spec.variant}) -> {target} (log: {log})")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            proc.run_logged(
                spec.argv(staging, program),
                log,
                what=f"debootstrap {spec.suite}",
                error=RootfsError,
                env=env,
            )
            if finish is not None:
                finish(staging)
            commit(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return target

"""The Debian rootfs the service test servers run from (chroot), and running its tools.

Built by the one builder of ci/env/rootfs.py into ~/.cache/aiwfe/services-rootfs/<suite>;
the recipe marker inside it says which packages it holds (`.aiwfe-recipe`)."""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path

from ci import pins, proc
from ci.env import rootfs
from ci.paths import cache_dir, logs_dir

SUITE = "trixie"
MIRROR = os.environ.get("AIWFE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PG_MAJOR = 17
PACKAGES = [
    f"postgresql-{PG_MAJOR}",
    f"postgresql-{PG_MAJOR}-pgvector",
    "redis-server",
    "pgbouncer",  # the bundled data-platform puts it in front of Postgres (transaction mode)
    # promtool and amtool (ci/pins.toml [rule_tools]): the chart's alert rules and Alertmanager
    # config are checked and unit-tested with the versions the observability image ships.
    *pins.load()["rule_tools"]["debian_packages"],
]
# Bump when the recipe changes: a rootfs built by an older recipe is rebuilt.
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
RECIPE = f"v1 {SUITE} {' '.join(PACKAGES)}"

# The "old stack" of the Docker Compose deployment (tests/services/test_data_*.py migrate from
# it): Debian bookworm ships exactly its PostgreSQL 15 and Redis 7.0; no pgvector (the old
# stack kept its vectors in Qdrant). Same builder, its own rootfs, cache and lock.
OLD_SUITE = "bookworm"
OLD_PG_MAJOR = 15
OLD_PACKAGES = [f"postgresql-{OLD_PG_MAJOR}", "redis-server"]


def _recipe(suite: str, packages: list[str]) -> str:
    return f"v1 {suite} {' '.join(packages)}"


def rootfs_dir(suite: str = SUITE) -> Path:
    return cache_dir() / "services-rootfs" / suite


def _marker(root: Path) -> Path:
    return root / ".aiwfe-recipe"


def _ready(root: Path, recipe: str = RECIPE) -> bool:
    marker = _marker(root)
    return marker.is_file() and marker.read_text() == recipe


def _apt_install(root: Path, packages: list[str]) -> None:
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND": "noninteractive",
        "LC_ALL": "C",
    }
    apt = [CHROOT, root, "apt-get", "-o", "Dpkg::Use-Pty=0", "-qq"]
    proc.run([*apt, "update"], env=env)
    proc.run([*apt, "install", "-y", "--no-install-recommends", *packages], env=env)
    proc.run([*apt, "clean"], env=env)


def ensure_rootfs(suite: str = SUITE, packages: list[str] | None = None) -> Path:
    """Build (once, under a file lock) the rootfs holding the servers (trixie by default). A
    rootfs made by an older recipe is upgraded in place (never deleted: another session may
    be running servers from it)."""
    packages = PACKAGES if packages is None else packages
    recipe = _recipe(suite, packages)
    root = rootfs_dir(suite)
    if _ready(root, recipe):
        return root
    if os.geteuid() != 0:
        raise RuntimeError("building the services rootfs needs root (debootstrap + chroot)")

    def ready(path: Path) -> bool:  # under the lock: another session may have built it
        if _ready(path, recipe):
            return True
        if not _marker(path).is_file():
            return False
        proc.echo(f"updating the services rootfs: {', '.join(packages)}")
        _apt_install(path, packages)
        _marker(path).write_text(recipe)
        return True

    def finish(staging: Path) -> None:
        proc.echo(f"services rootfs: {suite} minbase + {', '.join(packages)}")
        # No services started by package scripts, no default cluster: we run our own.
        policy = staging / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        conf_dir = staging / "etc/postgresql-common/createcluster.d"
        conf_dir.mkdir(parents=True, exist_ok=True)
        (conf_dir / "aiwfe.conf").write_text("create_main_cluster = false\n")
        _apt_install(staging, packages)
        _marker(staging).write_text(recipe)

    spec = rootfs.Debootstrap(suite=suite, mirror=MIRROR)
    log = logs_dir() / f"services-rootfs-{suite}.log"
    return rootfs.build(root, spec, log, ready=ready, finish=finish)


def run_tool(tool: str, args: list[str], files: dict[str, str]) -> proc.CompletedProcess:
    """Run a binary of the rootfs (e.g. promtool, amtool) as `nobody` on `files` (name ->
    text), written to a fresh directory it runs in; returns the finished process (not
    checked). Builds the rootfs when missing (root needed)."""
    root = ensure_rootfs()
    work = Path(tempfile.mkdtemp(prefix="aiwfe-tool-", dir=root / "var/tmp"))
    try:
        for name, text in files.items():
            (work / name).write_text(text)
        work.chmod(0o755)
        for path in work.iterdir():
            path.chmod(0o644)
        inner = "/" + str(work.relative_to(root))
        script = f"cd {shlex.quote(inner)} && exec {shlex.join([tool, *args])}"
        return proc.run(
            [CHROOT, "--userspec=nobody:nogroup", root, "/bin/sh", "-c", script],
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            capture=True,
            timeout=120,
            check=False,
            quiet=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""Real PostgreSQL (with pgvector) and Redis servers for the service tests, as local processes.

Why this shape: the build hosts are Debian bookworm, whose archive has PostgreSQL 15 and Redis
but no pgvector, and no container registry is reachable. Debian trixie has
postgresql-17 + postgresql-17-pgvector + redis-server (the same versions the data-platform
image ships), so the harness debootstraps a trixie *minbase* root filesystem once into the
machine cache (~/.cache/aiwfe/services-rootfs, about a minute, rebuilt only when missing or
when the package list changes) and runs the real server binaries from it with `chroot` as
unprivileged users, listening on 127.0.0.1 only. Each test session gets its own data
directory and free ports inside that rootfs, and everything is stopped afterwards.

Needs root (debootstrap, chroot); `python -m ci.env.services provision` prepares the rootfs
ahead of time, `python -m ci.env.services run` starts both servers until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from ci import proc
from ci.env.services.rootfs import (
    CHROOT,
    OLD_PACKAGES,
    OLD_PG_MAJOR,
    OLD_SUITE,
    PG_MAJOR,
    _ready,
    ensure_rootfs,
    rootfs_dir,
    run_tool,
)
from ci.env.services.servers import PgBouncer, Postgres, Redis, free_port, wait_for_port

__all__ = [
    "CHROOT",
    "PG_MAJOR",
    "PgBouncer",
    "Postgres",
    "Redis",
    "ServicesEnv",
    "_ready",
    "ensure_rootfs",
    "free_port",
    "reap_stale",
    "rootfs_dir",
    "run_tool",
    "start",
    "wait_for_port",
]


@dataclass
class ServicesEnv:
    postgres: Postgres
    redis: Redis

    def env(self) -> dict[str, str]:
        return {**self.postgres.env(), **self.redis.env()}

    def stop(self) -> None:
        self.redis.stop()
        self.postgres.cleanup()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale(root: Path) -> None:
    """Stop servers and remove data left by test sessions that died without cleaning up
    (work dirs are named after the owning process: aiwfe-services-<pid>-<port>)."""
    base = root / "var/tmp"
    for work in base.glob("aiwfe-services-*"):
        try:
            owner = int(work.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if owner == os.getpid() or _alive(owner):
            continue
        for pidfile, name in (
            ("harness-postgres.pid", b"postgres"),
            ("harness-redis.pid", b"redis"),
            ("harness-pgbouncer.pid", b"pgbouncer"),
        ):
            try:
                pid = int((work / pidfile).read_text())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if name in cmdline:  # not a recycled PID
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        proc.echo(f"removed stale test servers of dead session {owner}: {work.name}")
        shutil.rmtree(work, ignore_errors=True)


def start(old: bool = False) -> ServicesEnv:
    """Provision (if needed) and start PostgreSQL+pgvector and Redis on free loopback ports;
    `old`: PostgreSQL 15 and Redis 7 from bookworm, as the Docker Compose stack ran them."""
    if old:
        root = ensure_rootfs(OLD_SUITE, OLD_PACKAGES)
    else:
        root = ensure_rootfs()
    reap_stale(root)
    postgres = Postgres(root=root, port=free_port(), major=OLD_PG_MAJOR if old else PG_MAJOR)
    redis = Redis(root=root, port=free_port())
    try:
        postgres.init()
        redis.pidfile = root / postgres.workdir.lstrip("/") / "harness-redis.pid"
        postgres.start()
        postgres.create_database(extensions=() if old else ("vector",))
        redis.start()
    except BaseException:
        redis.stop()
        postgres.cleanup()
        raise
    return ServicesEnv(postgres=postgres, redis=redis)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "provision"
    if command == "provision":
        print(ensure_rootfs())
        return 0
    if command == "provision-old":
        print(ensure_rootfs(OLD_SUITE, OLD_PACKAGES))
        return 0
    if command == "run":
        services = start()
        for key, value in services.env().items():
            print(f"export {key}={shlex.quote(value)}", flush=True)

        def interrupted(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupted)
        signal.signal(signal.SIGINT, interrupted)  # also when started in the background
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            services.stop()
        return 0
    print(
        f"usage: python -m ci.env.services [provision|provision-old|run], not {command!r}",
        file=sys.stderr,
    )
    return 2

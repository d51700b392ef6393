"""The servers of the service tests, each a real binary of the services rootfs run with
`chroot` as its own unprivileged user on 127.0.0.1: PostgreSQL, Redis and PgBouncer."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from ci import proc
from ci.env.services.rootfs import CHROOT, PG_MAJOR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, process: proc.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Postgres:
    root: Path
    port: int
    user: str = "aiwfe"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8) + "@:/%")
    database: str = "aiwfe"
    process: proc.Popen | None = None
    major: int = PG_MAJOR

    @property
    def workdir(self) -> str:  # path inside the chroot
        # a path inside the chroot, unique per session and port
        return f"/var/tmp/aiwfe-services-{os.getpid()}-{self.port}"  # noqa: S108

    @property
    def datadir(self) -> str:
        return f"{self.workdir}/data"

    def _bin(self, name: str) -> str:
        return f"/usr/lib/postgresql/{self.major}/bin/{name}"

    def _chroot(self, *cmd: str, capture: bool = False) -> proc.CompletedProcess[str]:
        return proc.run(
            [CHROOT, "--userspec=postgres:postgres", self.root, *cmd],
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": "/var/lib/postgresql"},
            capture=capture,
            quiet=True,
        )

    def init(self) -> None:
        host_work = self.root / self.workdir.lstrip("/")
        if host_work.exists():
            shutil.rmtree(host_work)
        host_work.mkdir(parents=True)
        pwfile = host_work / "pw"
        pwfile.write_text(self.password + "\n")
        # postgres:postgres owns its work dir (uid/gid as allocated inside the rootfs).
        uid, gid = _ids(self.root, "postgres")
        os.chown(host_work, uid, gid)
        os.chown(pwfile, uid, gid)
        self._chroot(
            self._bin("initdb"),
            "-D",
            self.datadir,
            "-U",
            self.user,
            f"--pwfile={self.workdir}/pw",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
            capture=True,
        )
        pwfile.unlink()

    def start(self) -> None:
        log = open(self.root / self.workdir.lstrip("/") / "postgres.log", "ab")
        self.process = proc.spawn(
            [
                CHROOT,
                "--userspec=postgres:postgres",
                str(self.root),
                self._bin("postgres"),
                "-D",
                self.datadir,
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.workdir}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=64MB",
            ],
            stdout=log,
            stderr=proc.STDOUT,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            new_session=True,
        )
        log.close()
        (self.root / self.workdir.lstrip("/") / "harness-postgres.pid").write_text(
            str(self.process.pid)
        )
        wait_for_port(self.port, 60, self.process)
        # Accepting TCP is not the same as accepting queries: wait for pg_isready.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = proc.run(
                [
                    CHROOT,
                    str(self.root),
                    self._bin("pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                check=False,
                quiet=True,
            )
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("postgres did not become ready")

    def create_database(self, extensions: tuple[str, ...] = ("vector",)) -> None:
        env = {"PGPASSWORD": self.password, "PATH": "/usr/bin:/bin"}
        common = ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
        proc.run(
            [CHROOT, str(self.root), self._bin("createdb"), *common, self.database],
            env=env,
            quiet=True,
        )
        # The data-platform image creates the extension as superuser; do the same here.
        for extension in extensions:
            proc.run(
                [
                    CHROOT,
                    str(self.root),
                    "/usr/bin/psql",
                    *common,
                    "-d",
                    self.database,
                    "-qc",
                    f"CREATE EXTENSION IF NOT EXISTS {extension}",
                ],
                env=env,
                quiet=True,
            )

    def stop(self, mode: str = "fast") -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        self.process.send_signal(sig)
        try:
            self.process.wait(30)
        except proc.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root / self.workdir.lstrip("/"), ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {
            "AIWFE_DB_HOST": "127.0.0.1",
            "AIWFE_DB_PORT": str(self.port),
            "AIWFE_DB_NAME": self.database,
            "AIWFE_DB_USER": self.user,
            "AIWFE_DB_PASSWORD": self.password,
            "AIWFE_DB_SSLMODE": "disable",
        }


@dataclass
class Redis:
    root: Path
    port: int
    password: str = field(default_factory=lambda: "rd-" + secrets.token_hex(8))
    process: proc.Popen | None = None
    pidfile: Path | None = None  # on the host, written by us for stale-session cleanup

    def start(self) -> None:
        self.process = proc.spawn(
            [
                CHROOT,
                "--userspec=redis:redis",
                str(self.root),
                "/usr/bin/redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--requirepass",
                self.password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/tmp",  # noqa: S108 - inside the chroot; nothing is persisted (no save/aof)
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ],
            stdout=proc.DEVNULL,
            stderr=proc.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
            new_session=True,
        )
        if self.pidfile is not None:  # chroot execs the server: same PID
            self.pidfile.write_text(str(self.process.pid))
        wait_for_port(self.port, 30, self.process)

    def stop(self) -> None:
        if self.process is not None:
            proc.stop(self.process)
        self.process = None

    def env(self) -> dict[str, str]:
        return {
            "AIWFE_REDIS_HOST": "127.0.0.1",
            "AIWFE_REDIS_PORT": str(self.port),
            "AIWFE_REDIS_PASSWORD": self.password,
            "AIWFE_REDIS_DB": "0",
        }


@dataclass
class PgBouncer:
    """PgBouncer in transaction mode in front of `postgres`, as the data-platform bundles it.
    max_prepared_statements=0: the classic strict mode, where server-side prepared statements
    do not survive between transactions (what the services must cope with)."""

    postgres: Postgres
    port: int
    pool_size: int = 2
    process: proc.Popen | None = None

    def start(self) -> None:
        pg = self.postgres
        host_work = pg.root / pg.workdir.lstrip("/")
        escaped = pg.password.replace('"', '""')
        (host_work / "userlist.txt").write_text(f'"{pg.user}" "{escaped}"\n')
        (host_work / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={pg.port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {pg.workdir}/userlist.txt\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\n"
            "max_prepared_statements = 0\n"
            # Spread transactions over the server connections as under real load (the
            # default LIFO reuses one connection when idle and hides pooling effects).
            "server_round_robin = 1\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {pg.workdir}/pgbouncer.log\n"
        )
        uid, gid = _ids(pg.root, "postgres")
        for name in ("userlist.txt", "pgbouncer.ini"):
            os.chown(host_work / name, uid, gid)
            (host_work / name).chmod(0o600)
        self.process = proc.spawn(
            [
                CHROOT,
                "--userspec=postgres:postgres",
                str(pg.root),
                "/usr/sbin/pgbouncer",
                f"{pg.workdir}/pgbouncer.ini",
            ],
            stdout=proc.DEVNULL,
            stderr=proc.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
            new_session=True,
        )
        (host_work / "harness-pgbouncer.pid").write_text(str(self.process.pid))
        wait_for_port(self.port, 30, self.process)

    def stop(self) -> None:
        if self.process is not None:
            proc.stop(self.process)
        self.process = None


def _ids(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == name:
            return int(parts[2]), int(parts[3])
    raise KeyError(f"user {name} missing in {root}")

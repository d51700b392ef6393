"""Real PostgreSQL (with pgvector) and Redis servers for the service tests, as local processes.

Why this shape: the build hosts are Debian bookworm, whose archive has PostgreSQL 15 and Redis
but no pgvector, and no container registry is reachable. Debian trixie has
postgresql-17 + postgresql-17-pgvector + redis-server (the same versions the data-platform
image ships), so the harness debootstraps a trixie *minbase* root filesystem once into the
machine cache (~/.cache/aiwfe/services-rootfs, about a minute, rebuilt only when missing or
when the package list changes) and runs the real server binaries from it with `chroot` as
unprivileged users, listening on 127.0.0.1 only. Each test session gets its own data
directory and free ports inside that rootfs, and everything is stopped afterwards.

Needs root (debootstrap, chroot); `python -m ci.services_env provision` prepares the rootfs
ahead of time, `python -m ci.services_env run` starts both servers until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ci import pins, proc
from ci.paths import cache_dir

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


def ensure_apt_tools() -> None:
    """debootstrap comes from the host's apt (bookworm has it)."""
    if shutil.which("debootstrap"):
        return
    if os.geteuid() != 0:
        raise RuntimeError(
            "debootstrap is missing and we are not root: apt-get install debootstrap"
        )
    proc.run(["apt-get", "update", "-qq"])
    proc.run(["apt-get", "install", "-y", "-qq", "debootstrap"])


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
    root.parent.mkdir(parents=True, exist_ok=True)
    lock_path = root.parent / f".{suite}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _ready(root, recipe):
            return root
        if _marker(root).is_file():
            proc.echo(f"updating the services rootfs: {', '.join(packages)}")
            _apt_install(root, packages)
            _marker(root).write_text(recipe)
            return root
        ensure_apt_tools()
        staging = Path(tempfile.mkdtemp(prefix=f"{suite}-", dir=root.parent))
        staging.chmod(0o755)  # "/" inside the chroot: the server users must traverse it
        try:
            proc.echo(f"building the services rootfs ({suite} minbase + {', '.join(packages)})")
            proc.run(["debootstrap", "--variant=minbase", suite, staging, MIRROR])
            # No services started by package scripts, no default cluster: we run our own.
            policy = staging / "usr/sbin/policy-rc.d"
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
            conf_dir = staging / "etc/postgresql-common/createcluster.d"
            conf_dir.mkdir(parents=True, exist_ok=True)
            (conf_dir / "aiwfe.conf").write_text("create_main_cluster = false\n")
            _apt_install(staging, packages)
            _marker(staging).write_text(recipe)
            if root.exists():
                shutil.rmtree(root)
            staging.rename(root)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return root


def run_tool(tool: str, args: list[str], files: dict[str, str]) -> subprocess.CompletedProcess:
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
        return subprocess.run(
            [CHROOT, "--userspec=nobody:nogroup", root, "/bin/sh", "-c", script],
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen | None = None
) -> None:
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
    process: subprocess.Popen | None = None
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

    def _chroot(self, *cmd: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
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
        self.process = subprocess.Popen(
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
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            start_new_session=True,
        )
        log.close()
        (self.root / self.workdir.lstrip("/") / "harness-postgres.pid").write_text(
            str(self.process.pid)
        )
        wait_for_port(self.port, 60, self.process)
        # Accepting TCP is not the same as accepting queries: wait for pg_isready.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = subprocess.run(
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
            )
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("postgres did not become ready")

    def create_database(self, extensions: tuple[str, ...] = ("vector",)) -> None:
        env = {"PGPASSWORD": self.password, "PATH": "/usr/bin:/bin"}
        common = ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
        subprocess.run(
            [CHROOT, str(self.root), self._bin("createdb"), *common, self.database],
            env=env,
            check=True,
        )
        # The data-platform image creates the extension as superuser; do the same here.
        for extension in extensions:
            subprocess.run(
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
                check=True,
            )

    def stop(self, mode: str = "fast") -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        self.process.send_signal(sig)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
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
    process: subprocess.Popen | None = None
    pidfile: Path | None = None  # on the host, written by us for stale-session cleanup

    def start(self) -> None:
        self.process = subprocess.Popen(
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
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
            start_new_session=True,
        )
        if self.pidfile is not None:  # chroot execs the server: same PID
            self.pidfile.write_text(str(self.process.pid))
        wait_for_port(self.port, 30, self.process)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
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
    process: subprocess.Popen | None = None

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
        self.process = subprocess.Popen(
            [
                CHROOT,
                "--userspec=postgres:postgres",
                str(pg.root),
                "/usr/sbin/pgbouncer",
                f"{pg.workdir}/pgbouncer.ini",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
            start_new_session=True,
        )
        (host_work / "harness-pgbouncer.pid").write_text(str(self.process.pid))
        wait_for_port(self.port, 30, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


def _ids(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == name:
            return int(parts[2]), int(parts[3])
    raise KeyError(f"user {name} missing in {root}")


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
        f"usage: python -m ci.services_env [provision|provision-old|run], not {command!r}",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""A Docker engine and a BuildKit-capable client for every session that needs one.

If an engine already answers, nothing is changed. Otherwise, when we are root on Debian,
Debian's docker.io is installed (if missing) and dockerd is started in the background with
its log in the cache dir. The client chosen must run BuildKit builds: a newer `docker`
without the buildx plugin refuses them, Debian's 20.10 client has BuildKit built in.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ci import proc
from ci.paths import TOOLS_BIN, cache_dir, logs_dir
from ci.pins import parse_version
from ci.proc import echo, run

DEBIAN_CLIENT = Path("/usr/bin/docker")
DOCKERD = Path("/usr/sbin/dockerd")


class EngineError(RuntimeError):
    """No Docker engine could be had; the message says what to do."""


@dataclass(frozen=True)
class DockerClient:
    path: Path
    version: str
    buildx: bool
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        result = dict(os.environ if base is None else base)
        result.update(self.extra_env)
        return result


def _version(client: Path | str, field: str, timeout: float) -> proc.CompletedProcess | None:
    """`docker version --format {{.<field>.Version}}`, or None when the client cannot run.
    Without an engine the client still prints its own version, then exits non-zero."""
    try:
        result = proc.run(
            [client, "version", "--format", f"{{{{.{field}.Version}}}}"],
            capture=True,
            check=False,
            quiet=True,
            timeout=timeout,
        )
    except (OSError, proc.TimeoutExpired):
        return None
    return result


def engine_answers(client: Path | str = "docker", timeout: float = 10) -> bool:
    result = _version(client, "Server", timeout)
    return result is not None and result.returncode == 0 and bool(result.stdout.strip())


def client_version(client: Path | str) -> str | None:
    result = _version(client, "Client", 10)
    return None if result is None else parse_version(result.stdout)


def has_buildx(client: Path | str) -> bool:
    try:
        return proc.succeeds([client, "buildx", "version"], timeout=10)
    except (OSError, proc.TimeoutExpired):
        return False


def builtin_buildkit(version: str | None) -> bool:
    """Clients before 23.0 run BuildKit builds themselves (DOCKER_BUILDKIT=1).

    Later ones hand builds to the buildx plugin and fail without it.
    """
    if version is None:
        return False
    major = int(version.lstrip("v").split(".")[0])
    return major < 23


def candidate_clients(path: str | None = None) -> list[Path]:
    seen: list[Path] = []
    dirs = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    # Never our own wrappers: .tools/bin/docker is the link we make, and the kind shim
    # (<cache>/kind-docker-shim) must not become the client every session uses.
    wrappers = {TOOLS_BIN.resolve(), (cache_dir() / "kind-docker-shim").resolve()}
    dirs = [d for d in dirs if d and Path(d).resolve() not in wrappers]
    first = shutil.which("docker", path=os.pathsep.join(dirs))
    for cand in (first, DEBIAN_CLIENT):
        if cand and Path(cand).exists() and Path(cand).resolve() not in [s.resolve() for s in seen]:
            seen.append(Path(cand))
    return seen


def pick_client(candidates: list[Path] | None = None) -> DockerClient:
    """The first client that can run BuildKit builds."""
    tried = []
    for cand in candidates if candidates is not None else candidate_clients():
        version = client_version(cand)
        if has_buildx(cand):
            return DockerClient(cand, version or "unknown", True, {"DOCKER_BUILDKIT": "1"})
        if builtin_buildkit(version):
            return DockerClient(cand, version or "unknown", False, {"DOCKER_BUILDKIT": "1"})
        tried.append(f"{cand} ({version}, no buildx plugin)")
    raise EngineError(
        "no docker client here can run BuildKit builds; tried: "
        + (", ".join(tried) or "none found")
        + ". Install Debian's docker.io (apt-get install docker.io) or the buildx plugin."
    )


def is_root_on_debian() -> bool:
    return os.geteuid() == 0 and Path("/etc/debian_version").exists()


def install_docker_io() -> None:
    echo("installing Debian's docker.io (no Docker engine answers)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker.io"], env=env)


def start_dockerd(client: Path, wait_seconds: float = 90) -> Path:
    log = logs_dir() / "dockerd.log"
    echo(f"starting dockerd in the background (log: {log})")
    with log.open("ab") as handle:
        proc.spawn(
            [DOCKERD], stdout=handle, stderr=proc.STDOUT, stdin=proc.DEVNULL, new_session=True
        )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if engine_answers(client, timeout=5):
            return log
        time.sleep(1)
    tail = proc.log_tail(log)
    raise EngineError(f"dockerd did not answer within {wait_seconds:.0f}s; see {log}:\n{tail}")


def ensure_engine() -> DockerClient:
    """An engine that answers and a BuildKit-capable client; links it as .tools/bin/docker."""
    candidates = candidate_clients()
    if not any(engine_answers(c) for c in candidates):
        if not is_root_on_debian():
            raise EngineError(
                "no Docker engine answers and this is not root on Debian, so the harness will "
                "not install one: start Docker (or set DOCKER_HOST) and rerun"
            )
        if not DOCKERD.exists() or not DEBIAN_CLIENT.exists():
            install_docker_io()
        start_dockerd(DEBIAN_CLIENT)
        candidates = candidate_clients()
    client = pick_client(candidates)
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    link = TOOLS_BIN / "docker"
    # The cluster module may put its own docker wrapper here (see ci/cluster); keep it.
    if not link.exists() or link.is_symlink():
        if link.is_symlink():
            link.unlink()
        link.symlink_to(client.path)
    return client

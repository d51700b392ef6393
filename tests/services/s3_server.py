"""versitygw (a real S3-compatible gateway, posix backend) for the aiwfe-data S3 tests.

Built from the Go module proxy at the version ci/pins.toml pins ([test_servers.versitygw]),
once per machine, under a lock, into the same cache as the harness's Go tools.
"""

from __future__ import annotations

import fcntl
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ci import pins, proc, tools
from ci.env.services import free_port, wait_for_port


def pin() -> pins.ToolPin:
    spec = pins.load()["test_servers"]["versitygw"]
    return pins.ToolPin(
        name="versitygw",
        module=spec["module"],
        version=spec["version"],
        ldflags=spec.get("ldflags", ""),
        version_cmd=tuple(spec["version_cmd"]),
        why=spec["why"],
    )


def binary() -> Path:
    wanted = pin()
    target = tools.cached_binary(wanted)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent.parent / ".versitygw.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tools.reported_version(target, wanted) != wanted.version:
            tools.go_build(wanted, target)
    return target


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str


@contextmanager
def running(root: Path) -> Iterator[S3Server]:
    port = free_port()
    data = root / "s3-data"
    data.mkdir()
    access, secret = "aiwfe-" + secrets.token_hex(4), secrets.token_hex(16)
    log = (root / "versitygw.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary()),
            "--port",
            f"127.0.0.1:{port}",
            "--access",
            access,
            "--secret",
            secret,
            "posix",
            str(data),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, 60, process)
        yield S3Server(f"http://127.0.0.1:{port}", access, secret)
    finally:
        proc.stop(process)
        log.close()


if __name__ == "__main__":
    print(binary())

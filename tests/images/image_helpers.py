"""Helpers for the image tests: the build report, a docker client, throwaway containers.

Fixtures are registered in conftest.py; tests import the plain helpers from here.

The tests read build/images/report.json, written by `python -m ci.images build` (nox -s
images runs it first), and exercise the images it lists as built.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci.components import FIRST_PARTY
from ci.images.report import REPORT

FIRST_PARTY_IMAGES = FIRST_PARTY
MB = 1000 * 1000  # docker reports sizes in decimal megabytes


@pytest.fixture(scope="session")
def report() -> dict:
    if not REPORT.exists():
        pytest.fail(f"{REPORT} is missing: run `python -m ci.images build` (or nox -s images)")
    return json.loads(REPORT.read_text())


@pytest.fixture(scope="session")
def docker() -> Path:
    from ci.env.docker_engine import ensure_engine

    return ensure_engine().path


@dataclass
class Image:
    name: str
    tag: str
    entry: dict

    @property
    def missing(self) -> dict[str, str]:
        return self.entry.get("missing_parts", {})


@pytest.fixture(scope="session")
def images(report: dict) -> dict[str, Image]:
    return {item["name"]: Image(item["name"], item["image"], item) for item in report["images"]}


def image_of(images: dict[str, Image], name: str) -> Image:
    """The built image called `name`; fails (not skips) when the build did not produce it."""
    if name not in images:
        pytest.fail(f"{name} is not in the build report; build it with python -m ci.images build")
    image = images[name]
    if image.entry["status"] != "built":
        pytest.fail(f"{image.tag} failed to build; see {image.entry.get('log')}")
    return image


def inspect(docker: Path, ref: str) -> dict:
    out = subprocess.run(
        [str(docker), "image", "inspect", ref], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)[0]


def run(docker: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(docker), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


class Containers:
    """Starts containers on a private network and removes them (and their volumes) after."""

    def __init__(self, docker: Path) -> None:
        self.docker = docker
        self.prefix = f"aiwfe-test-{uuid.uuid4().hex[:8]}"
        self.network = self.prefix
        self.names: list[str] = []
        self.volumes: list[str] = []
        run(docker, "network", "create", self.network).check_returncode()

    def volume(self, name: str) -> str:
        full = f"{self.prefix}-{name}"
        run(self.docker, "volume", "create", full).check_returncode()
        self.volumes.append(full)
        return full

    def start(self, name: str, image: str, *args: str, opts: tuple[str, ...] = ()) -> str:
        full = f"{self.prefix}-{name}"
        proc = run(
            self.docker,
            "run",
            "-d",
            "--name",
            full,
            "--network",
            self.network,
            "--network-alias",
            name,
            "--read-only",
            "--tmpfs",
            "/tmp",
            *opts,
            image,
            *args,
        )
        assert proc.returncode == 0, proc.stderr
        self.names.append(full)
        return full

    def ip(self, name: str) -> str:
        full = name if name.startswith(self.prefix) else f"{self.prefix}-{name}"
        fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        return run(self.docker, "inspect", "-f", fmt, full).stdout.strip()

    def logs(self, name: str) -> str:
        full = name if name.startswith(self.prefix) else f"{self.prefix}-{name}"
        proc = run(self.docker, "logs", full)
        return proc.stdout + proc.stderr

    def running(self, name: str) -> bool:
        full = name if name.startswith(self.prefix) else f"{self.prefix}-{name}"
        return (
            run(self.docker, "inspect", "-f", "{{.State.Running}}", full).stdout.strip() == "true"
        )

    def close(self) -> None:
        for name in self.names:
            run(self.docker, "rm", "-f", "-v", name)
        for volume in self.volumes:
            run(self.docker, "volume", "rm", "-f", volume)
        run(self.docker, "network", "rm", self.network)


@pytest.fixture
def containers(docker: Path) -> Iterator[Containers]:
    box = Containers(docker)
    try:
        yield box
    finally:
        box.close()


def wait_http(
    url: str, timeout: float = 90, containers: Containers | None = None, name: str = ""
) -> tuple[int, bytes]:
    """GET url until it answers 2xx; fails with the container's logs when it never does."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - test URL
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code}"
        except OSError as err:
            last = str(err)
        if containers is not None and name and not containers.running(name):
            break
        time.sleep(1)
    logs = containers.logs(name)[-3000:] if containers is not None and name else ""
    pytest.fail(f"{url} did not answer 2xx within {timeout:.0f}s ({last})\n{logs}")

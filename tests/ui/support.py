"""Constants and helpers shared by the UI end-to-end fixtures and tests.

(Kept out of conftest.py so that tests import one module: pytest loads conftest.py under its
own module name, and importing it again would make a second copy of every constant.)
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from ci.paths import BUILD
from tests.services.support import Proc

ADMIN_USER = "admin"
ADMIN_PASSWORD = "UI e2e admin pass " + uuid.uuid4().hex[:8]
DIST = Path(os.environ.get("AIWFE_UI_DIST", BUILD / "ui" / "dist"))
SCREENSHOTS = Path(os.environ.get("AIWFE_UI_SCREENSHOTS", BUILD / "ui"))
CHROMIUM = os.environ.get("AIWFE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
CONFIG = {
    "flags": {"new_ui": True, "fast_recall": False, "beta_reasoning": False},
    "components": {"gateway": {"page_size": 20}},
    "services": {},
}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Platform:
    gateway: str
    procs: dict[str, Proc]
    env: dict[str, str]

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{p.tail(30)}" for name, p in self.procs.items())


def wait_ready(platform: Platform, timeout: float = 60) -> None:
    """/api/ready answers 200 once database, Redis and cognitive-services answer."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(platform.gateway + "/api/ready", timeout=5)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise TimeoutError(f"gateway not ready: {last}\n{platform.logs()}")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

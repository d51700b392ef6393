"""A small client for the gateway's REST API, as a user's script would talk to it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

TERMINAL = {"succeeded", "failed", "cancelled"}


class Gateway:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self.token: str | None = None

    def login(self) -> str:
        response = self.http.post(
            "/api/v1/auth/login", json={"username": self.username, "password": self.password}
        )
        response.raise_for_status()
        self.token = response.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        return self.token

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, json: dict, **kwargs) -> httpx.Response:
        return self.http.post(path, json=json, **kwargs)

    def create_workflow(self, name: str, steps: list[dict], input: dict | None = None) -> dict:
        response = self.post(
            "/api/v1/workflows", {"name": name, "steps": steps, "input": input or {}}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def wait_run(self, run_id: str, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            response = self.get(f"/api/v1/workflows/{run_id}")
            if response.status_code == 200:
                last = response.json()
                if last["status"] in TERMINAL:
                    return last
            time.sleep(1)
        raise AssertionError(f"run {run_id} not finished after {timeout}s; last seen: {last}")


@dataclass
class LoadLoop:
    """Requests on fresh connections in a background thread, counting every failure.

    Each request opens its own connection, so each is routed afresh by the Service: that is
    what a rolling update has to keep working. Bounded by max_seconds.
    """

    base_url: str
    token: str
    paths: tuple[str, ...] = ("/api/health", "/api/v1/workflows?limit=1")
    max_seconds: float = 900
    interval: float = 0.05
    retries: int = 0  # client-side retries (with backoff) before a request counts as failed
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LoadLoop:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "close"}
        deadline = time.monotonic() + self.max_seconds
        i = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            path = self.paths[i % len(self.paths)]
            i += 1
            error = self._one(path, headers)
            if error is None:
                self.ok += 1
            else:
                self.failures.append(error)
            time.sleep(self.interval)

    def _one(self, path: str, headers: dict[str, str]) -> str | None:
        """None on success, else what went wrong on the last attempt."""
        error = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(0.5 * 2**attempt)
            try:
                response = httpx.get(self.base_url + path, headers=headers, timeout=10)
            except httpx.HTTPError as exc:
                error = f"{path}: {type(exc).__name__}: {exc}"
                continue
            if response.status_code == 200:
                return None
            error = f"{path}: HTTP {response.status_code} {response.text[:200]}"
        return error

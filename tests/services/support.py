"""Helpers of the services tier, imported one way: `from tests.services.support import ...`.

The first-party services started as real processes (their console scripts), in consolidated
or split mode; the gateway client that logs in; direct SQL to check what the services stored;
waits with deadlines. conftest.py holds only the fixtures built from these."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from aiwfe.core.keyfiles import KeyFiles
from ci.env.services import free_port

BIN = Path(sys.executable).parent


def script(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{name} is not installed in {BIN}: install the aiwfe package")
    return str(path)


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    health: str | None = None
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 120, wait: bool = True) -> Proc:
        handle = open(self.log, "ab")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        if wait and self.health:
            self.wait_healthy(timeout)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            try:
                if httpx.get(self.url + self.health, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not healthy after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash: no graceful shutdown at all)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it does not exit."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self.process = None


@dataclass
class Stack:
    """gateway + cognitive (one process, or five in split mode) + worker + config-manager."""

    mode: str
    env: dict[str, str]
    logdir: Path
    keys: KeyFiles  # each process gets its component's AIWFE_TOKEN_* settings only
    procs: dict[str, Proc] = field(default_factory=dict)
    cognitive_env: dict[str, str] = field(default_factory=dict)

    def _add(
        self,
        name: str,
        argv: list[str],
        health: str,
        extra: dict[str, str],
        port: int | None = None,
    ) -> Proc:
        port = port or free_port()
        component = name.split("-")[0]  # cognitive-memory: a cognitive process
        env = {**self.env, **self.keys.env(component), **extra, "AIWFE_PORT": str(port)}
        proc = Proc(name, argv, env, self.logdir / f"{self.mode}-{name}.log", port, health)
        self.procs[name] = proc
        return proc

    def start(self) -> Stack:
        config_port = free_port()
        cognitive_env: dict[str, str] = {
            "AIWFE_COGNITIVE_MODE": self.mode,
            "AIWFE_CONFIG_URL": f"http://127.0.0.1:{config_port}",
        }
        if self.mode == "split":
            modules = ["coordination", "memory", "perception", "reasoning", "learning"]
            ports = {m: free_port() for m in modules}
            for m in modules:
                cognitive_env[f"AIWFE_COGNITIVE_{m.upper()}_URL"] = f"http://127.0.0.1:{ports[m]}"
            cognitive_env["AIWFE_COGNITIVE_URL"] = f"http://127.0.0.1:{ports['coordination']}"
            for m in modules:
                self._add(
                    f"cognitive-{m}",
                    [script("aiwfe-cognitive"), "--module", m],
                    "/health",
                    cognitive_env,
                    ports[m],
                )
        else:
            port = free_port()
            cognitive_env["AIWFE_COGNITIVE_URL"] = f"http://127.0.0.1:{port}"
            self._add("cognitive", [script("aiwfe-cognitive")], "/health", cognitive_env, port)
        self.cognitive_env = cognitive_env
        self._add("gateway", [script("aiwfe-gateway")], "/api/health", cognitive_env)
        self._add("config", [script("aiwfe-config")], "/health", {}, config_port)
        self._add("worker", [script("aiwfe-worker")], "/health", cognitive_env)
        # Start all, then wait for all: the imports overlap.
        for proc in self.procs.values():
            proc.start(wait=False)
        for proc in self.procs.values():
            proc.wait_healthy(120)
        return self

    def restart_worker(self) -> Proc:
        return self.restart("worker")

    def restart(self, name: str, *, wait: bool = True) -> Proc:
        """Stop a process (if running) and start the same program on the same port."""
        old = self.procs[name]
        old.stop()
        proc = Proc(name, old.argv, old.env, old.log, old.port, old.health)
        self.procs[name] = proc
        return proc.start(wait=wait)

    def __getitem__(self, name: str) -> Proc:
        return self.procs[name]

    @property
    def gateway(self) -> str:
        return self.procs["gateway"].url

    def stop(self) -> None:
        # SIGTERM everything first, then wait: shutdowns overlap instead of adding up.
        for proc in self.procs.values():
            if proc.process is not None and proc.process.poll() is None:
                try:
                    os.killpg(proc.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            proc.stop()


ADMIN_PASSWORD = "Adm1n pass: with spaces & symbols%"
CONFIG = {
    "components": {
        "gateway": {"page_size": 20, "db_password": "must-never-be-served"},
        "worker": {"max_steps": 50},
    },
    "flags": {"new_ui": False, "fast_recall": True},
    "services": {
        "gateway": {"url": "http://aiwfe-api-gateway:8080"},
        "cognitive": {"url": "http://aiwfe-cognitive-services:8081"},
    },
}


def migrate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("aiwfe-migrate"), *args], env=env, capture_output=True, text=True, timeout=120
    )


class Stacks:
    def __init__(self, env: dict[str, str], logdir: Path, keys: KeyFiles) -> None:
        self.env = env
        self.logdir = logdir
        self.keys = keys
        self.running: dict[str, Stack] = {}

    def get(self, mode: str) -> Stack:
        if mode not in self.running:
            # One Redis database per stack: each stack's worker consumes only its own queue.
            redis_db = {"consolidated": "0", "split": "1"}[mode]
            env = {**self.env, "AIWFE_REDIS_DB": redis_db}
            if mode != "consolidated":
                # The sweeper would see the other stack's runs (shared database, other Redis).
                env["AIWFE_WORKER_SWEEP_INTERVAL_SECONDS"] = "0"
            stack = Stack(mode, env, self.logdir, self.keys)
            try:
                stack.start()
            except BaseException:
                stack.stop()
                raise
            self.running[mode] = stack
        return self.running[mode]

    def stop(self) -> None:
        for stack in self.running.values():
            stack.stop()


class Api(httpx.Client):
    """An httpx client for the gateway that logs in once."""

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> Api:
        response = self.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        self.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return self


def api_for(stack: Stack) -> Api:
    return Api(base_url=stack.gateway, timeout=30).login()


class Db:
    """Direct SQL from the tests, to check what the services stored."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def dsn(self, database: str | None = None) -> dict[str, Any]:
        return {
            "host": self.env["AIWFE_DB_HOST"],
            "port": int(self.env["AIWFE_DB_PORT"]),
            "user": self.env["AIWFE_DB_USER"],
            "password": self.env["AIWFE_DB_PASSWORD"],
            "database": database or self.env["AIWFE_DB_NAME"],
        }

    def fetch(self, query: str, *args: Any, database: str | None = None) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(**self.dsn(database))
            try:
                return await conn.fetch(query, *args)
            finally:
                await conn.close()

        return asyncio.run(run())

    def value(self, query: str, *args: Any, database: str | None = None) -> Any:
        rows = self.fetch(query, *args, database=database)
        return rows[0][0] if rows else None

    def execute(self, query: str, *args: Any, database: str | None = None) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(**self.dsn(database))
            try:
                await conn.execute(query, *args)
            finally:
                await conn.close()

        asyncio.run(run())


def wait_for_run(api: Api, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """Follow the run's SSE stream until it ends, then return the run."""
    with api.stream("GET", f"/api/v1/workflows/{run_id}/events", timeout=timeout) as response:
        assert response.status_code == 200
        for _ in response.iter_lines():
            pass
    return api.get(f"/api/v1/workflows/{run_id}").json()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy (returned), or fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

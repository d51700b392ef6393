"""Fixtures: real PostgreSQL+pgvector and Redis (ci/services_env.py), migrated schema, and
the services started as real processes in consolidated and split mode."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from hypothesis import settings as hypothesis_settings

from ci import services_env
from tests.services.stack import Stack, script

# No example database on disk (.hypothesis/): runs are derandomized or bounded anyway.
hypothesis_settings.register_profile("aiwfe-services", database=None, deadline=None)
hypothesis_settings.load_profile("aiwfe-services")

JWT_SECRET = "test-jwt-secret-for-the-services-suite"
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


@pytest.fixture(scope="session")
def backing() -> Iterator[services_env.ServicesEnv]:
    env = services_env.start()
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("aiwfe-services")


@pytest.fixture(scope="session")
def config_file(workdir: Path) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


@pytest.fixture(scope="session")
def base_env(backing: services_env.ServicesEnv, config_file: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        **backing.env(),
        "AIWFE_JWT_SECRET": JWT_SECRET,
        "AIWFE_ADMIN_USERNAME": "admin",
        "AIWFE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "AIWFE_LLM_PROVIDER": "local",
        "AIWFE_EMBEDDING_PROVIDER": "local",
        "AIWFE_EMBEDDING_DIM": "256",
        "AIWFE_VECTOR_STORE": "pgvector",
        "AIWFE_CONFIG_FILE": str(config_file),
        "AIWFE_LOG_LEVEL": "info",
        "AIWFE_LOGIN_RATE_LIMIT": "8",
        # Short timeouts so the fault tests see redelivery within seconds.
        "AIWFE_WORKER_VISIBILITY_TIMEOUT": "5",
        "AIWFE_WORKER_LEASE_SECONDS": "4",
        "WORKER_CONCURRENCY": "2",
        "AIWFE_WORKER_SWEEP_INTERVAL_SECONDS": "1",
        "AIWFE_WORKER_REQUEUE_AFTER_SECONDS": "3",
        "PYTHONUNBUFFERED": "1",
    }


def migrate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("aiwfe-migrate"), *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="session")
def migrated(base_env: dict[str, str]) -> dict[str, str]:
    result = migrate(base_env, "upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    return base_env


class Stacks:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.running: dict[str, Stack] = {}

    def get(self, mode: str) -> Stack:
        if mode not in self.running:
            # One Redis database per stack: each stack's worker consumes only its own queue.
            redis_db = {"consolidated": "0", "split": "1"}[mode]
            env = {**self.env, "AIWFE_REDIS_DB": redis_db}
            if mode != "consolidated":
                # The sweeper would see the other stack's runs (shared database, other Redis).
                env["AIWFE_WORKER_SWEEP_INTERVAL_SECONDS"] = "0"
            stack = Stack(mode, env, self.logdir)
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


@pytest.fixture(scope="session")
def stacks(migrated: dict[str, str], workdir: Path) -> Iterator[Stacks]:
    logdir = workdir / "logs"
    logdir.mkdir()
    registry = Stacks(migrated, logdir)
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def stack(stacks: Stacks) -> Stack:
    return stacks.get("consolidated")


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


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[Api]:
    client = api_for(stack)
    yield client
    client.close()


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


@pytest.fixture(scope="session")
def db(base_env: dict[str, str]) -> Db:
    return Db(base_env)


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

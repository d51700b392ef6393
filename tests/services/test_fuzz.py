"""Schemathesis over the gateway's OpenAPI spec: generated requests never get a 500.

Runs against its own gateway and config-manager processes, database and Redis database, with
no worker, so what it creates (queued workflows, flags) never reaches the other tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ci.env.services import free_port
from tests.services.support import ADMIN_PASSWORD, Proc, Stack, migrate, script


@pytest.fixture(scope="module")
def fuzz_gateway(stack: Stack, db) -> Iterator[Proc]:
    # Its own database and Redis database: the runs it creates are seen by no worker.
    database = "aiwfe_fuzz"
    db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    db.execute(f'CREATE DATABASE "{database}"')
    db.execute("CREATE EXTENSION IF NOT EXISTS vector", database=database)
    port, config_port = free_port(), free_port()
    env = {
        **stack.env,
        **stack.cognitive_env,
        "AIWFE_DB_NAME": database,
        "AIWFE_REDIS_DB": "2",
        "AIWFE_LOGIN_RATE_LIMIT": "1000000",
        # and its own config-manager: fuzzed flag changes stay in the fuzz database
        "AIWFE_CONFIG_URL": f"http://127.0.0.1:{config_port}",
    }
    migrated = migrate(env, "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    config = Proc(
        "config-fuzz",
        [script("aiwfe-config")],
        {**env, **stack.keys.env("config"), "AIWFE_PORT": str(config_port)},
        stack.logdir / "fuzz-config.log",
        config_port,
        "/health",
    ).start(wait=False)
    proc = Proc(
        "gateway-fuzz",
        [script("aiwfe-gateway")],
        {**env, **stack.keys.env("gateway"), "AIWFE_PORT": str(port)},
        stack.logdir / "fuzz-gateway.log",
        port,
        "/api/health",
    ).start()
    config.wait_healthy(120)
    yield proc
    proc.stop()
    config.stop()


@pytest.fixture(scope="module")
def auth_headers(fuzz_gateway: Proc) -> dict[str, str]:
    token = httpx.post(
        f"{fuzz_gateway.url}/api/v1/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
    ).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


@pytest.fixture(scope="module")
def gateway_schema(fuzz_gateway: Proc) -> Any:
    spec = httpx.get(f"{fuzz_gateway.url}/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    # The SSE stream lasts until its run ends, and fuzzed runs never run here.
    return schema.exclude(path_regex=r"/events$")


schema = schemathesis.pytest.from_fixture("gateway_schema")


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: Any, fuzz_gateway: Proc, auth_headers: dict[str, str]) -> None:
    response = case.call(base_url=fuzz_gateway.url, headers=auth_headers, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )

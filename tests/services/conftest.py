"""Fixtures: real PostgreSQL+pgvector and Redis (ci/env/services/), migrated schema, and
the services started as real processes in consolidated and split mode."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import settings as hypothesis_settings

from aiwfe.core.keyfiles import KeyFiles
from ci.env import services as services_env
from tests.services.support import (
    ADMIN_PASSWORD,
    CONFIG,
    Api,
    Db,
    Stack,
    Stacks,
    api_for,
    migrate,
)

# No example database on disk (.hypothesis/): runs are derandomized or bounded anyway.
hypothesis_settings.register_profile("aiwfe-services", database=None, deadline=None)
hypothesis_settings.load_profile("aiwfe-services")


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
def keys(workdir: Path) -> KeyFiles:
    """The stacks' token keys: the gateway's and the worker's, each given only to its own
    process (Stack._add), public halves to the verifiers."""
    return KeyFiles.create(workdir / "keys")


@pytest.fixture(scope="session")
def base_env(backing: services_env.ServicesEnv, config_file: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        **backing.env(),
        "AIWFE_ADMIN_USERNAME": "admin",
        "AIWFE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "AIWFE_LLM_PROVIDER": "local",
        "AIWFE_EMBEDDING_PROVIDER": "local",
        "AIWFE_EMBEDDING_DIM": "256",
        "AIWFE_VECTOR_STORE": "pgvector",
        "AIWFE_CONFIG_FILE": str(config_file),
        "AIWFE_LOG_LEVEL": "info",
        # Every test logs in from 127.0.0.1; test_edge.py tests the limits behind a proxy.
        "AIWFE_LOGIN_RATE_LIMIT": "60",
        # Short timeouts so the fault tests see redelivery within seconds.
        "AIWFE_WORKER_VISIBILITY_TIMEOUT": "5",
        "AIWFE_WORKER_LEASE_SECONDS": "4",
        "WORKER_CONCURRENCY": "2",
        "AIWFE_WORKER_SWEEP_INTERVAL_SECONDS": "1",
        "AIWFE_WORKER_REQUEUE_AFTER_SECONDS": "3",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def migrated(base_env: dict[str, str]) -> dict[str, str]:
    result = migrate(base_env, "upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    return base_env


@pytest.fixture(scope="session")
def stacks(migrated: dict[str, str], workdir: Path, keys: KeyFiles) -> Iterator[Stacks]:
    logdir = workdir / "logs"
    logdir.mkdir()
    registry = Stacks(migrated, logdir, keys)
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def stack(stacks: Stacks) -> Stack:
    return stacks.get("consolidated")


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[Api]:
    client = api_for(stack)
    yield client
    client.close()


@pytest.fixture(scope="session")
def db(base_env: dict[str, str]) -> Db:
    return Db(base_env)

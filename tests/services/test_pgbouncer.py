"""Through a real PgBouncer in transaction mode (as the bundled data-platform runs it): the
services' engine settings (no asyncpg statement cache, unique statement names) work, where a
default asyncpg engine breaks. Migrations (advisory transaction lock) work through it too."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from unittest import mock

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aiwfe.cognitive.engine import Engine
from aiwfe.core.db import create_engine
from aiwfe.core.settings import Settings
from ci.services_env import PgBouncer, free_port
from tests.services.conftest import migrate


@pytest.fixture(scope="module")
def bouncer(backing, migrated: dict[str, str], db) -> Iterator[dict[str, str]]:
    name = f"aiwfe_bouncer_{uuid.uuid4().hex[:6]}"
    db.execute(f'CREATE DATABASE "{name}"')
    db.execute("CREATE EXTENSION IF NOT EXISTS vector", database=name)
    proxy = PgBouncer(backing.postgres, free_port())
    proxy.start()
    env = {**migrated, "AIWFE_DB_PORT": str(proxy.port), "AIWFE_DB_NAME": name}
    try:
        # Migrations through PgBouncer (the advisory lock is transaction-scoped for this).
        result = migrate(env, "upgrade")
        assert result.returncode == 0, result.stdout + result.stderr
        yield env
    finally:
        proxy.stop()
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def settings_for(env: dict[str, str]) -> Settings:
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings(db_pool_size=8, db_max_overflow=0)


def test_migrations_through_pgbouncer(bouncer: dict[str, str]) -> None:
    assert migrate(bouncer, "check").returncode == 0
    again = migrate(bouncer, "upgrade")  # idempotent through the pooler too
    assert again.returncode == 0 and "admin user exists" in again.stdout


def test_concurrent_module_work_through_pgbouncer(bouncer: dict[str, str]) -> None:
    engine = Engine(settings_for(bouncer))
    ns = f"pgb-{uuid.uuid4().hex[:6]}"

    async def work() -> list[dict]:
        call = engine.transport.call
        ingests = [
            call("memory", "ingest", {"text": f"Server {i} runs in rack {i % 3}.", "namespace": ns})
            for i in range(12)
        ]
        await asyncio.gather(*ingests)
        return await asyncio.gather(
            *[
                call("memory", "recall", {"query": f"Server {i}", "namespace": ns})
                for i in range(12)
            ],
            *[
                call("learning", "feedback", {"subject": ns, "outcome": "success", "rating": 4})
                for _ in range(8)
            ],
            call("learning", "stats", {"subject": ns}),
        )

    async def run() -> list[dict]:
        try:
            return await work()
        finally:
            await engine.close()

    results = asyncio.run(run())
    recalls = results[:12]
    assert all(r["items"] for r in recalls)
    assert recalls[5]["items"][0]["text"] == "Server 5 runs in rack 2."


@pytest.mark.parametrize("engine_kind", ["aiwfe-engine", "asyncpg-defaults"])
def test_statement_caching_behind_pgbouncer(bouncer: dict[str, str], engine_kind: str) -> None:
    """The same concurrent queries: fine with the services' engine; with asyncpg's statement
    cache on (the default) transaction pooling breaks them. The control shows the test bites."""
    settings = settings_for(bouncer)

    async def run() -> list[object]:
        if engine_kind == "aiwfe-engine":
            engine = create_engine(settings)
        else:
            engine = create_async_engine(settings.database_url(), pool_size=8, max_overflow=0)

        async def one(i: int) -> None:
            for _ in range(10):
                async with engine.connect() as conn:
                    value = await conn.scalar(text("SELECT CAST(:i AS int) + 1"), {"i": i})
                    assert value == i + 1

        try:
            return await asyncio.gather(*[one(i) for i in range(16)], return_exceptions=True)
        finally:
            await engine.dispose()

    errors = [o for o in asyncio.run(run()) if isinstance(o, BaseException)]
    if engine_kind == "aiwfe-engine":
        assert errors == []
    else:
        assert errors, "expected prepared-statement errors without the PgBouncer-safe settings"
        assert any("prepared statement" in str(e) for e in errors), [str(e)[:300] for e in errors]

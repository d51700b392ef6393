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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from aiwfe.cognitive.engine import Engine
from aiwfe.core.db import create_engine
from aiwfe.core.settings import Settings
from ci.env.services import PgBouncer, free_port
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


PID = "SELECT pg_backend_pid() AS {label}"  # a new statement text per use: never cached


@pytest.mark.parametrize("engine_kind", ["aiwfe-engine", "asyncpg-defaults"])
def test_statement_caching_behind_pgbouncer(bouncer: dict[str, str], engine_kind: str) -> None:
    """A client's second transaction is forced onto another server connection than the one
    its statement was prepared on: the services' engine still answers; a default asyncpg
    engine (statement cache on) fails with a missing prepared statement. Nothing is left to
    timing: PgBouncer's pool has two server connections and a holder keeps the first one busy
    in an open transaction, so the client can only get the other one (the test checks it did).
    """
    settings = settings_for(bouncer)
    query = text("SELECT CAST(:i AS int) + 1")

    async def run() -> tuple[int, int, object]:
        if engine_kind == "aiwfe-engine":
            client = create_engine(settings.model_copy(update={"db_pool_size": 1}))
        else:
            client = create_async_engine(settings.database_url(), pool_size=1, max_overflow=0)
        holders = create_engine(settings.model_copy(update={"db_pool_size": 2}))
        try:
            # 1. The client prepares (and, by default, caches) the statement on server S1.
            async with client.connect() as conn:
                assert await conn.scalar(query, {"i": 1}) == 2
                first = await conn.scalar(text(PID.format(label="first")))
            # 2. Two holders take both server connections of the pool (pool size 2); the
            #    one on S1 stays in its transaction, the other lets its server go.
            async with holders.connect() as a, holders.connect() as b:
                pids = [await c.scalar(text(PID.format(label="holder"))) for c in (a, b)]
                assert first in pids, f"pool has {pids}, not the client's server {first}"
                await (b if pids[0] == first else a).rollback()
                # 3. The client's next transaction can only get the other server.
                async with client.connect() as conn:
                    moved = await conn.scalar(text(PID.format(label="moved")))
                    try:
                        outcome: object = await conn.scalar(query, {"i": 1})
                    except DBAPIError as err:  # the control's expected failure
                        outcome = err
            return first, moved, outcome
        finally:
            await client.dispose()
            await holders.dispose()

    first, moved, outcome = asyncio.run(run())
    assert moved != first, "the client was not moved to another server connection"
    if engine_kind == "aiwfe-engine":
        assert outcome == 2
    else:
        assert isinstance(outcome, Exception), "a cached statement ran on another server"
        assert "prepared statement" in str(outcome), str(outcome)[:300]

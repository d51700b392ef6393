"""A diagnostic for the profile's biggest bucket: what one small query costs through the
services' own engine (aiwfe.core.db.create_engine: asyncpg statement cache off and a fresh
uniquely named prepared statement per query, for PgBouncer transaction mode, plus a
pre-ping per checkout) versus asyncpg's defaults (statement cache on)."""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import time
from typing import Any

QUERY = "SELECT id, text, namespace FROM memories WHERE namespace = :ns LIMIT 5"


async def _per_query(engine: Any, queries: int) -> tuple[float, float]:
    from sqlalchemy import text

    statement = text(QUERY)
    async with engine.connect() as conn:  # connect and warm up
        await conn.execute(statement, {"ns": "bench"})
    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    for _ in range(queries):
        async with engine.connect() as conn:
            await conn.execute(statement, {"ns": "bench"})
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall / queries * 1000, cpu / queries * 1000


async def _run(queries: int, reps: int) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from aiwfe.core.db import create_engine
    from aiwfe.core.settings import Settings

    settings = Settings()
    engines = {
        "shipped": create_engine(settings),
        "statement_cache": create_async_engine(
            settings.database_url(), pool_size=5, pool_pre_ping=True, connect_args={"ssl": False}
        ),
    }
    samples: dict[str, dict[str, list[float]]] = {
        name: {"wall_ms": [], "client_cpu_ms": []} for name in engines
    }
    try:
        for _ in range(reps):  # alternating
            for name, engine in engines.items():
                wall, cpu = await _per_query(engine, queries)
                samples[name]["wall_ms"].append(wall)
                samples[name]["client_cpu_ms"].append(cpu)
    finally:
        for engine in engines.values():
            await engine.dispose()
    out: dict[str, Any] = {"query": QUERY, "queries_per_rep": queries, "reps": reps}
    for name, figures in samples.items():
        out[name] = {k: round(statistics.median(v), 4) for k, v in figures.items()}
        out[name]["raw"] = {k: [round(x, 4) for x in v] for k, v in figures.items()}
    out["wall_ratio"] = round(out["statement_cache"]["wall_ms"] / out["shipped"]["wall_ms"], 3)
    out["cpu_ratio"] = round(
        out["statement_cache"]["client_cpu_ms"] / out["shipped"]["client_cpu_ms"], 3
    )
    return out


def run(env: dict[str, str], queries: int = 1000, reps: int = 3) -> dict[str, Any]:
    """Run in this process with the backing services' settings (restored afterwards)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return asyncio.run(_run(queries, reps))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

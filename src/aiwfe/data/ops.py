"""export / import: write a bundle from a live install, load one into another."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiwfe.core.settings import Settings
from aiwfe.data import bundle, pg, redisdata, vectors
from aiwfe.data.common import Mismatch, PgTools, Refusal
from aiwfe.data.targets import Target

PG_DIR, REDIS_FILE, VEC_DIR = "pg", "redis/keys.jsonl", "vectors"


async def _dump_consistent(settings: Settings, tools: PgTools, path: Path) -> dict[str, Any]:
    """pg_dump and the fingerprint read the SAME snapshot (pg_export_snapshot): the
    fingerprint describes exactly the rows in the dump, even while the app writes."""
    conn = await pg.connect(settings)
    try:
        info = await pg.server_info(conn)
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            await asyncio.to_thread(pg.dump, settings, tools, path, snapshot)
            fingerprint = await pg.fingerprint(conn)
        return {"server": info, "fingerprint": fingerprint}
    finally:
        await conn.close()


@contextmanager
def step(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record how long one step took (reported in the command's JSON; the bench reads it)."""
    started = time.monotonic()
    yield
    timings[name] = round(time.monotonic() - started, 2)


def _export_vectors(
    settings: Settings, folder: Path
) -> tuple[vectors.Collection | None, list[str], dict[str, Any]]:
    coll, points = vectors.read_points(settings)
    if coll is None:
        return None, [], {}
    checksum = vectors.Checksum()

    def counted() -> Iterator[vectors.Point]:
        for point in points:
            checksum.add(*point)
            yield point

    written = vectors.write_files(coll, counted(), folder / VEC_DIR)
    paths = [str(p.relative_to(folder)) for p in written]
    return coll, paths, vectors.summary(coll, checksum)


def export(
    settings: Settings,
    target: Target,
    tools: PgTools,
    quiesced: bool,
    scratch: Path,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Write a bundle; the manifest goes last. Returns the manifest."""
    timings = {} if timings is None else timings
    bundle_id = bundle.new_id()
    folder = target.staging(bundle_id, scratch)
    for sub in (PG_DIR, "redis", VEC_DIR):
        (folder / sub).mkdir()
    files = [f"{PG_DIR}/globals.sql", f"{PG_DIR}/{settings.db_name}.dump", REDIS_FILE]
    with step(timings, "pg_dump + fingerprint"):
        pg.dump_globals(settings, tools, folder / files[0])
        pg_part = pg.run(lambda: _dump_consistent(settings, tools, folder / files[1]))
    with step(timings, "redis export"):
        redis_info = redisdata.server_info(settings)
        redis_fp = redisdata.export(settings, folder / REDIS_FILE)
    with step(timings, "vectors export"):
        coll, vec_files, vec_fp = _export_vectors(settings, folder)
    files += vec_files
    body = {
        "bundle": bundle_id,
        "quiesced": quiesced,
        "alembic_revision": pg_part["fingerprint"]["alembic_revision"],
        "components": {
            "postgres": pg_part["server"],
            "redis": redis_info,
            "vectors": {
                "store": settings.vector_store,
                **({"collection": coll.name} if coll else {}),
            },
        },
        "postgres": {"database": settings.db_name, "dump": files[1], "globals": files[0]},
        "fingerprints": {"postgres": pg_part["fingerprint"], "redis": redis_fp, "vectors": vec_fp},
    }
    with step(timings, "manifest (sha256) + upload"):
        manifest = bundle.write_manifest(folder, files, body)
        target.put(bundle_id, folder, [*files, manifest])
    return bundle.read_manifest(folder)


# ---- import -------------------------------------------------------------------------------


async def _pg_preflight(settings: Settings, manifest: dict[str, Any], force: bool) -> set[str]:
    """Refusals for the database; returns the target's existing role names."""
    conn = await pg.connect(settings)
    try:
        info = await pg.server_info(conn)
        source = manifest["components"]["postgres"]
        if info["major"] < source["major"]:
            raise Refusal(
                f"target PostgreSQL {info['major']} is older than the source's "
                f"{source['major']}: restore into PostgreSQL {source['major']} or newer"
            )
        tables = await pg.user_tables(conn)
        if tables and not force:
            raise Refusal(
                f"target database {settings.db_name} already has {len(tables)} tables: "
                "restore into an empty database, or pass --force to replace its contents"
            )
        return {r[0] for r in await conn.fetch("SELECT rolname FROM pg_roles")}
    finally:
        await conn.close()


def preflight(
    settings: Settings,
    manifest: dict[str, Any],
    folder: Path,
    tools: PgTools,
    force: bool,
    migrate: bool,
) -> set[str]:
    """Every check that can refuse, before a single byte is written to the target."""
    pg.check_dump(tools, folder / manifest["postgres"]["dump"])
    roles = pg.run(lambda: _pg_preflight(settings, manifest, force))
    busy = redisdata.non_empty(settings, [int(d) for d in manifest["fingerprints"]["redis"]])
    if busy and not force:
        where = ", ".join(f"db {db}: {n} keys" for db, n in sorted(busy.items()))
        raise Refusal(f"target Redis is not empty ({where}): pass --force to replace those keys")
    coll = manifest["fingerprints"]["vectors"]
    if coll:
        vectors.check_target(settings, coll, force, migrate)
    return roles


def live_postgres(settings: Settings) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        conn = await pg.connect(settings)
        try:
            return await pg.fingerprint(conn)
        finally:
            await conn.close()

    return pg.run(go)


def run_migrations(settings: Settings) -> None:
    env = dict(os.environ, AIWFE_DB_NAME=settings.db_name)
    result = subprocess.run(
        [sys.executable, "-m", "aiwfe.migrate", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise RuntimeError(f"aiwfe-migrate upgrade failed: {' '.join(tail)}")


def load(
    settings: Settings,
    target: Target,
    bundle_id: str,
    tools: PgTools,
    *,
    force: bool,
    migrate: bool,
    scratch: Path,
    log: Any = print,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Restore a bundle into the install `settings` points at, verifying every component
    against the bundle's fingerprints right after loading it."""
    timings = {} if timings is None else timings
    target.require(bundle_id)
    with step(timings, "fetch + sha256 check"):
        folder = target.fetch(bundle_id, scratch)
        manifest = bundle.require_intact(folder)
    with step(timings, "preflight (full dump read)"):
        roles = preflight(settings, manifest, folder, tools, force, migrate)
    fps = manifest["fingerprints"]
    with step(timings, "pg_restore"):
        created = pg.restore_globals(
            settings, tools, folder / manifest["postgres"]["globals"], roles
        )
        pg.restore(settings, tools, folder / manifest["postgres"]["dump"], settings.db_name, force)
    with step(timings, "postgres fingerprint"):
        _check(bundle.compare_postgres(fps["postgres"], live_postgres(settings)))
    log(
        f"postgres: restored and verified ({len(fps['postgres']['tables'])} tables, "
        f"{created} roles created)"
    )
    dbs = [int(d) for d in fps["redis"]]
    if force:
        redisdata.flush(settings, dbs)
    count = redisdata.load(settings, folder / REDIS_FILE)
    _check(bundle.compare_redis(fps["redis"], redisdata.fingerprint(settings)))
    log(f"redis: restored and verified ({count} keys)")
    if migrate:
        run_migrations(settings)
        log("migrations: upgraded to head")
    if fps["vectors"]:
        with step(timings, "vectors load + fingerprint"):
            vectors.load(settings, fps["vectors"], folder / VEC_DIR, replace=force)
            _check(bundle.compare_vectors(fps["vectors"], vectors.fingerprint(settings)))
        log(
            f"vectors: {fps['vectors']['store']} -> {settings.vector_store}, verified "
            f"({fps['vectors']['count']} points)"
        )
    return manifest


def _check(problems: list[str]) -> None:
    if problems:
        raise Mismatch(problems)

"""verify, drill, list, prune, inventory, fingerprint."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from aiwfe.core.settings import Settings
from aiwfe.data import bundle, ops, pg, redisdata, vectors
from aiwfe.data.common import Mismatch, PgTools, Refusal
from aiwfe.data.targets import Target


def live_fingerprint(settings: Settings) -> dict[str, Any]:
    return {
        "postgres": ops.live_postgres(settings),
        "redis": redisdata.fingerprint(settings),
        "vectors": vectors.fingerprint(settings),
    }


def verify(target: Target, bundle_id: str, scratch: Path, live: Settings | None) -> list[str]:
    """The bundle against its manifest; with `live`, that install against the bundle's
    fingerprints. Raises Mismatch listing every difference."""
    target.require(bundle_id)
    folder = target.fetch(bundle_id, scratch)
    manifest = bundle.read_manifest(folder)
    problems = bundle.check_files(folder, manifest)
    checked = [f"{len(manifest['files'])} files match the manifest"] if not problems else []
    if live is not None:
        fps, now = manifest["fingerprints"], live_fingerprint(live)
        problems += bundle.compare_postgres(fps["postgres"], now["postgres"])
        problems += bundle.compare_redis(fps["redis"], now["redis"])
        problems += bundle.compare_vectors(fps["vectors"], now["vectors"])
        checked.append("the live install matches the bundle's fingerprints")
    if problems:
        raise Mismatch(problems)
    return checked


def listing(target: Target) -> list[dict[str, Any]]:
    rows = []
    for name in target.bundles():
        text = target.manifest_text(name)
        row: dict[str, Any] = {"bundle": name, "complete": text is not None}
        if text is not None:
            manifest = json.loads(text)
            row.update(
                created_at=manifest["created_at"],
                quiesced=manifest["quiesced"],
                app_version=manifest["app_version"],
                alembic_revision=manifest["alembic_revision"],
                bytes=sum(f["size"] for f in manifest["files"].values()),
            )
        rows.append(row)
    return rows


def prune(target: Target, keep_last: int) -> list[str]:
    """Keep the newest `keep_last` complete bundles; delete older ones, and incomplete
    bundles older than the newest complete one (interrupted backups). A newer incomplete
    bundle may be a backup running right now: it is kept."""
    if keep_last < 1:
        raise Refusal(f"--keep-last {keep_last}: keep at least 1 bundle")
    names = target.bundles()  # ids sort by time
    complete = [n for n in names if target.has_manifest(n)]
    doomed = complete[:-keep_last] if len(complete) > keep_last else []
    if complete:
        doomed += [n for n in names if n not in complete and n < complete[-1]]
    for name in sorted(doomed):
        target.delete(name)
    return sorted(doomed)


async def _create_db(settings: Settings, name: str) -> None:
    conn = await pg.connect(settings)
    try:
        await conn.execute(f"CREATE DATABASE {pg.quote_ident(name)}")
    finally:
        await conn.close()


async def _drop_db(settings: Settings, name: str) -> None:
    conn = await pg.connect(settings)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {pg.quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


def drill(
    settings: Settings,
    target: Target,
    bundle_id: str,
    tools: PgTools,
    scratch: Path,
    redis_base: int,
    log: Any = print,
) -> None:
    """Restore into a scratch database, scratch Redis databases and a scratch collection,
    verify against the bundle's fingerprints, and drop them all again."""
    target.require(bundle_id)
    folder = target.fetch(bundle_id, scratch)
    manifest = bundle.require_intact(folder)
    pg.check_dump(tools, folder / manifest["postgres"]["dump"])
    fps, suffix = manifest["fingerprints"], secrets.token_hex(4)
    db_map = {int(db): redis_base + i for i, db in enumerate(sorted(int(d) for d in fps["redis"]))}
    if db_map and (redis_base < 0 or max(db_map.values()) > 15):
        raise Refusal(
            f"--redis-db {redis_base}: the drill needs {len(db_map)} scratch Redis database(s) "
            "within 0-15; pass a lower --redis-db"
        )
    busy = redisdata.non_empty(settings, list(db_map.values()))
    if busy:
        raise Refusal(
            f"scratch Redis databases {sorted(busy)} are not empty: pass --redis-db N with "
            f"{len(db_map)} free database(s) from N on"
        )
    scratch_db = f"{settings.db_name}_drill_{suffix}"[:63]
    drill_settings = settings.model_copy(
        update={
            "db_name": scratch_db,
            "qdrant_collection": f"{settings.qdrant_collection}_drill_{suffix}",
        }
    )
    pg.run(lambda: _create_db(settings, scratch_db))
    try:
        pg.restore(settings, tools, folder / manifest["postgres"]["dump"], scratch_db, False)
        _check(bundle.compare_postgres(fps["postgres"], ops.live_postgres(drill_settings)))
        log(f"postgres: restored into {scratch_db} and verified")
        redisdata.load(settings, folder / ops.REDIS_FILE, db_map)
        now = {str(new): v for new, v in _redis_subset(settings, db_map).items()}
        _check(bundle.compare_redis(fps["redis"], now, db_map))
        log(f"redis: restored into databases {sorted(db_map.values())} and verified")
        if fps["vectors"]:
            _drill_vectors(drill_settings, fps["vectors"], folder)
            log(f"vectors: restored into a scratch {drill_settings.vector_store} store, verified")
    finally:
        redisdata.flush(settings, list(db_map.values()))
        if fps["vectors"] and drill_settings.vector_store == "qdrant":
            client = vectors.qdrant_client(drill_settings)
            try:
                client.delete_collection(drill_settings.qdrant_collection)
            finally:
                client.close()
        pg.run(lambda: _drop_db(settings, scratch_db))


def _redis_subset(settings: Settings, db_map: dict[int, int]) -> dict[int, Any]:
    full = redisdata.fingerprint(settings)
    return {db: full[str(db)] for db in db_map.values() if str(db) in full}


def _drill_vectors(settings: Settings, coll: dict[str, Any], folder: Path) -> None:
    if settings.vector_store == "pgvector" and coll["store"] != "pgvector":
        ops.run_migrations(settings)  # the scratch database needs the memory_vectors table
    vectors.load(settings, coll, folder / ops.VEC_DIR, replace=False)
    _check(bundle.compare_vectors(coll, vectors.fingerprint(settings)))


def inventory(settings: Settings) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        conn = await pg.connect(settings)
        try:
            return {
                **await pg.server_info(conn),
                "alembic_revision": await pg.alembic_revision(conn),
                "tables": len(await pg.user_tables(conn)),
            }
        finally:
            await conn.close()

    coll = vectors.describe(settings)
    return {
        "postgres": pg.run(go),
        "redis": redisdata.server_info(settings),
        "vectors": coll.__dict__ if coll else None,
    }


def inventory_for(
    settings: Settings,
    target: Target,
    bundle_id: str,
    scratch: Path,
    tools: PgTools,
    force: bool,
    migrate: bool,
) -> dict[str, Any]:
    """The import's preflight as a dry run: refuses what `import` would refuse."""
    target.require(bundle_id)
    folder = target.fetch(bundle_id, scratch)
    manifest = bundle.require_intact(folder)
    ops.preflight(settings, manifest, folder, tools, force, migrate)
    return {"target": inventory(settings), "bundle": manifest["components"]}


def _check(problems: list[str]) -> None:
    if problems:
        raise Mismatch(problems)

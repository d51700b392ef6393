"""Vector collections: read from / write to Qdrant (points API) or the pgvector table.

Bundle files per collection: vectors/<name>.jsonl (one {"id", "payload"} per line) and
vectors/<name>.f32 (the vectors, float32 little-endian, same order). This store-neutral form
is what lets an import move vectors from Qdrant into pgvector and back. Qdrant's own
snapshots are not used: a snapshot restores only into Qdrant (of a compatible version) and
qdrant-client's local mode, the only Qdrant the harness can run, has no snapshot API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aiwfe.core.settings import Settings
from aiwfe.data import pg
from aiwfe.data.common import Refusal, canonical

BATCH = 512
PG_TABLE = "memory_vectors"
Point = tuple[str, np.ndarray, dict[str, Any]]


@dataclass
class Collection:
    store: str  # "qdrant" or "pgvector"
    name: str
    dim: int
    distance: str
    count: int


class Checksum:
    """Order-independent: the sum (mod 2^256) of one sha256 per point over id, float32
    vector bytes and canonical payload JSON."""

    def __init__(self) -> None:
        self.total = 0
        self.count = 0

    def add(self, point_id: str, vector: np.ndarray, payload: dict[str, Any]) -> None:
        digest = hashlib.sha256(point_id.encode())
        digest.update(np.asarray(vector, dtype="<f4").tobytes())
        digest.update(canonical(payload).encode())
        self.total = (self.total + int.from_bytes(digest.digest(), "big")) % (1 << 256)
        self.count += 1

    def hexdigest(self) -> str:
        return f"{self.total:064x}"


# ---- Qdrant -------------------------------------------------------------------------------


def qdrant_client(settings: Settings) -> Any:
    from qdrant_client import QdrantClient

    url = settings.qdrant_url
    if url.startswith("path:"):
        return QdrantClient(path=url.removeprefix("path:"))
    key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    return QdrantClient(url=url, api_key=key, timeout=60)


def qdrant_collection(client: Any, name: str) -> Collection | None:
    if not client.collection_exists(name):
        return None
    info = client.get_collection(name)
    params = info.config.params.vectors
    count = client.count(name, exact=True).count
    return Collection("qdrant", name, int(params.size), str(params.distance.value), count)


def qdrant_points(client: Any, name: str) -> Iterator[Point]:
    offset = None
    while True:
        points, offset = client.scroll(
            name, limit=BATCH, offset=offset, with_payload=True, with_vectors=True
        )
        for point in points:
            yield str(point.id), np.asarray(point.vector, dtype="<f4"), point.payload or {}
        if offset is None:
            return


def qdrant_load(client: Any, coll: Collection, points: Iterator[Point], replace: bool) -> None:
    from qdrant_client import models

    if replace and client.collection_exists(coll.name):
        client.delete_collection(coll.name)
    client.create_collection(
        coll.name,
        vectors_config=models.VectorParams(size=coll.dim, distance=models.Distance(coll.distance)),
    )
    batch: list[Any] = []
    for point_id, vector, payload in points:
        batch.append(models.PointStruct(id=point_id, vector=vector.tolist(), payload=payload))
        if len(batch) >= BATCH:
            client.upsert(coll.name, points=batch, wait=True)
            batch = []
    if batch:
        client.upsert(coll.name, points=batch, wait=True)


# ---- pgvector -----------------------------------------------------------------------------


async def pg_collection(conn: Any) -> Collection | None:
    if not await conn.fetchval("SELECT to_regclass('public.memory_vectors') IS NOT NULL"):
        return None
    dim = await conn.fetchval(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'public.memory_vectors'::regclass"
        " AND attname = 'embedding'"
    )
    count = await conn.fetchval("SELECT count(*) FROM public.memory_vectors")
    return Collection("pgvector", PG_TABLE, int(dim), "Cosine", int(count))


async def pg_points(conn: Any) -> list[Point]:
    from pgvector.asyncpg import register_vector

    await register_vector(conn, schema="public")
    rows = await conn.fetch("SELECT id::text, embedding, payload::text FROM public.memory_vectors")
    return [(r[0], r[1].to_numpy().astype("<f4"), json.loads(r[2])) for r in rows]


async def pg_load(conn: Any, points: Iterator[Point], replace: bool) -> None:
    from pgvector.asyncpg import register_vector

    await register_vector(conn, schema="public")
    sql = (
        "INSERT INTO public.memory_vectors (id, namespace, embedding, payload) "
        "VALUES ($1::uuid, $2, $3, $4::jsonb)"
    )
    async with conn.transaction():
        if replace:
            await conn.execute("DELETE FROM public.memory_vectors")
        batch: list[tuple[Any, ...]] = []
        for point_id, vector, payload in points:
            batch.append(
                (point_id, payload.get("namespace", "default"), vector, canonical(payload))
            )
            if len(batch) >= BATCH:
                await conn.executemany(sql, batch)
                batch = []
        if batch:
            await conn.executemany(sql, batch)


# ---- the store an install uses ------------------------------------------------------------


def describe(settings: Settings) -> Collection | None:
    if settings.vector_store == "pgvector":
        return pg.run(lambda: _pg(settings, pg_collection))
    client = qdrant_client(settings)
    try:
        return qdrant_collection(client, settings.qdrant_collection)
    finally:
        client.close()


async def _pg(settings: Settings, fn: Any, *args: Any) -> Any:
    conn = await pg.connect(settings)
    try:
        return await fn(conn, *args)
    finally:
        await conn.close()


def read_points(settings: Settings) -> tuple[Collection | None, Iterator[Point]]:
    if settings.vector_store == "pgvector":
        coll = describe(settings)
        points = pg.run(lambda: _pg(settings, pg_points)) if coll else []
        return coll, iter(points)
    client = qdrant_client(settings)
    coll = qdrant_collection(client, settings.qdrant_collection)
    if coll is None:
        client.close()
        return None, iter(())

    def generate() -> Iterator[Point]:
        try:
            yield from qdrant_points(client, coll.name)
        finally:
            client.close()

    return coll, generate()


def fingerprint(settings: Settings) -> dict[str, Any]:
    coll, points = read_points(settings)
    if coll is None:
        return {}
    checksum = Checksum()
    for point in points:
        checksum.add(*point)
    return summary(coll, checksum)


def summary(coll: Collection, checksum: Checksum) -> dict[str, Any]:
    """A collection's fingerprint: exact count, config, checksum over the points."""
    return {
        "collection": coll.name,
        "store": coll.store,
        "count": checksum.count,
        "config": {"dim": coll.dim, "distance": coll.distance},
        "checksum": checksum.hexdigest(),
    }


# ---- bundle files -------------------------------------------------------------------------


def write_files(coll: Collection, points: Iterator[Point], directory: Path) -> list[Path]:
    meta_path = directory / f"{coll.name}.jsonl"
    data_path = directory / f"{coll.name}.f32"
    count = 0
    with meta_path.open("w") as meta, data_path.open("wb") as data:
        for point_id, vector, payload in points:
            if vector.shape != (coll.dim,):
                raise RuntimeError(f"point {point_id} has {vector.shape[0]} dimensions")
            meta.write(json.dumps({"id": point_id, "payload": payload}) + "\n")
            data.write(np.asarray(vector, dtype="<f4").tobytes())
            count += 1
    coll.count = count
    return [meta_path, data_path]


def read_files(coll: dict[str, Any], directory: Path) -> Iterator[Point]:
    dim, name = int(coll["config"]["dim"]), coll["collection"]
    row = dim * 4
    with (
        (directory / f"{name}.jsonl").open() as meta,
        (directory / f"{name}.f32").open("rb") as data,
    ):
        for line in meta:
            item = json.loads(line)
            raw = data.read(row)
            if len(raw) != row:
                raise Refusal(f"vectors/{name}.f32 is shorter than its .jsonl: take a new backup")
            yield item["id"], np.frombuffer(raw, dtype="<f4"), item["payload"]


def load(settings: Settings, coll: dict[str, Any], directory: Path, replace: bool) -> None:
    """Load the bundle's collection into the store `settings` names (moving between stores
    when they differ). Preconditions are checked by `check_target` beforehand."""
    points = read_files(coll, directory)
    if settings.vector_store == "pgvector":
        if coll["store"] == "pgvector":
            return  # the table came with the database dump
        pg.run(lambda: _pg(settings, pg_load, points, replace))
        return
    target = Collection(
        "qdrant",
        settings.qdrant_collection,
        coll["config"]["dim"],
        coll["config"]["distance"],
        coll["count"],
    )
    client = qdrant_client(settings)
    try:
        qdrant_load(client, target, points, replace)
    finally:
        client.close()


def check_target(settings: Settings, coll: dict[str, Any], force: bool, migrate: bool) -> None:
    """Refuse before anything is written: a store with points (without --force), a missing
    pgvector table, or another dimension."""
    dim = coll["config"]["dim"]
    if settings.vector_store == "pgvector" and coll["store"] == "pgvector":
        return  # the table travels inside the database dump
    existing = describe(settings)
    if existing is None and settings.vector_store == "pgvector":
        if not migrate:
            raise Refusal(
                "the target has no memory_vectors table: pass --migrate (runs the schema "
                "migrations after the database restore), or run `aiwfe-migrate upgrade` first"
            )
        if settings.embedding_dim != dim:
            raise Refusal(
                f"AIWFE_EMBEDDING_DIM is {settings.embedding_dim}, the bundle's vectors have "
                f"{dim} dimensions: set AIWFE_EMBEDDING_DIM={dim} for the migration"
            )
    if existing is None:
        return
    if existing.dim != dim:
        raise Refusal(
            f"target {existing.store} store has {existing.dim} dimensions, the bundle {dim}: "
            "set AIWFE_EMBEDDING_DIM to match, or re-embed after the import"
        )
    if existing.count and not force:
        raise Refusal(
            f"target {existing.store} store {existing.name} holds {existing.count} vectors: "
            "restore into an empty install, or pass --force to replace them"
        )

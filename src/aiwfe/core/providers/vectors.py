"""Vector stores: Qdrant (qdrant-client: server, or embedded local mode) and pgvector."""

from __future__ import annotations

import functools
import json
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from aiwfe.core.metrics import VECTOR_LATENCY
from aiwfe.core.settings import Settings


def observed(operation: str):
    """Record a store call in aiwfe_vector_store_operation_duration_seconds (with outcome)."""

    def wrap(method):
        @functools.wraps(method)
        async def call(self, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            outcome = "error"
            try:
                result = await method(self, *args, **kwargs)
                outcome = "ok"
                return result
            finally:
                elapsed = time.perf_counter() - start
                VECTOR_LATENCY.labels(self.name, operation, outcome).observe(elapsed)

        return call

    return wrap


@dataclass(frozen=True)
class VectorHit:
    id: uuid.UUID
    score: float  # cosine similarity, higher is closer
    payload: dict[str, Any]


@dataclass(frozen=True)
class VectorFilter:
    namespace: str
    tags: tuple[str, ...] = ()  # any of these tags
    where: tuple[tuple[str, Any], ...] = ()  # metadata equality
    owner: str | None = None  # payload["owner"]; None: every owner's


class VectorStore(ABC):
    name: str

    @abstractmethod
    async def ensure(self) -> None:
        """Create the collection/table when missing (pgvector: checks the migration ran)."""

    @abstractmethod
    async def upsert(
        self, ids: list[uuid.UUID], vectors: list[list[float]], payloads: list[dict[str, Any]]
    ) -> None: ...

    @abstractmethod
    async def search(
        self, vector: list[float], limit: int, flt: VectorFilter
    ) -> list[VectorHit]: ...

    @abstractmethod
    async def delete(self, ids: list[uuid.UUID]) -> None: ...

    async def ping(self) -> None:
        await self.ensure()

    async def close(self) -> None:
        return None


class QdrantStore(VectorStore):
    name = "qdrant"

    def __init__(self, settings: Settings) -> None:
        from qdrant_client import AsyncQdrantClient

        url = settings.qdrant_url
        if url == ":memory:":
            self.client = AsyncQdrantClient(location=":memory:")
            self.mode = "embedded"
        elif url.startswith("path:"):
            self.client = AsyncQdrantClient(path=url.removeprefix("path:"))
            self.mode = "embedded"
        else:
            key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            self.client = AsyncQdrantClient(url=url, api_key=key, timeout=10)
            self.mode = "server"
        self.collection = settings.qdrant_collection
        self.dim = settings.embedding_dim
        self._ready = False

    async def ensure(self) -> None:
        from qdrant_client import models

        if self._ready:
            return
        if not await self.client.collection_exists(self.collection):
            try:
                await self.client.create_collection(
                    self.collection,
                    vectors_config=models.VectorParams(
                        size=self.dim, distance=models.Distance.COSINE
                    ),
                )
            except Exception:
                # Another replica created it in between: fine if it exists now.
                if not await self.client.collection_exists(self.collection):
                    raise
            # Payload indexes only exist on a Qdrant server (embedded mode scans).
            for field in ("namespace", "tags") if self.mode == "server" else ():
                await self.client.create_payload_index(
                    self.collection, field, field_schema=models.PayloadSchemaType.KEYWORD
                )
        self._ready = True

    async def ping(self) -> None:
        await self.client.get_collections()

    @observed("upsert")
    async def upsert(
        self, ids: list[uuid.UUID], vectors: list[list[float]], payloads: list[dict[str, Any]]
    ) -> None:
        from qdrant_client import models

        await self.ensure()
        points = [
            models.PointStruct(id=str(i), vector=v, payload=p)
            for i, v, p in zip(ids, vectors, payloads, strict=True)
        ]
        await self.client.upsert(self.collection, points=points, wait=True)

    @observed("search")
    async def search(self, vector: list[float], limit: int, flt: VectorFilter) -> list[VectorHit]:
        from qdrant_client import models

        await self.ensure()
        must: list[Any] = [
            models.FieldCondition(key="namespace", match=models.MatchValue(value=flt.namespace))
        ]
        if flt.tags:
            must.append(
                models.FieldCondition(key="tags", match=models.MatchAny(any=list(flt.tags)))
            )
        for key, value in flt.where:
            must.append(
                models.FieldCondition(key=f"meta.{key}", match=models.MatchValue(value=value))
            )
        if flt.owner is not None:
            must.append(
                models.FieldCondition(key="owner", match=models.MatchValue(value=flt.owner))
            )
        response = await self.client.query_points(
            self.collection,
            query=vector,
            limit=limit,
            query_filter=models.Filter(must=must),
            with_payload=True,
        )
        return [
            VectorHit(id=uuid.UUID(str(p.id)), score=float(p.score), payload=p.payload or {})
            for p in response.points
        ]

    @observed("delete")
    async def delete(self, ids: list[uuid.UUID]) -> None:
        from qdrant_client import models

        await self.client.delete(
            self.collection, points_selector=models.PointIdsList(points=[str(i) for i in ids])
        )

    async def close(self) -> None:
        await self.client.close()


def _literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


class PgVectorStore(VectorStore):
    """memory_vectors in Postgres (table made by migration 0002), cosine distance, HNSW."""

    name = "pgvector"

    def __init__(self, engine: AsyncEngine, dim: int) -> None:
        self.engine = engine
        self.dim = dim

    async def ensure(self) -> None:
        async with self.engine.connect() as conn:
            found = await conn.scalar(text("SELECT to_regclass('memory_vectors') IS NOT NULL"))
        if not found:
            raise RuntimeError("table memory_vectors is missing: run `aiwfe-migrate upgrade`")

    @observed("upsert")
    async def upsert(
        self, ids: list[uuid.UUID], vectors: list[list[float]], payloads: list[dict[str, Any]]
    ) -> None:
        rows = [
            {
                "id": i,
                "namespace": p.get("namespace", "default"),
                "embedding": _literal(v),
                "payload": json.dumps(p),
            }
            for i, v, p in zip(ids, vectors, payloads, strict=True)
        ]
        if not rows:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO memory_vectors (id, namespace, embedding, payload) "
                    "VALUES (:id, :namespace, CAST(:embedding AS vector), CAST(:payload AS jsonb)) "
                    "ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace, "
                    "embedding = EXCLUDED.embedding, payload = EXCLUDED.payload"
                ),
                rows,
            )

    @observed("search")
    async def search(self, vector: list[float], limit: int, flt: VectorFilter) -> list[VectorHit]:
        clauses = ["namespace = :namespace"]
        params: dict[str, Any] = {"namespace": flt.namespace, "q": _literal(vector), "k": limit}
        if flt.tags:
            clauses.append("payload->'tags' ?| CAST(:tags AS text[])")
            params["tags"] = list(flt.tags)
        if flt.where:
            clauses.append("payload->'meta' @> CAST(:where AS jsonb)")
            params["where"] = json.dumps(dict(flt.where))
        if flt.owner is not None:
            clauses.append("payload->>'owner' = :owner")
            params["owner"] = flt.owner
        where = " AND ".join(clauses)  # fixed clause strings; values are bound parameters
        sql = f"SELECT id, 1 - (embedding <=> CAST(:q AS vector)) AS score, payload FROM memory_vectors WHERE {where} ORDER BY embedding <=> CAST(:q AS vector) LIMIT :k"  # noqa: E501, S608
        async with self.engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return [
                VectorHit(id=row.id, score=float(row.score), payload=dict(row.payload))
                for row in result
            ]

    @observed("delete")
    async def delete(self, ids: list[uuid.UUID]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM memory_vectors WHERE id = ANY(:ids)"), {"ids": list(ids)}
            )


def create_vector_store(settings: Settings, engine: AsyncEngine) -> VectorStore:
    if settings.vector_store == "pgvector":
        return PgVectorStore(engine, settings.embedding_dim)
    return QdrantStore(settings)

"""Memory: the two-phase pipeline and semantic recall.

Phase 1: the LLM extracts standalone facts from the input text.
Phase 2: each fact is embedded and stored in the vector store, then its metadata (text,
source, tags, namespace) goes to Postgres; recall only returns facts whose metadata exists.
Fact ids are content-derived (uuid5 of owner + namespace + fact), so ingesting the same text
twice stores nothing new: retried workflow steps stay idempotent. Every fact belongs to the
request's `owner`; recall with an owner finds only that owner's facts (None: everyone's).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from aiwfe.cognitive.base import Module
from aiwfe.cognitive.resources import Resources
from aiwfe.cognitive.schemas import (
    IngestRequest,
    IngestResponse,
    RecalledFact,
    RecallRequest,
    RecallResponse,
    StoredFact,
)
from aiwfe.core.metrics import MEMORY_FACTS, MEMORY_LATENCY, MEMORY_OPERATIONS
from aiwfe.core.models import Memory
from aiwfe.core.providers.vectors import VectorFilter

_FACT_NS = uuid.UUID("6f1c3c1e-5b0a-4a59-9a63-2b1f1f7b9e10")


def fact_id(namespace: str, fact: str, owner: uuid.UUID | None = None) -> uuid.UUID:
    scope = f"{owner}\x00{namespace}" if owner else namespace  # owner-less: ids as before
    return uuid.uuid5(_FACT_NS, f"{scope}\x00{' '.join(fact.lower().split())}")


async def _measured(operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
    """Count the operation by outcome and observe its latency (aiwfe_memory_*)."""
    start = time.perf_counter()
    outcome = "error"
    try:
        result = await call()
        outcome = "ok"
        return result
    finally:
        MEMORY_LATENCY.labels(operation).observe(time.perf_counter() - start)
        MEMORY_OPERATIONS.labels(operation, outcome).inc()


class MemoryModule(Module):
    name = "memory"

    def __init__(self, resources: Resources) -> None:
        super().__init__()
        self.resources = resources
        self.op("ingest", IngestRequest, self.ingest)
        self.op("recall", RecallRequest, self.recall)

    async def ingest(self, request: IngestRequest) -> IngestResponse:
        response = await _measured("ingest", lambda: self._ingest(request))
        MEMORY_FACTS.labels("stored").inc(response.stored)
        MEMORY_FACTS.labels("duplicate").inc(len(response.facts) - response.stored)
        return response

    async def recall(self, request: RecallRequest) -> RecallResponse:
        response = await _measured("recall", lambda: self._recall(request))
        MEMORY_FACTS.labels("recalled").inc(len(response.items))
        return response

    async def _ingest(self, request: IngestRequest) -> IngestResponse:
        res = self.resources
        facts = await res.llm.extract_facts(request.text, request.max_facts)
        facts = list(dict.fromkeys(f.strip() for f in facts if f.strip()))
        scope = f"{request.owner}\x00{request.namespace}" if request.owner else request.namespace
        source_id = uuid.uuid5(_FACT_NS, f"{scope}\x00source\x00{request.text}")
        ids = [fact_id(request.namespace, fact, request.owner) for fact in facts]
        owner = str(request.owner) if request.owner else None
        stored = 0
        if facts:
            vectors = await res.embeddings.embed(facts)
            payloads = [
                {
                    "namespace": request.namespace,
                    "tags": request.tags,
                    "meta": request.metadata,
                    "text": fact,
                    **({"owner": owner} if owner else {}),
                }
                for fact in facts
            ]
            # Vectors first, metadata second, never nested (one connection per ingest): a
            # fact becomes visible to recall only once its metadata row commits, so a failure
            # in between leaves an invisible vector that the next ingest overwrites.
            await res.vectors.upsert(ids, vectors, payloads)
            rows = [
                {
                    "id": i,
                    "owner_id": request.owner,
                    "namespace": request.namespace,
                    "text": fact,
                    "source_id": source_id,
                    "source_excerpt": request.text[:500],
                    "tags": request.tags,
                    "metadata": request.metadata,
                }
                for i, fact in zip(ids, facts, strict=True)
            ]
            async with res.sessions() as session, session.begin():
                result = await session.execute(
                    insert(Memory.__table__)
                    .values(rows)
                    .on_conflict_do_nothing()
                    .returning(Memory.__table__.c.id)
                )
                stored = len(result.fetchall())
        return IngestResponse(
            source_id=source_id,
            namespace=request.namespace,
            facts=[StoredFact(id=i, text=f) for i, f in zip(ids, facts, strict=True)],
            stored=stored,
        )

    async def _recall(self, request: RecallRequest) -> RecallResponse:
        res = self.resources
        [vector] = await res.embeddings.embed([request.query])
        hits = await res.vectors.search(
            vector,
            request.limit,
            VectorFilter(
                namespace=request.namespace,
                tags=tuple(request.tags),
                where=tuple(sorted(request.where.items())),
                owner=str(request.owner) if request.owner else None,
            ),
        )
        hits = [h for h in hits if h.score >= request.min_score]
        if not hits:
            return RecallResponse(items=[])
        query = select(Memory).where(Memory.id.in_([h.id for h in hits]))
        if request.owner is not None:
            query = query.where(Memory.owner_id == request.owner)
        async with res.sessions() as session:
            rows = (await session.execute(query)).scalars()
            by_id = {row.id: row for row in rows}
        items = [
            RecalledFact(
                id=h.id,
                text=by_id[h.id].text,
                score=round(h.score, 6),
                tags=list(by_id[h.id].tags),
                metadata=dict(by_id[h.id].meta),
                source_id=by_id[h.id].source_id,
                created_at=by_id[h.id].created_at,
            )
            for h in hits
            if h.id in by_id  # a vector whose metadata was never committed is not a memory
        ]
        return RecallResponse(items=items)

    async def ready(self) -> None:
        from aiwfe.core.db import ping

        await ping(self.resources.engine)
        await self.resources.vectors.ping()

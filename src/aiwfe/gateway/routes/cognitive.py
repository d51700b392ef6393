"""Forwards to cognitive-services: memory, chat and decisions (reasoning), perception."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from aiwfe.cognitive.schemas import (
    AnalyzeRequest,
    AnalyzeResponse,
    ChatRequest,
    ChatResponse,
    DecideRequest,
    DecideResponse,
    IngestRequest,
    IngestResponse,
    RecallRequest,
    RecallResponse,
)
from aiwfe.gateway.deps import FORWARD_ERRORS, Member, Rt, Viewer, scoped, writable

router = APIRouter(prefix="/api/v1", responses=FORWARD_ERRORS)


@router.post(
    "/memory/ingest",
    dependencies=[Depends(writable)],
    tags=["memory"],
    response_model=IngestResponse,
)
async def memory_ingest(body: IngestRequest, caller: Member, rt: Rt) -> Any:
    """Two-phase ingest: the LLM extracts facts, then they are embedded and stored as the
    caller's."""
    return await rt.forward("memory", "ingest", scoped(body, caller, write=True))


@router.post("/memory/search", tags=["memory"], response_model=RecallResponse)
async def memory_search(body: RecallRequest, caller: Viewer, rt: Rt) -> Any:
    """Semantic recall with namespace, tag and metadata filters, over the caller's own
    memories (an admin's: everyone's)."""
    return await rt.forward("memory", "recall", scoped(body, caller))


@router.post("/chat", tags=["reasoning"], response_model=ChatResponse)
async def chat(body: ChatRequest, caller: Member, rt: Rt) -> Any:
    return await rt.forward("reasoning", "chat", scoped(body, caller))


@router.post("/decisions", tags=["reasoning"], response_model=DecideResponse)
async def decide(body: DecideRequest, caller: Viewer, rt: Rt) -> Any:
    """Decision analysis: options scored on weighted criteria, with recalled evidence."""
    return await rt.forward("reasoning", "decide", scoped(body, caller))


@router.post("/perception/analyze", tags=["perception"], response_model=AnalyzeResponse)
async def analyze(body: AnalyzeRequest, _: Member, rt: Rt) -> Any:
    return await rt.forward("perception", "analyze", body)

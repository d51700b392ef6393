"""Feedback on outcomes and the learning statistics (forwarded to cognitive-services)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from aiwfe.cognitive.schemas import FeedbackRequest, FeedbackResponse, StatsRequest
from aiwfe.gateway.deps import (
    FORWARD_ERRORS,
    Member,
    Rt,
    Session,
    Viewer,
    load_run,
    scoped,
    writable,
)

router = APIRouter(prefix="/api/v1", tags=["learning"], responses=FORWARD_ERRORS)


@router.post(
    "/feedback",
    status_code=201,
    dependencies=[Depends(writable)],
    response_model=FeedbackResponse,
)
async def feedback(body: FeedbackRequest, caller: Member, session: Session, rt: Rt) -> Any:
    """Feedback on an outcome; feeds the learning statistics."""
    if body.run_id is not None:
        await load_run(session, body.run_id, caller)
    return await rt.forward("learning", "feedback", scoped(body, caller, write=True))


@router.get("/learning/stats")
async def learning_stats(
    caller: Viewer,
    rt: Rt,
    subject: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
) -> Any:
    """Statistics over the caller's own feedback and runs (an admin's: everyone's)."""
    return await rt.forward("learning", "stats", scoped(StatsRequest(subject=subject), caller))

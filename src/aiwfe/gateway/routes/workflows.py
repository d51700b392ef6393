"""Workflow runs: create (queued and handed to the worker), list, read, cancel, and the
server-sent event stream of a run's progress."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import func, select
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from aiwfe.core import runs
from aiwfe.core.models import RunEvent, WorkflowRun, WorkflowStep
from aiwfe.core.redis import enqueued_marker, run_channel
from aiwfe.core.telemetry import outgoing_headers
from aiwfe.core.web import unavailable
from aiwfe.core.workflow import WorkflowSpec
from aiwfe.gateway.deps import (
    ERRORS,
    Member,
    Rt,
    Session,
    StreamViewer,
    Viewer,
    load_run,
    writable,
)
from aiwfe.gateway.schemas import Problem, RunDetail, RunOut, RunPage, StepOut

log = structlog.get_logger("aiwfe.gateway")
router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])
NOT_FOUND = {**ERRORS, 404: {"model": Problem}}


def run_out(run: WorkflowRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "input": run.input,
        "steps": run.steps,
        "current_step": run.current_step,
        "result": run.result,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


@router.post(
    "",
    status_code=201,
    dependencies=[Depends(writable)],
    response_model=RunOut,
    responses=ERRORS,
)
async def create_workflow(spec: WorkflowSpec, caller: Member, session: Session, rt: Rt) -> Any:
    """Validate a workflow, store it as a queued run and hand it to the worker."""
    from aiwfe.worker.celery_app import RUN_TASK, get_celery

    run = await runs.create(
        session,
        owner_id=caller.user_id,
        name=spec.name,
        steps=[s.model_dump(mode="json") for s in spec.steps],
        input=spec.input,
    )
    await session.commit()
    try:
        await run_in_threadpool(
            get_celery().send_task,
            RUN_TASK,
            args=[str(run.id)],
            kwargs={"context": outgoing_headers()},  # request ID + trace context
            task_id=str(run.id),
        )
    except Exception as exc:
        log.warning("enqueue failed", run_id=str(run.id), error=str(exc)[:200])
        await session.delete(run)
        await session.commit()
        return unavailable("task queue unreachable, the workflow was not created")
    try:
        await rt.redis.set(enqueued_marker(run.id), "1", ex=7 * 86400)
    except Exception:  # the sweeper may re-send it later: harmless, runs are idempotent
        log.warning("enqueue marker not written", run_id=str(run.id))
    await session.refresh(run)
    return run_out(run)


@router.get("", response_model=RunPage, responses=ERRORS)
async def list_workflows(
    caller: Viewer,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    status: Annotated[str | None, Query(pattern=runs.STATUS_PATTERN)] = None,
) -> Any:
    """Newest first. Admins see every user's runs."""
    query = select(WorkflowRun)
    if not caller.is_admin:
        query = query.where(WorkflowRun.owner_id == caller.user_id)
    if status:
        query = query.where(WorkflowRun.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(WorkflowRun.created_at.desc(), WorkflowRun.id).limit(limit).offset(offset)
    )
    return {
        "items": [run_out(r) for r in rows],
        "total": total or 0,
        "limit": limit,
        "offset": offset,
    }


@router.get("/{run_id}", response_model=RunDetail, responses=NOT_FOUND)
async def get_workflow(run_id: uuid.UUID, caller: Viewer, session: Session) -> Any:
    run = await load_run(session, run_id, caller)
    steps = await session.scalars(
        select(WorkflowStep).where(WorkflowStep.run_id == run_id).order_by(WorkflowStep.idx)
    )
    detail = run_out(run)
    detail["step_results"] = [
        StepOut(
            idx=s.idx,
            type=s.type,
            status=s.status,
            attempts=s.attempts,
            output=s.output,
            error=s.error,
            started_at=s.started_at,
            finished_at=s.finished_at,
        )
        for s in steps
    ]
    return detail


@router.post(
    "/{run_id}/cancel",
    dependencies=[Depends(writable)],
    response_model=RunOut,
    responses={**NOT_FOUND, 409: {"model": Problem}},
)
async def cancel_workflow(run_id: uuid.UUID, caller: Member, session: Session, rt: Rt) -> Any:
    """Cancel a queued or running run; the worker stops before its next step."""
    run = await load_run(session, run_id, caller, lock=True)
    try:
        runs.apply(session, run, runs.RunStatus.CANCELLED, "cancelled", by=caller.username)
    except runs.TransitionError as exc:
        raise HTTPException(409, f"workflow run already {exc.current}") from exc
    await session.commit()
    await session.refresh(run)
    try:
        await rt.redis.publish(run_channel(run.id), "cancelled")
    except Exception:  # the SSE stream also polls the database
        log.warning("publish failed", run_id=str(run.id))
    return run_out(run)


async def _events(rt: Rt, run_id: uuid.UUID, last: int) -> AsyncIterator[dict[str, str]]:
    """Events after `last` until the run is over; woken by the worker's publishes."""
    pubsub = rt.redis.pubsub()
    await pubsub.subscribe(run_channel(run_id))
    try:
        while True:
            async with rt.sessions() as s:
                status = await s.scalar(select(WorkflowRun.status).where(WorkflowRun.id == run_id))
                events = (
                    await s.scalars(
                        select(RunEvent)
                        .where(RunEvent.run_id == run_id, RunEvent.id > last)
                        .order_by(RunEvent.id)
                    )
                ).all()
            for event in events:
                last = event.id
                yield {
                    "id": str(event.id),
                    "event": event.type,
                    "data": json.dumps({"run_id": str(run_id), **event.data}),
                }
            if status is None or runs.is_terminal(status):
                return
            # Woken by the worker's publish; the timeout is a safety net.
            await pubsub.get_message(ignore_subscribe_messages=True, timeout=2.0)
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()


@router.get(
    "/{run_id}/events",
    responses={
        **NOT_FOUND,
        200: {"content": {"text/event-stream": {}}, "description": "progress events"},
    },
    response_class=Response,
)
async def workflow_events(
    run_id: uuid.UUID,
    caller: StreamViewer,
    session: Session,
    rt: Rt,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Server-sent events: every progress event of the run (replayed from the start, or
    after Last-Event-ID), ending after the terminal event. A browser EventSource may pass
    the token as ?access_token=."""
    await load_run(session, run_id, caller)
    await session.close()
    try:
        start = int(last_event_id) if last_event_id else 0
    except ValueError:
        start = 0
    return EventSourceResponse(_events(rt, run_id, start), ping=15, send_timeout=30)

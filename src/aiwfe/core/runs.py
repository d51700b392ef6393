"""Run state: which status may follow which, and the only statements that change a run's status.

The gateway (create, cancel), the worker's executor (start, resume, finish, fail) and the
sweeper (finds runs stuck in `queued`) all go through here, so a new status or transition is
one edit. Every change of status writes its progress event in the same transaction.

    queued  -> running | failed | cancelled
    running -> running (a redelivery resumes) | succeeded | failed | cancelled
    succeeded, failed, cancelled: terminal
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aiwfe.core.models import RUN_STATUSES, RunEvent, RunStatus, WorkflowRun

__all__ = [
    "STATUS_PATTERN",
    "TERMINAL",
    "TRANSITIONS",
    "RunStatus",
    "TransitionError",
    "apply",
    "can_move",
    "create",
    "is_terminal",
    "move",
    "queued_before",
    "running_idle_before",
    "sources",
]

TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELLED}),
    RunStatus.RUNNING: frozenset(
        {RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}
    ),
    **{status: frozenset() for status in TERMINAL},
}
# For query parameters that filter by status (e.g. GET /api/v1/workflows?status=).
STATUS_PATTERN = f"^({'|'.join(RUN_STATUSES)})$"


class TransitionError(Exception):
    """The run's current status does not allow the requested one (the message says both)."""

    def __init__(self, current: str, to: RunStatus) -> None:
        super().__init__(f"a {current} run cannot become {to.value}")
        self.current = current
        self.to = to


def is_terminal(status: str | None) -> bool:
    return status in TERMINAL


def can_move(current: str, to: RunStatus) -> bool:
    return to in TRANSITIONS.get(RunStatus(current), frozenset())


def sources(to: RunStatus) -> tuple[str, ...]:
    """The statuses a run may have for `to` to follow, in declaration order."""
    return tuple(s.value for s in RunStatus if to in TRANSITIONS[s])


def _timestamps(to: RunStatus) -> dict[str, Any]:
    return {"finished_at": func.now()} if to in TERMINAL else {}


def _event(session: AsyncSession, run_id: uuid.UUID, kind: str, data: dict[str, Any]) -> None:
    session.add(RunEvent(run_id=run_id, type=kind, data=data))


async def create(session: AsyncSession, **fields: Any) -> WorkflowRun:
    """A new run, `queued`, with its `queued` event (flushed, not committed)."""
    run = WorkflowRun(id=uuid.uuid4(), status=RunStatus.QUEUED.value, **fields)
    session.add(run)
    await session.flush()  # the run row first: events reference it
    _event(session, run.id, "queued", {"status": RunStatus.QUEUED.value})
    return run


def apply(session: AsyncSession, run: WorkflowRun, to: RunStatus, event: str, **data: Any) -> None:
    """Move a run loaded with FOR UPDATE to `to` and record `event` with `data`.

    Raises TransitionError when its status does not allow `to`."""
    if not can_move(run.status, to):
        raise TransitionError(run.status, to)
    run.status = to.value
    if to is RunStatus.RUNNING and run.started_at is None:
        run.started_at = func.now()
    for column, value in _timestamps(to).items():
        setattr(run, column, value)
    _event(session, run.id, event, data)


async def move(
    session: AsyncSession,
    run_id: uuid.UUID,
    to: RunStatus,
    *,
    event: str,
    data: dict[str, Any],
    only_from: Iterable[RunStatus] | None = None,
    **values: Any,
) -> bool:
    """Conditional UPDATE: the run becomes `to` only if its status allows it (or is one of
    `only_from`, a subset of those). The event is written only when the row changed, so a
    late duplicate delivery changes nothing. Returns whether it changed."""
    allowed = sources(to)
    if only_from is not None:
        wanted = tuple(s.value for s in only_from)
        if not set(wanted) <= set(allowed):
            raise TransitionError("/".join(wanted), to)
        allowed = wanted
    result = await session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.id == run_id, WorkflowRun.status.in_(allowed))
        .values(status=to.value, **_timestamps(to), **values)
    )
    changed = result.rowcount == 1
    if changed:
        _event(session, run_id, event, data)
    return changed


def queued_before(cutoff: datetime, limit: int = 500) -> Select[tuple[uuid.UUID]]:
    """Ids of runs still `queued` that were created before `cutoff`, oldest first."""
    return (
        select(WorkflowRun.id)
        .where(WorkflowRun.status == RunStatus.QUEUED.value, WorkflowRun.created_at < cutoff)
        .order_by(WorkflowRun.created_at)
        .limit(limit)
    )


def running_idle_before(cutoff: datetime, limit: int = 500) -> Select[tuple[uuid.UUID, int]]:
    """Ids and delivery counts of runs `running` whose row has not changed since `cutoff`
    (no step finished, no delivery started), oldest first: candidates for the sweeper, which
    resumes or fails those whose worker no longer holds the lease."""
    return (
        select(WorkflowRun.id, WorkflowRun.attempts)
        .where(WorkflowRun.status == RunStatus.RUNNING.value, WorkflowRun.updated_at < cutoff)
        .order_by(WorkflowRun.updated_at)
        .limit(limit)
    )

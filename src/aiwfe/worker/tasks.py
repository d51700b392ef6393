"""Celery tasks."""

from __future__ import annotations

import asyncio
import uuid

import structlog
from celery import Task
from opentelemetry import propagate, trace
from redis.exceptions import RedisError

from aiwfe.core.settings import Settings, get_settings
from aiwfe.core.telemetry import request_id_var
from aiwfe.worker.celery_app import RUN_TASK, get_celery
from aiwfe.worker.executor import Busy, Draining, Transient, run_once

log = structlog.get_logger("aiwfe.worker")
app = get_celery()


@app.task(name=RUN_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_workflow(self: Task, run_id: str, context: dict[str, str] | None = None) -> str:
    """Execute one run. `context` carries the creating request's X-Request-ID and W3C trace
    context, so the worker's logs and its calls to cognitive-services continue that trace."""
    settings = get_settings()
    rid = uuid.UUID(run_id)
    context = context or {}
    request_id = context.get("X-Request-ID")
    token = request_id_var.set(request_id)
    structlog.contextvars.bind_contextvars(request_id=request_id, run_id=run_id)
    span = trace.get_tracer("aiwfe.worker").start_as_current_span(
        "run_workflow", context=propagate.extract(context), attributes={"aiwfe.run_id": run_id}
    )
    try:
        with span:
            return _run(self, settings, rid, run_id)
    finally:
        structlog.contextvars.unbind_contextvars("request_id", "run_id")
        request_id_var.reset(token)


def _retry(self: Task, settings: Settings, run_id: str, rid: uuid.UUID, why: str) -> str:
    """Retry with a doubling backoff; after worker_max_retries the run fails. If even that
    cannot be recorded (the database is still down), the run stays `running` without a lease
    and the sweeper resumes it once the database is back."""
    retries = self.request.retries or 0
    if retries >= settings.worker_max_retries:
        return _give_up(settings, run_id, rid, f"gave up after {retries} retries: {why}")
    countdown = min(settings.worker_retry_backoff_max_seconds, 2**retries)
    log.warning("transient failure, retrying", run_id=run_id, error=why, countdown=countdown)
    raise self.retry(countdown=countdown) from None


def _give_up(settings: Settings, run_id: str, rid: uuid.UUID, error: str) -> str:
    try:
        asyncio.run(run_once(settings, rid, give_up=error))
    except Exception as exc:
        log.error(
            "run left running: its failure could not be recorded, the sweeper resumes it",
            run_id=run_id,
            error=type(exc).__name__,
        )
        return "left-running"
    return "failed"


def _run(self: Task, settings: Settings, rid: uuid.UUID, run_id: str) -> str:
    from aiwfe.core.db import is_unavailable

    try:
        outcome = asyncio.run(run_once(settings, rid))
    except Draining:
        # SIGTERM: the step in flight finished; the rest of the run goes back to the queue.
        log.info("worker draining: run handed back", run_id=run_id)
        raise self.retry(countdown=0) from None
    except Busy:
        # Another delivery is executing this run (or died holding the lease, which then
        # expires): come back after the lease could have expired.
        raise self.retry(countdown=max(1, settings.worker_lease_seconds // 2)) from None
    except Transient as exc:
        return _retry(self, settings, run_id, rid, str(exc))
    except Exception as exc:
        if is_unavailable(exc) or isinstance(exc, RedisError | OSError):
            return _retry(self, settings, run_id, rid, f"{type(exc).__name__}: dependency down")
        # Not transient (a bug, a run the worker cannot read): fail it, never leave it running.
        log.exception("run failed with an internal error", run_id=run_id)
        return _give_up(
            settings, run_id, rid, f"internal error in the worker ({type(exc).__name__})"
        )
    return outcome.status

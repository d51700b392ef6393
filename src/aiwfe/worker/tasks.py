"""Celery tasks."""

from __future__ import annotations

import asyncio
import uuid

import structlog
from celery import Task
from opentelemetry import propagate, trace

from aiwfe.core.settings import Settings, get_settings
from aiwfe.core.telemetry import request_id_var
from aiwfe.worker.celery_app import RUN_TASK, get_celery
from aiwfe.worker.executor import Busy, Transient, run_once

log = structlog.get_logger("aiwfe.worker")
app = get_celery()
MAX_TRANSIENT_RETRIES = 8


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


def _run(self: Task, settings: Settings, rid: uuid.UUID, run_id: str) -> str:
    try:
        outcome = asyncio.run(run_once(settings, rid))
    except Busy:
        # Another delivery is executing this run (or died holding the lease, which then
        # expires): come back after the lease could have expired.
        raise self.retry(countdown=max(1, settings.worker_lease_seconds // 2)) from None
    except Transient as exc:
        retries = self.request.retries or 0
        if retries >= MAX_TRANSIENT_RETRIES:
            asyncio.run(run_once(settings, rid, give_up=f"gave up after retries: {exc}"))
            return "failed"
        countdown = min(60, 2**retries)
        log.warning(
            "transient failure, retrying", run_id=run_id, error=str(exc), countdown=countdown
        )
        raise self.retry(countdown=countdown) from None
    except Exception as exc:
        from aiwfe.core.db import is_unavailable

        if is_unavailable(exc) and (self.request.retries or 0) < MAX_TRANSIENT_RETRIES:
            countdown = min(60, 2 ** (self.request.retries or 0))
            log.warning("database unavailable, retrying", run_id=run_id, countdown=countdown)
            raise self.retry(countdown=countdown) from None
        raise
    return outcome.status

"""Every run reaches a terminal state: the sweeper re-sends runs nothing is working on.

- `queued` without a broker message: the gateway commits the run, then publishes the message,
  then sets a marker in Redis; if it dies between commit and publish, nothing else would ever
  run that workflow.
- `running` without a worker: its task ended without recording an outcome (the database was
  down longer than the retries, a worker was lost with its message): no lease is held and the
  row has not changed for a while. It is re-sent (the executor resumes it after its last
  finished step) or, after AIWFE_WORKER_MAX_ATTEMPTS deliveries, failed.

Every AIWFE_WORKER_SWEEP_INTERVAL_SECONDS one worker (a Redis lock elects it) looks for runs
idle longer than AIWFE_WORKER_REQUEUE_AFTER_SECONDS. A duplicate message is harmless: the run
lease and the per-step keys make execution idempotent.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta

import structlog

from aiwfe.core import runs
from aiwfe.core.db import create_engine, session_factory
from aiwfe.core.redis import enqueued_marker, run_lease, sync_client
from aiwfe.core.settings import Settings

log = structlog.get_logger("aiwfe.worker.sweeper")


async def _stale(settings: Settings, older_than: datetime) -> tuple[list[str], list[tuple]]:
    """(queued run ids, (running run id, deliveries)) idle since before `older_than`."""
    engine = create_engine(settings, null_pool=True)
    try:
        async with engine.connect() as conn:
            queued = await conn.execute(runs.queued_before(older_than, limit=500))
            running = await conn.execute(runs.running_idle_before(older_than, limit=500))
            return [str(row.id) for row in queued], [(str(r.id), r.attempts) for r in running]
    finally:
        await engine.dispose()


async def _give_up(settings: Settings, run_ids: list[str]) -> None:
    error = f"gave up after {settings.worker_max_attempts} deliveries without an outcome"
    engine = create_engine(settings, null_pool=True)
    try:
        async with session_factory(engine)() as session, session.begin():
            for run_id in run_ids:
                await runs.move(
                    session,
                    uuid.UUID(run_id),
                    runs.RunStatus.FAILED,
                    event="failed",
                    data={"status": runs.RunStatus.FAILED.value, "error": error},
                    only_from=[runs.RunStatus.RUNNING],
                    error=error,
                )
    finally:
        await engine.dispose()


def sweep_once(settings: Settings, send) -> list[str]:
    """Re-send (or fail) the runs nothing is working on; returns the ids re-sent."""
    redis = sync_client(settings)
    if not redis.set("aiwfe:sweeper", "1", nx=True, ex=settings.worker_sweep_interval_seconds):
        return []  # another worker swept recently
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.worker_requeue_after_seconds)
    queued, running = asyncio.run(_stale(settings, cutoff))
    resent, failed = [], []
    for run_id in queued:
        if redis.exists(enqueued_marker(run_id)):
            continue  # in the queue already (a backlog, not a loss)
        send(run_id)
        redis.set(enqueued_marker(run_id), "1", ex=7 * 86400)
        resent.append(run_id)
    for run_id, deliveries in running:
        if redis.exists(run_lease(run_id)):
            continue  # a worker is executing it (a long step)
        if deliveries >= settings.worker_max_attempts:
            failed.append(run_id)
            continue
        send(run_id)
        resent.append(run_id)
    if failed:
        asyncio.run(_give_up(settings, failed))
        log.warning("failed runs that never finished", runs=failed)
    if resent:
        log.warning("re-sent runs nothing was working on", runs=resent)
    return resent


def start_sweeper(settings: Settings, send) -> threading.Event:
    stop = threading.Event()
    if settings.worker_sweep_interval_seconds <= 0:
        return stop

    def loop() -> None:
        while not stop.wait(settings.worker_sweep_interval_seconds):
            try:
                sweep_once(settings, send)
            except Exception as exc:
                log.warning("sweep failed", error=str(exc)[:200])

    threading.Thread(target=loop, name="sweeper", daemon=True).start()
    return stop

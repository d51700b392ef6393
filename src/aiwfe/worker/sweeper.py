"""Re-sends runs that are `queued` in Postgres but never reached the broker.

The gateway commits the run, then publishes the message, then sets a marker in Redis. If it
dies between commit and publish, nothing else would ever run that workflow. Every
AIWFE_WORKER_SWEEP_INTERVAL_SECONDS one worker (a Redis lock elects it) looks for runs queued
longer than AIWFE_WORKER_REQUEUE_AFTER_SECONDS without a marker and sends them again. A
duplicate message is harmless: the run lease and the per-step keys make execution idempotent.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import structlog

from aiwfe.core import runs
from aiwfe.core.db import create_engine
from aiwfe.core.redis import enqueued_marker, sync_client
from aiwfe.core.settings import Settings

log = structlog.get_logger("aiwfe.worker.sweeper")


async def _stale_queued(settings: Settings, older_than: datetime) -> list[str]:
    engine = create_engine(settings, null_pool=True)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(runs.queued_before(older_than, limit=500))
            return [str(row.id) for row in rows]
    finally:
        await engine.dispose()


def sweep_once(settings: Settings, send) -> list[str]:
    redis = sync_client(settings)
    if not redis.set("aiwfe:sweeper", "1", nx=True, ex=settings.worker_sweep_interval_seconds):
        return []  # another worker swept recently
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.worker_requeue_after_seconds)
    resent = []
    for run_id in asyncio.run(_stale_queued(settings, cutoff)):
        if redis.exists(enqueued_marker(run_id)):
            continue  # in the queue already (a backlog, not a loss)
        send(run_id)
        redis.set(enqueued_marker(run_id), "1", ex=7 * 86400)
        resent.append(run_id)
    if resent:
        log.warning("re-sent runs that never reached the queue", runs=resent)
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

"""Redis clients (async for the web services, sync for Celery code)."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis

from aiwfe.core.settings import Settings


def async_client(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        settings.redis_url(),
        decode_responses=True,
        socket_connect_timeout=3,
        socket_timeout=10,
        health_check_interval=15,
        **settings.redis_tls_options(),
    )


def sync_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url(),
        decode_responses=True,
        socket_connect_timeout=3,
        socket_timeout=10,
        **settings.redis_tls_options(),
    )


def run_channel(run_id: object) -> str:
    return f"aiwfe:run:{run_id}"


def enqueued_marker(run_id: object) -> str:
    """Set once a run's message reached the broker; the sweeper re-sends runs without it."""
    return f"aiwfe:enqueued:{run_id}"


def run_lease(run_id: object) -> str:
    """Held (and renewed) in Redis by the worker executing the run."""
    return f"aiwfe:lease:run:{run_id}"

"""The worker's HTTP side: /health, /ready, /metrics (incl. the queue figures) on AIWFE_PORT
(8083)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from aiwfe.core import metrics
from aiwfe.core.redis import sync_client
from aiwfe.core.settings import Settings
from aiwfe.worker.celery_app import QUEUE

NAN = float("nan")


def _gauge(spec: metrics.MetricSpec) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))


class QueueCollector:
    """The queue figures, read at scrape time: messages in the Redis queue (what KEDA scales
    on), and from the database the runs still queued and the age of the oldest one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = sync_client(settings)

    def _database(self) -> tuple[float, float]:
        async def query() -> tuple[float, float]:
            from sqlalchemy import text

            from aiwfe.core.db import create_engine

            engine = create_engine(self.settings, null_pool=True)
            try:
                async with engine.connect() as conn:
                    row = (
                        await conn.execute(
                            text(
                                "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM "
                                "clock_timestamp() - min(created_at)), 0) "
                                "FROM workflow_runs WHERE status = 'queued'"
                            )
                        )
                    ).one()
                return float(row[0]), max(0.0, float(row[1]))
            finally:
                await engine.dispose()

        return asyncio.run(asyncio.wait_for(query(), timeout=3))

    def collect(self):
        depth, queued, oldest = (
            _gauge(metrics.QUEUE_DEPTH),
            _gauge(metrics.RUNS_QUEUED),
            _gauge(metrics.OLDEST_QUEUED_AGE),
        )
        probe = _gauge(metrics.QUEUE_PROBE_UP)
        try:
            depth.add_metric([QUEUE], float(self.redis.llen(QUEUE)))
            probe.add_metric(["redis"], 1.0)
        except Exception:
            depth.add_metric([QUEUE], NAN)
            probe.add_metric(["redis"], 0.0)
        try:
            count, age = self._database()
            probe.add_metric(["database"], 1.0)
        except Exception:
            count, age = NAN, NAN
            probe.add_metric(["database"], 0.0)
        queued.add_metric([], count)
        oldest.add_metric([], age)
        yield from (depth, queued, oldest, probe)


def build_registry(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    registry.register(QueueCollector(settings))
    return registry


def _check_ready(settings: Settings) -> str | None:
    try:
        sync_client(settings).ping()
    except Exception as exc:
        return f"redis unavailable: {type(exc).__name__}"

    async def db() -> None:
        from aiwfe.core.db import create_engine, ping

        engine = create_engine(settings, null_pool=True)
        try:
            await asyncio.wait_for(ping(engine), timeout=3)
        finally:
            await engine.dispose()

    try:
        asyncio.run(db())
    except Exception as exc:
        return f"database unavailable: {type(exc).__name__}"
    return None


def start_health_server(settings: Settings, port: int) -> ThreadingHTTPServer:
    registry = build_registry(settings)

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, b'{"status":"ok"}')
            elif self.path == "/ready":
                problem = _check_ready(settings)
                if problem:
                    self._send(503, json.dumps({"detail": problem}).encode())
                else:
                    self._send(200, b'{"status":"ready"}')
            elif self.path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b'{"detail":"not found"}')

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer((settings.host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server

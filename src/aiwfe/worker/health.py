"""The worker's HTTP side: /health, /ready, /metrics (incl. queue depth) on AIWFE_PORT (8083)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from aiwfe.core.redis import sync_client
from aiwfe.core.settings import Settings
from aiwfe.worker.celery_app import QUEUE


class QueueDepthCollector:
    """aiwfe_worker_queue_depth: messages waiting in the Redis queue (for autoscaling)."""

    def __init__(self, settings: Settings) -> None:
        self.redis = sync_client(settings)

    def collect(self):
        gauge = GaugeMetricFamily(
            "aiwfe_worker_queue_depth", "Workflow runs waiting in the queue", labels=["queue"]
        )
        try:
            gauge.add_metric([QUEUE], float(self.redis.llen(QUEUE)))
        except Exception:
            gauge.add_metric([QUEUE], float("nan"))
        yield gauge


def build_registry(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    registry.register(QueueDepthCollector(settings))
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

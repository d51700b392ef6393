"""Request IDs, Prometheus metrics and OpenTelemetry tracing shared by the HTTP services."""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar

import structlog
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiwfe.core.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("aiwfe.access")
QUIET_PATHS = frozenset({"/health", "/ready", "/metrics", "/api/health", "/api/ready"})
request_id_var: ContextVar[str | None] = ContextVar("aiwfe_request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """X-Request-ID in and out, bound into logs; per-route request metrics."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = {"code": 500}
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(self.service, scope["method"], path, str(status["code"])).inc()
            elapsed = time.perf_counter() - start
            HTTP_LATENCY.labels(self.service, scope["method"], path).observe(elapsed)
            if scope.get("path") not in QUIET_PATHS:
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope.get("path"),
                    status=status["code"],
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(token)


def outgoing_headers() -> dict[str, str]:
    """Headers for calls to other services: the request ID and the W3C trace context."""
    headers: dict[str, str] = {}
    request_id = request_id_var.get()
    if request_id:
        headers["X-Request-ID"] = request_id
    propagate.inject(headers)
    return headers


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def setup_tracing(service_name: str, endpoint: str | None, app: object | None = None) -> None:
    """OTLP/HTTP traces when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise tracing stays off."""
    if not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))
    )
    trace.set_tracer_provider(provider)
    if app is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="health,ready,metrics")

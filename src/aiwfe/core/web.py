"""Pieces every first-party HTTP service shares: middleware, error mapping, serving."""

from __future__ import annotations

from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from aiwfe.core.db import is_unavailable
from aiwfe.core.logging import configure_logging, uvicorn_log_config
from aiwfe.core.settings import Settings
from aiwfe.core.telemetry import RequestContextMiddleware, metrics_endpoint, setup_tracing

log = structlog.get_logger("aiwfe.web")


def unavailable(reason: str) -> JSONResponse:
    return JSONResponse(
        {"detail": f"service unavailable: {reason}"}, status_code=503, headers={"Retry-After": "2"}
    )


class DatabaseUnavailable(Exception):
    """Raised (from the OSError or driver error) when the database cannot be reached."""


def install_common(app: FastAPI, service: str, settings: Settings, *, metrics: bool = True) -> None:
    """Request IDs + metrics middleware, /metrics (unless `metrics` is False: served on a port
    of its own), and the DB/Redis-down -> 503 mapping."""
    app.add_middleware(RequestContextMiddleware, service=service)
    if metrics:
        app.add_route("/metrics", metrics_endpoint, include_in_schema=False)

    @app.exception_handler(SQLAlchemyError)
    async def _db_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if is_unavailable(exc):
            log.warning("database unavailable", path=request.url.path, error=str(exc)[:300])
            return unavailable("database unreachable, retry shortly")
        log.exception("database error", path=request.url.path)
        return JSONResponse({"detail": "internal database error"}, status_code=500)

    @app.exception_handler(DatabaseUnavailable)
    async def _db_down(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        log.warning("database unavailable", path=request.url.path, error=str(exc.__cause__)[:300])
        return unavailable("database unreachable, retry shortly")

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        log.warning("dependency unavailable", path=request.url.path, error=str(exc)[:300])
        return unavailable("a backing service is unreachable, retry shortly")

    try:
        import redis.exceptions

        @app.exception_handler(redis.exceptions.ConnectionError)
        async def _redis_error(request: Request, exc: Exception) -> JSONResponse:
            log.warning("redis unavailable", path=request.url.path, error=str(exc)[:300])
            return unavailable("redis unreachable, retry shortly")

        @app.exception_handler(redis.exceptions.TimeoutError)
        async def _redis_timeout(request: Request, exc: Exception) -> JSONResponse:
            return unavailable("redis timed out, retry shortly")
    except ImportError:  # pragma: no cover
        pass

    setup_tracing(f"aiwfe-{service}", settings.otel_endpoint, app)


_server: uvicorn.Server | None = None


def shutting_down() -> bool:
    """True once SIGTERM arrived: long-running handlers (long polls) should return now."""
    return _server is not None and _server.should_exit


def serve(app: Any, settings: Settings, component: str) -> None:
    """uvicorn in the foreground; SIGTERM drains in-flight requests, then exits."""
    global _server
    configure_logging(settings.log_level, component)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.listen_port(component),
        log_config=uvicorn_log_config(),
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxy_list(),  # nobody else sets X-Forwarded-*
        timeout_graceful_shutdown=20,
        server_header=False,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
    )
    _server = uvicorn.Server(config)
    _server.run()

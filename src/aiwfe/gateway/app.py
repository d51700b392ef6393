"""FastAPI application of the API gateway: lifespan, middleware, error handlers, routers.

The routes live in aiwfe.gateway.routes (one router per group), what they share in
aiwfe.gateway.deps (the typed Runtime the lifespan opens, and the dependencies).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import start_http_server

from aiwfe.cognitive.base import CognitiveError
from aiwfe.core.settings import Settings, get_settings
from aiwfe.core.web import install_common, unavailable
from aiwfe.gateway.deps import Runtime, route_rules, static_root
from aiwfe.gateway.limits import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from aiwfe.gateway.routes import (
    audit,
    auth,
    cognitive,
    flags,
    health,
    keys,
    learning,
    spa,
    users,
    workflows,
)

log = structlog.get_logger("aiwfe.gateway")
# In this order: the SPA's catch-all paths come last.
ROUTERS = (health, auth, users, keys, audit, workflows, cognitive, learning, flags, spa)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.runtime = Runtime.open(settings, app.state.signing_key)
    metrics_server = None
    if settings.metrics_port:
        # Off the service port, so the ingress never routes to it.
        metrics_server, _ = start_http_server(settings.metrics_port, addr=settings.host)
    log.info(
        "gateway starting", static_dir=str(app.state.static_root), mode=settings.cognitive_mode
    )
    try:
        yield
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        await app.state.runtime.close()


async def cognitive_error(request: Request, exc: CognitiveError) -> JSONResponse:
    """A module's refusal keeps its status and detail; its failure is the gateway's 502 (503
    and 504 kept), with a fixed message: internal URLs and library messages stay in the log."""
    if exc.status < 500:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    log.warning("cognitive-services failed", path=request.url.path, detail=str(exc.detail)[:300])
    if exc.status == 503:
        return unavailable("cognitive-services unreachable, retry shortly")
    if exc.status == 504:
        return JSONResponse({"detail": "cognitive-services timed out"}, status_code=504)
    return JSONResponse({"detail": "cognitive-services failed"}, status_code=502)


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with each error's type, location and message (never the input echoed back)."""
    errors = [
        {k: v for k, v in error.items() if k in ("type", "loc", "msg")} for error in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # The only key that signs user tokens; verifying accepts it and the previous keys in
    # AIWFE_TOKEN_PUBLIC_KEYS_DIR (rotation overlap). Loaded now: a missing setting fails
    # at startup, naming it, not at the first request.
    signing_key = settings.signing_key()
    token_keys = settings.verifier_keys(signing_key)
    app = FastAPI(
        title="AIWFE API",
        version="1",
        lifespan=lifespan,
        # AIWFE_API_DOCS=false: neither the docs nor the schema are served (404).
        docs_url="/api/docs" if settings.api_docs else None,
        openapi_url="/api/openapi.json" if settings.api_docs else None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.signing_key, app.state.token_keys = signing_key, token_keys
    app.state.static_root = static_root(settings)
    # Added first = innermost: request IDs and metrics (added next) also cover 413 answers.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_common(app, "gateway", settings, metrics=not settings.metrics_port)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: every answer has them
    app.add_exception_handler(CognitiveError, cognitive_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for group in ROUTERS:
        app.include_router(group.router)
    route_rules(app)  # every API route has its access rule, or the app does not start
    return app

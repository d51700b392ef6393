"""FastAPI application of config-manager: lifespan, common middleware, the router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aiwfe.config_manager.deps import Runtime
from aiwfe.config_manager.routes import api, router
from aiwfe.core.settings import Settings, get_settings
from aiwfe.core.web import install_common


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.runtime = Runtime.open(app.state.settings)
    try:
        yield
    finally:
        await app.state.runtime.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="AIWFE config-manager", version="1", lifespan=lifespan)
    app.state.settings = settings
    # Public keys only, loaded at startup (a missing setting fails here, naming it).
    app.state.token_keys = settings.verifier_keys()
    install_common(app, "config", settings)
    app.include_router(router)
    app.include_router(api)
    return app

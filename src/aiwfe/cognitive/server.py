"""HTTP face of the cognitive engine: /v1/{module}/{op} for the modules this process hosts."""

from contextlib import asynccontextmanager
from typing import Any

import httpx
import structlog
from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from aiwfe.cognitive.base import CognitiveError
from aiwfe.cognitive.engine import Engine
from aiwfe.cognitive.transport import incoming_token
from aiwfe.core.db import is_unavailable
from aiwfe.core.deps import AnyCaller
from aiwfe.core.settings import Settings, get_settings
from aiwfe.core.web import install_common, unavailable

log = structlog.get_logger("aiwfe.cognitive")


def unavailable_reason(exc: BaseException) -> str | None:
    """Why a module call failed for want of a backing service (None: a real failure)."""
    if isinstance(exc, SQLAlchemyError):
        return "database unreachable, retry shortly" if is_unavailable(exc) else None
    from qdrant_client.http.exceptions import ResponseHandlingException

    # httpx: OpenAI-compatible server; qdrant-client wraps its transport errors.
    if isinstance(exc, httpx.TransportError | ResponseHandlingException):
        return f"model server or vector store unreachable ({type(exc).__name__}), retry shortly"
    if isinstance(exc, OSError | TimeoutError):
        return f"a backing service is unreachable ({type(exc).__name__}), retry shortly"
    return None


def create_app(settings: Settings | None = None, modules: list[str] | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = Engine(settings, modules)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        log.info("cognitive engine starting", modules=engine.hosted, mode=settings.cognitive_mode)
        yield
        await engine.close()

    app = FastAPI(title="AIWFE cognitive services", version="1", lifespan=lifespan)
    app.state.engine = engine
    app.state.settings = settings
    # Public keys only (the gateway's, and the worker's service key for its own name),
    # loaded at startup: a missing setting fails here, naming it.
    app.state.token_keys = settings.verifier_keys()
    install_common(app, "cognitive", settings)

    @app.exception_handler(CognitiveError)
    async def _cognitive_error(_, exc: CognitiveError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "modules": engine.hosted}

    @app.get("/ready")
    async def ready() -> Any:
        try:
            await engine.ready()
        except Exception as exc:
            reason = "database unreachable" if is_unavailable(exc) else str(exc)[:200]
            return unavailable(reason)
        return {"status": "ready", "modules": engine.hosted}

    @app.get("/v1/modules")
    async def list_modules() -> dict[str, Any]:
        return {
            "mode": settings.cognitive_mode,
            "hosted": {name: sorted(m.operations) for name, m in engine.modules.items()},
        }

    @app.post("/v1/{module}/{op}")
    async def call(
        module: str,
        op: str,
        request: Request,
        _: AnyCaller,
        payload: dict[str, Any] = Body(...),  # noqa: B008
    ) -> Any:
        """One module operation, for a user (token forwarded) or a component (service
        token); 401 without a valid token."""
        hosted = engine.modules.get(module)
        if hosted is None:
            raise HTTPException(404, f"module {module!r} is not hosted by this process")
        # Calls this one makes to other modules (split mode) carry the same token.
        incoming_token.set(request.headers["authorization"].partition(" ")[2])
        try:
            return await hosted.handle(op, payload)
        except CognitiveError:
            raise
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason:
                log.warning("dependency unavailable", module=module, op=op, error=str(exc)[:300])
                return unavailable(reason)
            log.exception("module failure", module=module, op=op)
            raise CognitiveError(500, f"{module}.{op} failed: {type(exc).__name__}") from exc

    return app

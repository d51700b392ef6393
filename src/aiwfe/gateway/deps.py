"""The gateway's runtime (its clients, opened by the lifespan) and its route dependencies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import redis.asyncio as aioredis
from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aiwfe.cognitive.base import Transport
from aiwfe.cognitive.transport import HttpTransport
from aiwfe.core import auth
from aiwfe.core.config_client import ConfigClient
from aiwfe.core.db import create_engine, is_unavailable, session_factory
from aiwfe.core.deps import Caller, StreamCaller
from aiwfe.core.models import WorkflowRun
from aiwfe.core.redis import async_client
from aiwfe.core.settings import Settings
from aiwfe.core.web import DatabaseUnavailable
from aiwfe.gateway.limits import HashSlots, LoginLimiter
from aiwfe.gateway.schemas import Problem

__all__ = [
    "ERRORS",
    "FORWARD_ERRORS",
    "Caller",
    "Rt",
    "Runtime",
    "Session",
    "StreamCaller",
    "scoped",
]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, invalid or expired token"},
    422: {"model": Problem, "description": "invalid request"},
    503: {"model": Problem, "description": "a backing service is unavailable"},
}
FORWARD_ERRORS = {**ERRORS, 502: {"model": Problem}, 504: {"model": Problem}}


@dataclass
class Runtime:
    """Everything the routes share, opened once per process by the lifespan."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    cognitive: Transport
    config: ConfigClient  # runtime config and flags (watched)
    config_http: httpx.AsyncClient  # the flags proxy to config-manager
    login_limiter: LoginLimiter
    hash_slots: HashSlots
    _stop: asyncio.Event = field(init=False, repr=False, default_factory=asyncio.Event)
    _watcher: asyncio.Task[None] | None = field(init=False, repr=False, default=None)

    @classmethod
    def open(cls, settings: Settings, signing_key: auth.SigningKey) -> Runtime:
        config_url = settings.config_url or "http://unused"
        engine = create_engine(settings)
        redis = async_client(settings)

        def service_token() -> str:
            """The gateway's own identity towards cognitive-services and config-manager."""
            return auth.issue_service_token("api-gateway", signing_key, settings.jwt_issuer)

        runtime = cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            redis=redis,
            cognitive=HttpTransport.from_settings(settings, service_token),
            config=ConfigClient(config_url, "gateway", auth=auth.BearerAuth(service_token)),
            config_http=httpx.AsyncClient(
                base_url=config_url.rstrip("/"),
                timeout=httpx.Timeout(10.0, connect=3.0),
                auth=auth.BearerAuth(service_token),  # an admin's PUT forwards its own
            ),
            login_limiter=LoginLimiter(redis, settings.login_rate_window_seconds),
            hash_slots=HashSlots(settings.login_hash_concurrency, settings.login_hash_wait_seconds),
        )
        if settings.config_url:
            # Runtime config and flags from config-manager; an outage only means defaults.
            runtime._watcher = asyncio.create_task(
                runtime.config.watch(wait=25, stop=runtime._stop)
            )
        return runtime

    async def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.cancel()
        await self.config.close()
        await self.config_http.aclose()
        await self.cognitive.close()
        await self.redis.aclose()
        await self.engine.dispose()

    async def forward(self, module: str, op: str, body: Any) -> dict[str, Any]:
        """A cognitive operation, its errors mapped by the app's CognitiveError handler."""
        payload = body.model_dump(mode="json") if hasattr(body, "model_dump") else body
        return await self.cognitive.call(module, op, payload)


def scoped(body: Any, caller: auth.Principal, *, write: bool = False) -> Any:
    """The request with its owner set from the token, whatever the client sent: writes
    belong to the caller; reads see the caller's own data (admins: everyone's)."""
    owner = None if caller.is_admin and not write else caller.user_id
    return body.model_copy(update={"owner": owner})


def static_root(settings: Settings) -> Path:
    default = Path(__file__).parent / "static"
    return (Path(settings.static_dir) if settings.static_dir else default).resolve()


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


Rt = Annotated[Runtime, Depends(runtime)]


async def db(rt: Rt) -> AsyncIterator[AsyncSession]:
    async with rt.sessions() as session:
        try:
            yield session
        except (OSError, SQLAlchemyError) as exc:
            # Connection failures surface as OSError (refused) or driver errors.
            if isinstance(exc, OSError) or is_unavailable(exc):
                raise DatabaseUnavailable(str(exc)) from exc
            raise


Session = Annotated[AsyncSession, Depends(db)]


async def writable(rt: Rt) -> None:
    """Mutations are refused while the `maintenance` flag is on (set in config-manager)."""
    if rt.config.flag("maintenance", False):
        raise HTTPException(
            503,
            "maintenance mode: changes are paused, reads still work",
            headers={"Retry-After": "30"},
        )


async def load_run(
    session: AsyncSession, run_id: uuid.UUID, caller: auth.Principal, *, lock: bool = False
) -> WorkflowRun:
    """The run, if the caller may see it (its owner or an admin); 404 otherwise."""
    query = select(WorkflowRun).where(WorkflowRun.id == run_id)
    if lock:
        query = query.with_for_update()
    run = await session.scalar(query)
    if run is None or (run.owner_id != caller.user_id and not caller.is_admin):
        raise HTTPException(404, f"workflow run {run_id} not found")
    return run

"""The gateway's runtime (its clients, opened by the lifespan) and its route dependencies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aiwfe.cognitive.base import Transport
from aiwfe.cognitive.transport import HttpTransport
from aiwfe.core import apikeys, auth
from aiwfe.core.auth import Role
from aiwfe.core.config_client import ConfigClient
from aiwfe.core.db import create_engine, is_unavailable, session_factory
from aiwfe.core.deps import CHALLENGE, Credentials, decode
from aiwfe.core.models import ApiKey, User, WorkflowRun
from aiwfe.core.redis import async_client
from aiwfe.core.settings import Settings
from aiwfe.core.web import DatabaseUnavailable
from aiwfe.gateway.limits import HashSlots, LoginLimiter
from aiwfe.gateway.schemas import Problem

__all__ = [
    "ERRORS",
    "FORWARD_ERRORS",
    "Account",
    "Admin",
    "Member",
    "Rt",
    "Runtime",
    "Session",
    "StreamViewer",
    "Viewer",
    "public",
    "scoped",
]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, invalid or expired token or API key"},
    403: {"model": Problem, "description": "the caller's role does not allow this"},
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


# ---- who is calling, and what their role allows --------------------------------------------

# An API key is used at most this often before its last-used time is written again: no
# write per request on the hot path, and the time shown is never more than this stale.
KEY_TOUCH_INTERVAL = timedelta(seconds=60)
MUST_CHANGE = "password change required: POST /api/v1/auth/password with the old and a new one"
DEACTIVATED = "account deactivated: ask an admin to reactivate it"
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
ApiKeyHeader = Annotated[str | None, Depends(_api_key_header)]


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers=CHALLENGE)


@dataclass(frozen=True)
class Identity:
    principal: auth.Principal
    must_change_password: bool


async def _key_identity(rt: Runtime, text: str) -> Identity:
    key_id = apikeys.parse_api_key(text)
    if key_id is None:
        raise unauthorized("invalid API key: expected aiwfe_<id>_<secret>")
    async with rt.sessions() as session:
        row = (
            await session.execute(
                select(ApiKey, User)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.id == key_id)
            )
        ).first()
        if row is None or not apikeys.api_key_matches(text, row.ApiKey.digest):
            raise unauthorized("invalid API key")
        key, user = row.ApiKey, row.User
        now = datetime.now(UTC)
        if not user.is_active:  # before the touch: a refused use is no use
            raise unauthorized(DEACTIVATED)
        if key.revoked_at is not None:
            raise unauthorized("API key revoked")
        if key.expires_at <= now:
            raise unauthorized("API key expired")
        if key.last_used_at is None or now - key.last_used_at >= KEY_TOUCH_INTERVAL:
            # Conditional: concurrent requests (or replicas) write it once per interval.
            await session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key.id,
                    or_(
                        ApiKey.last_used_at.is_(None),
                        ApiKey.last_used_at < now - KEY_TOUCH_INTERVAL,
                    ),
                )
                .values(last_used_at=now)
            )
            await session.commit()
    # A key never acts above its user's current role (a demoted user's keys follow).
    role = min(Role(key.role), Role(user.role), key=lambda r: r.rank)
    return _identity(user, role, key.id)


def _identity(user: User, role: Role, key_id: uuid.UUID | None = None) -> Identity:
    if not user.is_active:
        raise unauthorized(DEACTIVATED)
    principal = auth.Principal(user.id, user.username, False, role=role, api_key_id=key_id)
    return Identity(principal, user.must_change_password)


async def identify(request: Request, token: str | None, api_key: str | None) -> Identity:
    """The caller, from a user token or an API key (`X-API-Key: <key>`, or the key as the
    bearer token), with the role and state the database holds now: a deactivated user's
    tokens stop working at once, and a role change applies to the next request."""
    if api_key is None and token and token.startswith(apikeys.API_KEY_PREFIX):
        api_key, token = token, None
    principal = None if api_key is not None else decode(request, token)
    rt = runtime(request)
    try:
        if principal is None:
            return await _key_identity(rt, str(api_key))
        async with rt.sessions() as session:
            user = await session.get(User, principal.user_id)
    except (OSError, SQLAlchemyError) as exc:
        if isinstance(exc, OSError) or is_unavailable(exc):
            raise DatabaseUnavailable(str(exc)) from exc
        raise
    if user is None:
        raise unauthorized("the token's user no longer exists")
    if principal.session_version != user.session_version:
        raise unauthorized("the password changed since this token was issued: sign in again")
    return _identity(user, Role(user.role))


@dataclass(frozen=True)
class Policy:
    """A route's access rule. create_app refuses to start with a route that has none."""

    name: str
    role: Role | None = None  # None: no caller needed
    while_must_change: bool = False  # allowed before a forced password change


def _rule(role: Role, *, stream: bool = False, while_must_change: bool = False) -> Callable:
    policy = Policy(role.value if not while_must_change else "account", role, while_must_change)

    async def check(identity: Identity) -> auth.Principal:
        if identity.must_change_password and not policy.while_must_change:
            raise HTTPException(403, MUST_CHANGE)
        caller = identity.principal
        if not caller.current_role.at_least(role):
            raise HTTPException(
                403, f"this needs the {role.value} role or higher; the caller is a {caller.role}"
            )
        return caller

    if stream:

        async def from_stream(
            request: Request,
            credentials: Credentials,
            api_key: ApiKeyHeader,
            access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
        ) -> auth.Principal:
            token = credentials.credentials if credentials else access_token
            return await check(await identify(request, token, api_key))

        dependency = from_stream
    else:

        async def from_headers(
            request: Request, credentials: Credentials, api_key: ApiKeyHeader
        ) -> auth.Principal:
            token = credentials.credentials if credentials else None
            return await check(await identify(request, token, api_key))

        dependency = from_headers
    dependency.policy = policy  # type: ignore[attr-defined]
    return dependency


async def public() -> None:
    """The rule of routes anyone may call (login, probes, the web UI's files)."""


public.policy = Policy("public")  # type: ignore[attr-defined]

Viewer = Annotated[auth.Principal, Depends(_rule(Role.VIEWER))]
StreamViewer = Annotated[auth.Principal, Depends(_rule(Role.VIEWER, stream=True))]
Member = Annotated[auth.Principal, Depends(_rule(Role.MEMBER))]
Admin = Annotated[auth.Principal, Depends(_rule(Role.ADMIN))]
# The caller's own account (/me, the password change): any role, even before a forced change.
Account = Annotated[auth.Principal, Depends(_rule(Role.VIEWER, while_must_change=True))]
Public = Depends(public)


def _calls(dependant: Any) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def route_rules(app: FastAPI) -> dict[tuple[str, str], Policy]:
    """(method, path) -> the access rule of every API route of `app`; a route with none (or
    several) is a programming error, raised naming it (create_app calls this)."""
    rules: dict[tuple[str, str], Policy] = {}
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue  # the schema, docs and /metrics: not API routes (AIWFE_API_DOCS)
        calls = _calls(route.dependant)
        policies = {p for p in (getattr(c, "policy", None) for c in calls) if p}
        if len(policies) != 1:
            found = sorted(p.name for p in policies) or "none"
            raise RuntimeError(
                f"route {','.join(sorted(route.methods))} {route.path} needs exactly one "
                f"access rule (Viewer, Member, Admin, Account or Public), found {found}"
            )
        (policy,) = policies
        for method in route.methods:
            rules[(method, route.path)] = policy
    return rules

"""FastAPI application of the API gateway."""

import asyncio
import json
import uuid
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated, Any

import httpx
import structlog
from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from aiwfe.cognitive.base import CognitiveError
from aiwfe.cognitive.modules.learning import FeedbackRequest, FeedbackResponse, StatsRequest
from aiwfe.cognitive.modules.memory import (
    IngestRequest,
    IngestResponse,
    RecallRequest,
    RecallResponse,
)
from aiwfe.cognitive.modules.perception import AnalyzeRequest, AnalyzeResponse
from aiwfe.cognitive.modules.reasoning import (
    ChatRequest,
    ChatResponse,
    DecideRequest,
    DecideResponse,
)
from aiwfe.cognitive.transport import HttpTransport
from aiwfe.core import auth
from aiwfe.core.config_client import ConfigClient
from aiwfe.core.db import create_engine, is_unavailable, session_factory
from aiwfe.core.models import TERMINAL_STATUSES, RunEvent, User, WorkflowRun, WorkflowStep
from aiwfe.core.redis import async_client, enqueued_marker, run_channel
from aiwfe.core.settings import MODULES, Settings, get_settings
from aiwfe.core.telemetry import outgoing_headers
from aiwfe.core.web import DatabaseUnavailable, install_common, unavailable
from aiwfe.core.workflow import WorkflowSpec
from aiwfe.gateway.limits import BodySizeLimitMiddleware
from aiwfe.gateway.schemas import (
    FlagList,
    FlagValue,
    LoginRequest,
    Me,
    Problem,
    RunDetail,
    RunOut,
    RunPage,
    StepOut,
    TokenResponse,
)

log = structlog.get_logger("aiwfe.gateway")
DEFAULT_STATIC = FilePath(__file__).parent / "static"
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, invalid or expired token"},
    422: {"model": Problem, "description": "invalid request"},
    503: {"model": Problem, "description": "a backing service is unavailable"},
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    jwt_secret = settings.require_jwt_secret()
    static_dir = FilePath(settings.static_dir) if settings.static_dir else DEFAULT_STATIC
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        state["engine"] = create_engine(settings)
        state["sessions"] = session_factory(state["engine"])
        state["redis"] = async_client(settings)
        state["cognitive"] = HttpTransport.from_settings(settings)
        state["config"] = ConfigClient(settings.config_url or "http://unused", "gateway")
        state["config_http"] = httpx.AsyncClient(
            base_url=(settings.config_url or "http://unused").rstrip("/"),
            timeout=httpx.Timeout(10.0, connect=3.0),
        )
        stop = asyncio.Event()
        watcher = None
        if settings.config_url:
            # Runtime config and flags from config-manager; an outage only means defaults.
            watcher = asyncio.create_task(state["config"].watch(wait=25, stop=stop))
        log.info("gateway starting", static_dir=str(static_dir), mode=settings.cognitive_mode)
        try:
            yield
        finally:
            stop.set()
            if watcher is not None:
                watcher.cancel()
            await state["config"].close()
            await state["config_http"].aclose()
            await state["cognitive"].close()
            await state["redis"].aclose()
            await state["engine"].dispose()

    app = FastAPI(
        title="AIWFE API",
        version="1",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    # Added first = innermost: request IDs and metrics (added next) also cover 413 answers.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_common(app, "gateway", settings)

    @app.exception_handler(CognitiveError)
    async def _cognitive_error(_: Request, exc: CognitiveError) -> JSONResponse:
        if exc.status in (503, 504):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        if exc.status >= 500:
            return JSONResponse(
                {"detail": f"cognitive-services failed: {exc.detail}"}, status_code=502
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {k: v for k, v in error.items() if k in ("type", "loc", "msg")}
            for error in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    # ---- dependencies ------------------------------------------------------------------

    async def db() -> Any:
        async with state["sessions"]() as session:
            try:
                yield session
            except (OSError, SQLAlchemyError) as exc:
                # Connection failures surface as OSError (refused) or driver errors.
                if isinstance(exc, OSError) or is_unavailable(exc):
                    raise DatabaseUnavailable(str(exc)) from exc
                raise

    bearer = HTTPBearer(auto_error=False)

    async def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
    ) -> auth.Principal:
        token = credentials.credentials if credentials else None
        if token is None and request.url.path.endswith("/events"):
            token = access_token  # EventSource cannot send headers; only the SSE route
        token = token or None
        if not token:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        try:
            return auth.decode_token(token, jwt_secret, settings.jwt_issuer)
        except auth.TokenError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc

    async def writable() -> None:
        """Mutations are refused while the `maintenance` flag is on (set in config-manager)."""
        if state["config"].flag("maintenance", False):
            raise HTTPException(
                503,
                "maintenance mode: changes are paused, reads still work",
                headers={"Retry-After": "30"},
            )

    Session = Annotated[AsyncSession, Depends(db)]
    Caller = Annotated[auth.Principal, Depends(principal)]

    async def forward(module: str, op: str, body: Any) -> dict[str, Any]:
        payload = body.model_dump(mode="json") if hasattr(body, "model_dump") else body
        return await state["cognitive"].call(module, op, payload)

    # ---- health --------------------------------------------------------------------------

    @app.get("/api/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers. No I/O."""
        return {"status": "ok"}

    @app.get("/api/ready", tags=["health"], responses={503: {"model": Problem}})
    async def ready() -> Any:
        """Readiness: database, Redis and cognitive-services reachable."""
        checks: dict[str, str] = {}

        async def check(name: str, probe: Any) -> None:
            try:
                await asyncio.wait_for(probe(), timeout=3)
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"unavailable: {type(exc).__name__}"

        async def db_probe() -> None:
            async with state["engine"].connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def cognitive_probe() -> None:
            client = state["cognitive"].client
            urls = {settings.module_url(m) for m in MODULES}
            for url in sorted(urls):
                response = await client.get(f"{url}/health")
                response.raise_for_status()

        await asyncio.gather(
            check("database", db_probe),
            check("redis", state["redis"].ping),
            check("cognitive", cognitive_probe),
        )
        if all(v == "ok" for v in checks.values()):
            return {"status": "ready", "checks": checks}
        failed = ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
        return JSONResponse({"detail": f"not ready: {failed}", "checks": checks}, status_code=503)

    # ---- auth ----------------------------------------------------------------------------

    @app.post(
        "/api/v1/auth/login",
        tags=["auth"],
        response_model=TokenResponse,
        responses={401: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}},
    )
    async def login(body: LoginRequest, request: Request, session: Session) -> Any:
        """Exchange username and password for a JWT. Rate-limited per client address."""
        client = request.client.host if request.client else "unknown"
        key = f"aiwfe:ratelimit:login:{client}"
        # Fixed window, atomic: the key is created with its expiry, then counted.
        async with state["redis"].pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=settings.login_rate_window_seconds, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, attempts, ttl = await pipe.execute()
        limit = int(state["config"].get("login_rate_limit", settings.login_rate_limit))
        if attempts > limit:
            retry = max(1, int(ttl))
            return JSONResponse(
                {"detail": f"too many login attempts, retry in {retry}s"},
                status_code=429,
                headers={"Retry-After": str(retry)},
            )
        user = await session.scalar(select(User).where(User.username == body.username))
        ok = await run_in_threadpool(
            auth.verify_password, user.password_hash if user else None, body.password
        )
        if not user or not ok or not user.is_active:
            raise HTTPException(401, "invalid username or password")
        who = auth.Principal(user.id, user.username, user.is_admin)
        token = auth.issue_token(who, jwt_secret, settings.jwt_ttl_seconds, settings.jwt_issuer)
        return TokenResponse(access_token=token, expires_in=settings.jwt_ttl_seconds)

    @app.get("/api/v1/auth/me", tags=["auth"], response_model=Me, responses=ERRORS)
    async def me(caller: Caller) -> Me:
        return Me(id=caller.user_id, username=caller.username, is_admin=caller.is_admin)

    # ---- workflows -----------------------------------------------------------------------

    def run_out(run: WorkflowRun) -> dict[str, Any]:
        return {
            "id": run.id,
            "name": run.name,
            "status": run.status,
            "input": run.input,
            "steps": run.steps,
            "current_step": run.current_step,
            "result": run.result,
            "error": run.error,
            "created_at": run.created_at,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
        }

    async def load_run(
        session: AsyncSession, run_id: uuid.UUID, caller: auth.Principal, *, lock: bool = False
    ) -> WorkflowRun:
        query = select(WorkflowRun).where(WorkflowRun.id == run_id)
        if lock:
            query = query.with_for_update()
        run = await session.scalar(query)
        if run is None or (run.owner_id != caller.user_id and not caller.is_admin):
            raise HTTPException(404, f"workflow run {run_id} not found")
        return run

    @app.post(
        "/api/v1/workflows",
        tags=["workflows"],
        status_code=201,
        dependencies=[Depends(writable)],
        response_model=RunOut,
        responses=ERRORS,
    )
    async def create_workflow(spec: WorkflowSpec, caller: Caller, session: Session) -> Any:
        """Validate a workflow, store it as a queued run and hand it to the worker."""
        from aiwfe.worker.celery_app import RUN_TASK, get_celery

        run = WorkflowRun(
            id=uuid.uuid4(),
            owner_id=caller.user_id,
            name=spec.name,
            status="queued",
            steps=[s.model_dump(mode="json") for s in spec.steps],
            input=spec.input,
        )
        session.add(run)
        await session.flush()  # the run row first: events reference it
        session.add(RunEvent(run_id=run.id, type="queued", data={"status": "queued"}))
        await session.commit()
        try:
            await run_in_threadpool(
                get_celery().send_task,
                RUN_TASK,
                args=[str(run.id)],
                kwargs={"context": outgoing_headers()},  # request ID + trace context
                task_id=str(run.id),
            )
        except Exception as exc:
            log.warning("enqueue failed", run_id=str(run.id), error=str(exc)[:200])
            await session.delete(run)
            await session.commit()
            return unavailable("task queue unreachable, the workflow was not created")
        try:
            await state["redis"].set(enqueued_marker(run.id), "1", ex=7 * 86400)
        except Exception:  # the sweeper may re-send it later: harmless, runs are idempotent
            log.warning("enqueue marker not written", run_id=str(run.id))
        await session.refresh(run)
        return run_out(run)

    @app.get("/api/v1/workflows", tags=["workflows"], response_model=RunPage, responses=ERRORS)
    async def list_workflows(
        caller: Caller,
        session: Session,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        status: Annotated[
            str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")
        ] = None,
    ) -> Any:
        """Newest first. Admins see every user's runs."""
        query = select(WorkflowRun)
        if not caller.is_admin:
            query = query.where(WorkflowRun.owner_id == caller.user_id)
        if status:
            query = query.where(WorkflowRun.status == status)
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(
            query.order_by(WorkflowRun.created_at.desc(), WorkflowRun.id)
            .limit(limit)
            .offset(offset)
        )
        return {
            "items": [run_out(r) for r in rows],
            "total": total or 0,
            "limit": limit,
            "offset": offset,
        }

    @app.get(
        "/api/v1/workflows/{run_id}",
        tags=["workflows"],
        response_model=RunDetail,
        responses={**ERRORS, 404: {"model": Problem}},
    )
    async def get_workflow(run_id: uuid.UUID, caller: Caller, session: Session) -> Any:
        run = await load_run(session, run_id, caller)
        steps = await session.scalars(
            select(WorkflowStep).where(WorkflowStep.run_id == run_id).order_by(WorkflowStep.idx)
        )
        detail = run_out(run)
        detail["step_results"] = [
            StepOut(
                idx=s.idx,
                type=s.type,
                status=s.status,
                attempts=s.attempts,
                output=s.output,
                error=s.error,
                started_at=s.started_at,
                finished_at=s.finished_at,
            )
            for s in steps
        ]
        return detail

    @app.post(
        "/api/v1/workflows/{run_id}/cancel",
        tags=["workflows"],
        dependencies=[Depends(writable)],
        response_model=RunOut,
        responses={**ERRORS, 404: {"model": Problem}, 409: {"model": Problem}},
    )
    async def cancel_workflow(run_id: uuid.UUID, caller: Caller, session: Session) -> Any:
        """Cancel a queued or running run; the worker stops before its next step."""
        run = await load_run(session, run_id, caller, lock=True)
        if run.status in TERMINAL_STATUSES:
            raise HTTPException(409, f"workflow run already {run.status}")
        run.status = "cancelled"
        run.finished_at = func.now()
        session.add(RunEvent(run_id=run.id, type="cancelled", data={"by": caller.username}))
        await session.commit()
        await session.refresh(run)
        try:
            await state["redis"].publish(run_channel(run.id), "cancelled")
        except Exception:  # the SSE stream also polls the database
            log.warning("publish failed", run_id=str(run.id))
        return run_out(run)

    @app.get(
        "/api/v1/workflows/{run_id}/events",
        tags=["workflows"],
        responses={
            **ERRORS,
            404: {"model": Problem},
            200: {"content": {"text/event-stream": {}}, "description": "progress events"},
        },
        response_class=Response,
    )
    async def workflow_events(
        run_id: uuid.UUID,
        caller: Caller,
        session: Session,
        last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Any:
        """Server-sent events: every progress event of the run (replayed from the start, or
        after Last-Event-ID), ending after the terminal event. A browser EventSource may pass
        the token as ?access_token=."""
        await load_run(session, run_id, caller)
        await session.close()
        try:
            start = int(last_event_id) if last_event_id else 0
        except ValueError:
            start = 0

        async def stream() -> Any:
            last = start
            pubsub = state["redis"].pubsub()
            await pubsub.subscribe(run_channel(run_id))
            try:
                while True:
                    async with state["sessions"]() as s:
                        status = await s.scalar(
                            select(WorkflowRun.status).where(WorkflowRun.id == run_id)
                        )
                        events = (
                            await s.scalars(
                                select(RunEvent)
                                .where(RunEvent.run_id == run_id, RunEvent.id > last)
                                .order_by(RunEvent.id)
                            )
                        ).all()
                    for event in events:
                        last = event.id
                        yield {
                            "id": str(event.id),
                            "event": event.type,
                            "data": json.dumps({"run_id": str(run_id), **event.data}),
                        }
                    if status is None or status in TERMINAL_STATUSES:
                        return
                    # Woken by the worker's publish; the timeout is a safety net.
                    await pubsub.get_message(ignore_subscribe_messages=True, timeout=2.0)
            finally:
                await pubsub.unsubscribe()
                await pubsub.aclose()

        return EventSourceResponse(stream(), ping=15, send_timeout=30)

    # ---- cognitive forwarding ------------------------------------------------------------

    fwd = {**ERRORS, 502: {"model": Problem}, 504: {"model": Problem}}

    @app.post(
        "/api/v1/memory/ingest",
        dependencies=[Depends(writable)],
        tags=["memory"],
        response_model=IngestResponse,
        responses=fwd,
    )
    async def memory_ingest(body: IngestRequest, _: Caller) -> Any:
        """Two-phase ingest: the LLM extracts facts, then they are embedded and stored."""
        return await forward("memory", "ingest", body)

    @app.post(
        "/api/v1/memory/search", tags=["memory"], response_model=RecallResponse, responses=fwd
    )
    async def memory_search(body: RecallRequest, _: Caller) -> Any:
        """Semantic recall with namespace, tag and metadata filters."""
        return await forward("memory", "recall", body)

    @app.post("/api/v1/chat", tags=["reasoning"], response_model=ChatResponse, responses=fwd)
    async def chat(body: ChatRequest, _: Caller) -> Any:
        return await forward("reasoning", "chat", body)

    @app.post("/api/v1/decisions", tags=["reasoning"], response_model=DecideResponse, responses=fwd)
    async def decide(body: DecideRequest, _: Caller) -> Any:
        """Decision analysis: options scored on weighted criteria, with recalled evidence."""
        return await forward("reasoning", "decide", body)

    @app.post(
        "/api/v1/perception/analyze",
        tags=["perception"],
        response_model=AnalyzeResponse,
        responses=fwd,
    )
    async def analyze(body: AnalyzeRequest, _: Caller) -> Any:
        return await forward("perception", "analyze", body)

    @app.post(
        "/api/v1/feedback",
        tags=["learning"],
        status_code=201,
        dependencies=[Depends(writable)],
        response_model=FeedbackResponse,
        responses=fwd,
    )
    async def feedback(body: FeedbackRequest, caller: Caller, session: Session) -> Any:
        """Feedback on an outcome; feeds the learning statistics."""
        if body.run_id is not None:
            await load_run(session, body.run_id, caller)
        return await forward("learning", "feedback", body)

    @app.get("/api/v1/learning/stats", tags=["learning"], responses=fwd)
    async def learning_stats(
        _: Caller,
        subject: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    ) -> Any:
        return await forward("learning", "stats", StatsRequest(subject=subject))

    # ---- feature flags (config-manager) ----------------------------------------------------

    async def config_manager(method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await state["config_http"].request(
                method, path, headers={**outgoing_headers(), **kwargs.pop("headers", {})}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise HTTPException(503, f"config-manager unreachable: {type(exc).__name__}") from exc

    @app.get("/api/v1/flags", tags=["flags"], response_model=FlagList, responses=ERRORS)
    async def list_flags(_: Caller) -> Any:
        """Feature flags: the chart's values, with runtime overrides from config-manager."""
        response = await config_manager("GET", "/v1/flags")
        if response.status_code != 200:
            raise HTTPException(502, f"config-manager answered {response.status_code}")
        body = response.json()
        return {
            "version": body["version"],
            "flags": [
                {"key": key, "value": value, "source": body.get("sources", {}).get(key, "file")}
                for key, value in sorted(body["flags"].items())
            ],
        }

    @app.put(
        "/api/v1/flags/{name}",
        tags=["flags"],
        responses={**ERRORS, 400: {"model": Problem}, 403: {"model": Problem}},
    )
    async def set_flag(
        name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,128}$")],
        body: FlagValue,
        request: Request,
        caller: Caller,
    ) -> Any:
        """Set a flag (admins). Services watching config-manager see it within seconds."""
        if not caller.is_admin:
            raise HTTPException(403, "changing feature flags needs an admin")
        response = await config_manager(
            "PUT",
            f"/v1/flags/{name}",
            json=body.model_dump(mode="json"),
            headers={"Authorization": request.headers.get("authorization", "")},
        )
        if response.status_code >= 500:
            raise HTTPException(502, f"config-manager answered {response.status_code}")
        return JSONResponse(response.json(), status_code=response.status_code)

    # ---- static web UI -------------------------------------------------------------------

    @app.api_route(
        "/api/{rest:path}",
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        include_in_schema=False,
    )
    async def api_not_found(rest: str) -> JSONResponse:
        return JSONResponse({"detail": f"no API route /api/{rest}"}, status_code=404)

    root = static_dir.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    async def web_ui(path: str) -> Response:
        """Static files; any other path gets index.html (single-page-app routing)."""
        candidate = (root / path).resolve() if path else root / "index.html"
        if candidate.is_relative_to(root) and candidate.is_file():
            immutable = "/assets/" in f"/{path}" or path.startswith("assets/")
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})
        index = root / "index.html"
        if not index.is_file():
            return JSONResponse({"detail": "web UI not installed"}, status_code=404)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.state.settings = settings
    app.state.runtime = state
    return app

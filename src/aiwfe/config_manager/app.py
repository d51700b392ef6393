"""HTTP API of config-manager."""

from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import JsonValue
from sqlalchemy import text

from aiwfe.config_manager.store import COMPONENT, FLAGS, KEY, ConfigStore, is_secret_key
from aiwfe.core import auth
from aiwfe.core.db import create_engine, session_factory
from aiwfe.core.settings import Settings, get_settings
from aiwfe.core.validation import StrictModel
from aiwfe.core.web import install_common, unavailable

ComponentName = Annotated[str, Path(pattern=COMPONENT.pattern)]
KeyName = Annotated[str, Path(pattern=KEY.pattern)]


class OverrideBody(StrictModel):
    value: JsonValue


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    secret = settings.require_jwt_secret()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        state["engine"] = create_engine(settings)
        state["store"] = ConfigStore(settings.config_file, session_factory(state["engine"]))
        yield
        await state["store"].close()
        await state["engine"].dispose()

    app = FastAPI(title="AIWFE config-manager", version="1", lifespan=lifespan)
    install_common(app, "config", settings)
    bearer = HTTPBearer(auto_error=False)

    async def admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> auth.Principal:
        if credentials is None:
            raise HTTPException(401, "missing bearer token")
        try:
            who = auth.decode_token(credentials.credentials, secret, settings.jwt_issuer)
        except auth.TokenError as exc:
            raise HTTPException(401, str(exc)) from exc
        if not who.is_admin:
            raise HTTPException(403, "changing configuration needs an admin token")
        return who

    def store() -> ConfigStore:
        return state["store"]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> Any:
        try:
            async with state["engine"].connect() as conn:
                await conn.execute(text("SELECT 1 FROM config_state"))
        except Exception as exc:
            return unavailable(f"database not ready: {type(exc).__name__}")
        return {"status": "ready"}

    @app.get("/v1/config/{component}")
    async def get_config(
        component: ComponentName,
        response: Response,
        wait: Annotated[float, Query(ge=0, le=120)] = 0,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Config and flags for a component. With If-None-Match and ?wait=N, blocks until
        something changes (or N seconds pass: 304)."""
        if if_none_match:
            etag = await store().current_etag()
            if etag == if_none_match and wait > 0:
                etag = await store().wait_for_change(if_none_match, wait)
            if etag == if_none_match:
                return Response(status_code=304, headers={"ETag": etag})
        snapshot = await store().snapshot(component)
        response.headers["ETag"] = snapshot["etag"]
        response.headers["Cache-Control"] = "no-cache"
        return snapshot

    @app.get("/v1/flags")
    async def flags(response: Response) -> Any:
        snapshot = await store().snapshot(FLAGS)
        response.headers["ETag"] = snapshot["etag"]
        overridden = set(snapshot["overridden"]["flags"])
        return {
            "version": snapshot["version"],
            "flags": snapshot["flags"],
            "sources": {k: "override" if k in overridden else "file" for k in snapshot["flags"]},
        }

    @app.get("/v1/services")
    async def services() -> Any:
        """Service discovery: where each component answers (from the chart's ConfigMap)."""
        return {"services": store().services()}

    def _check_key(key: str) -> None:
        if is_secret_key(key):
            raise HTTPException(
                400, f"{key!r} looks like a secret: secrets belong in Kubernetes Secrets"
            )

    @app.put("/v1/config/{component}/{key}")
    async def put_override(
        component: ComponentName,
        key: KeyName,
        body: OverrideBody,
        who: Annotated[auth.Principal, Depends(admin)],
    ) -> Any:
        _check_key(key)
        version = await store().set_override(component, key, body.value, who.username)
        return {"component": component, "key": key, "value": body.value, "version": version}

    @app.put("/v1/flags/{name}")
    async def put_flag(
        name: KeyName, body: OverrideBody, who: Annotated[auth.Principal, Depends(admin)]
    ) -> Any:
        _check_key(name)
        version = await store().set_override(FLAGS, name, body.value, who.username)
        return {"flag": name, "value": body.value, "version": version}

    @app.delete("/v1/config/{component}/{key}")
    async def delete_override(
        component: ComponentName, key: KeyName, _: Annotated[auth.Principal, Depends(admin)]
    ) -> Any:
        version = await store().delete_override(component, key)
        if version is None:
            raise HTTPException(404, f"no override {component}/{key}")
        return {"component": component, "key": key, "version": version}

    return app

"""config-manager's HTTP API: probes, config and flags (long-polled reads), admin overrides,
service discovery. Everything but the probes (and /metrics) needs a token: a user's, or a
component's service token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response
from pydantic import JsonValue
from sqlalchemy import text

from aiwfe.config_manager.deps import Admin, Rt, Store
from aiwfe.config_manager.store import COMPONENT, FLAGS, KEY, is_secret_key
from aiwfe.core.deps import any_caller
from aiwfe.core.validation import StrictModel
from aiwfe.core.web import unavailable

ComponentName = Annotated[str, Path(pattern=COMPONENT.pattern)]
KeyName = Annotated[str, Path(pattern=KEY.pattern)]
router = APIRouter()  # probes: open (the kubelet sends no token)
api = APIRouter(dependencies=[Depends(any_caller)])


class OverrideBody(StrictModel):
    value: JsonValue


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(rt: Rt) -> Any:
    try:
        async with rt.engine.connect() as conn:
            await conn.execute(text("SELECT 1 FROM config_state"))
    except Exception as exc:
        return unavailable(f"database not ready: {type(exc).__name__}")
    return {"status": "ready"}


@api.get("/v1/config/{component}")
async def get_config(
    component: ComponentName,
    response: Response,
    store: Store,
    wait: Annotated[float, Query(ge=0, le=120)] = 0,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    """Config and flags for a component. With If-None-Match and ?wait=N, blocks until
    something changes (or N seconds pass: 304)."""
    if if_none_match:
        etag = await store.current_etag()
        if etag == if_none_match and wait > 0:
            etag = await store.wait_for_change(if_none_match, wait)
        if etag == if_none_match:
            return Response(status_code=304, headers={"ETag": etag})
    snapshot = await store.snapshot(component)
    response.headers["ETag"] = snapshot["etag"]
    response.headers["Cache-Control"] = "no-cache"
    return snapshot


@api.get("/v1/flags")
async def flags(response: Response, store: Store) -> Any:
    snapshot = await store.snapshot(FLAGS)
    response.headers["ETag"] = snapshot["etag"]
    overridden = set(snapshot["overridden"]["flags"])
    return {
        "version": snapshot["version"],
        "flags": snapshot["flags"],
        "sources": {k: "override" if k in overridden else "file" for k in snapshot["flags"]},
    }


@api.get("/v1/services")
async def services(store: Store) -> Any:
    """Service discovery: where each component answers (from the chart's ConfigMap)."""
    return {"services": store.services()}


def _check_key(key: str) -> None:
    if is_secret_key(key):
        raise HTTPException(
            400, f"{key!r} looks like a secret: secrets belong in Kubernetes Secrets"
        )


@api.put("/v1/config/{component}/{key}")
async def put_override(
    component: ComponentName, key: KeyName, body: OverrideBody, who: Admin, store: Store
) -> Any:
    _check_key(key)
    version = await store.set_override(component, key, body.value, who.username)
    return {"component": component, "key": key, "value": body.value, "version": version}


@api.put("/v1/flags/{name}")
async def put_flag(name: KeyName, body: OverrideBody, who: Admin, store: Store) -> Any:
    _check_key(name)
    version = await store.set_override(FLAGS, name, body.value, who.username)
    return {"flag": name, "value": body.value, "version": version}


@api.delete("/v1/config/{component}/{key}")
async def delete_override(component: ComponentName, key: KeyName, _: Admin, store: Store) -> Any:
    version = await store.delete_override(component, key)
    if version is None:
        raise HTTPException(404, f"no override {component}/{key}")
    return {"component": component, "key": key, "version": version}

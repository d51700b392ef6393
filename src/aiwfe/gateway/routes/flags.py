"""Feature flags: a proxy to config-manager (reads for everyone, changes for admins)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse

from aiwfe.core import auth
from aiwfe.core.telemetry import outgoing_headers
from aiwfe.gateway import audit
from aiwfe.gateway.deps import ERRORS, Admin, Rt, Session, Viewer
from aiwfe.gateway.schemas import FlagList, FlagValue, Problem

router = APIRouter(prefix="/api/v1/flags", tags=["flags"])


async def config_manager(rt: Rt, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return await rt.config_http.request(
            method, path, headers={**outgoing_headers(), **kwargs.pop("headers", {})}, **kwargs
        )
    except httpx.HTTPError as exc:
        raise HTTPException(503, f"config-manager unreachable: {type(exc).__name__}") from exc


@router.get("", response_model=FlagList, responses=ERRORS)
async def list_flags(_: Viewer, rt: Rt) -> Any:
    """Feature flags: the chart's values, with runtime overrides from config-manager."""
    response = await config_manager(rt, "GET", "/v1/flags")
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


@router.put("/{name}", responses={**ERRORS, 400: {"model": Problem}, 403: {"model": Problem}})
async def set_flag(
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,128}$")],
    body: FlagValue,
    request: Request,
    caller: Admin,
    session: Session,
    rt: Rt,
) -> Any:
    """Set a flag (admins). Services watching config-manager see it within seconds."""
    # config-manager checks the admin itself: it gets a short token naming this caller as
    # the gateway sees them now (an API key, or a role changed since login, is resolved here).
    settings = rt.settings
    token = auth.issue_token(caller, request.app.state.signing_key, 60, settings.jwt_issuer)
    response = await config_manager(
        rt,
        "PUT",
        f"/v1/flags/{name}",
        json=body.model_dump(mode="json"),
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code >= 500:
        raise HTTPException(502, f"config-manager answered {response.status_code}")
    if response.status_code < 300:
        audit.record(session, caller, "flag.set", "flag", name, value=body.value)
        await session.commit()
    return JSONResponse(response.json(), status_code=response.status_code)

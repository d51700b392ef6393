"""Login (username and password for a JWT, rate-limited) and the caller's identity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from aiwfe.core import auth
from aiwfe.core.models import User
from aiwfe.gateway.deps import ERRORS, Caller, Rt, Session
from aiwfe.gateway.limits import Saturated
from aiwfe.gateway.schemas import LoginRequest, Me, Problem, TokenResponse

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def too_many(seconds: int) -> JSONResponse:
    retry = max(1, int(seconds))
    return JSONResponse(
        {"detail": f"too many login attempts, retry in {retry}s"},
        status_code=429,
        headers={"Retry-After": str(retry)},
    )


@router.post(
    "/login",
    response_model=TokenResponse,
    responses={401: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}},
)
async def login(body: LoginRequest, request: Request, session: Session, rt: Rt) -> Any:
    """Exchange username and password for a JWT. Limited per client address (the peer, or
    X-Forwarded-For from AIWFE_TRUSTED_PROXIES) and per username (failed attempts)."""
    settings = rt.settings
    limiter = rt.login_limiter
    client = request.client.host if request.client else "unknown"
    attempts, ttl = await limiter.count(f"ip:{client}")
    if attempts > int(rt.config.get("login_rate_limit", settings.login_rate_limit)):
        return too_many(ttl)
    user_key = f"user:{body.username.lower()}"
    failures, ttl = await limiter.count(user_key, add=False)
    if failures >= settings.login_user_rate_limit:
        return too_many(ttl)
    user = await session.scalar(select(User).where(User.username == body.username))
    try:
        async with rt.hash_slots.slot():
            ok = await run_in_threadpool(
                auth.verify_password, user.password_hash if user else None, body.password
            )
    except Saturated:
        return JSONResponse(
            {"detail": "too many logins at once, retry shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    if not user or not ok or not user.is_active:
        await limiter.count(user_key)
        raise HTTPException(401, "invalid username or password")
    who = auth.Principal(user.id, user.username, user.is_admin)
    key = request.app.state.signing_key
    token = auth.issue_token(who, key, settings.jwt_ttl_seconds, settings.jwt_issuer)
    return TokenResponse(access_token=token, expires_in=settings.jwt_ttl_seconds)


@router.get("/me", response_model=Me, responses=ERRORS)
async def me(caller: Caller) -> Me:
    return Me(id=caller.user_id, username=caller.username, is_admin=caller.is_admin)

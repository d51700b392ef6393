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
from aiwfe.gateway.schemas import LoginRequest, Me, Problem, TokenResponse

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


async def _attempts(rt: Rt, client: str) -> tuple[int, int]:
    """Count one login attempt of `client`: (attempts in the window, seconds left of it)."""
    key = f"aiwfe:ratelimit:login:{client}"
    # Fixed window, atomic: the key is created with its expiry, then counted.
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=rt.settings.login_rate_window_seconds, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, attempts, ttl = await pipe.execute()
    return attempts, ttl


@router.post(
    "/login",
    response_model=TokenResponse,
    responses={401: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}},
)
async def login(body: LoginRequest, request: Request, session: Session, rt: Rt) -> Any:
    """Exchange username and password for a JWT. Rate-limited per client address."""
    settings = rt.settings
    attempts, ttl = await _attempts(rt, request.client.host if request.client else "unknown")
    limit = int(rt.config.get("login_rate_limit", settings.login_rate_limit))
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
    key = request.app.state.signing_key
    token = auth.issue_token(who, key, settings.jwt_ttl_seconds, settings.jwt_issuer)
    return TokenResponse(access_token=token, expires_in=settings.jwt_ttl_seconds)


@router.get("/me", response_model=Me, responses=ERRORS)
async def me(caller: Caller) -> Me:
    return Me(id=caller.user_id, username=caller.username, is_admin=caller.is_admin)

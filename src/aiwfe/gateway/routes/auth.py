"""Login (username and password for a JWT, rate-limited), the caller's identity, and the
caller's own password change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from aiwfe.core import auth
from aiwfe.core.models import User
from aiwfe.core.settings import Settings
from aiwfe.gateway import audit
from aiwfe.gateway.deps import ERRORS, Account, Public, Rt, Runtime, Session
from aiwfe.gateway.limits import Saturated
from aiwfe.gateway.schemas import LoginRequest, Me, PasswordChange, Problem, TokenResponse

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def too_many(seconds: int) -> JSONResponse:
    retry = max(1, int(seconds))
    return JSONResponse(
        {"detail": f"too many login attempts, retry in {retry}s"},
        status_code=429,
        headers={"Retry-After": str(retry)},
    )


def token_for(user: User, request: Request, settings: Settings) -> TokenResponse:
    """A new token for `user`: who, the role, the session version (bumped by a password
    change or reset, which refuses the tokens issued before)."""
    who = auth.Principal(
        user.id,
        user.username,
        False,
        role=auth.Role(user.role),
        session_version=user.session_version,
    )
    token = auth.issue_token(
        who, request.app.state.signing_key, settings.jwt_ttl_seconds, settings.jwt_issuer
    )
    return TokenResponse(
        access_token=token,
        expires_in=settings.jwt_ttl_seconds,
        password_change_required=user.must_change_password,
    )


def busy(what: str = "password changes") -> JSONResponse:
    """503 when every argon2 slot is taken (HashSlots): refused, not queued."""
    return JSONResponse(
        {"detail": f"too many {what} at once, retry shortly"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def hashed(rt: Runtime, fn: Any, *args: Any) -> Any:
    """argon2 work (verify or hash) on a bounded number of threads (see HashSlots)."""
    async with rt.hash_slots.slot():
        return await run_in_threadpool(fn, *args)


@router.post(
    "/login",
    dependencies=[Public],
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
        ok = await hashed(
            rt, auth.verify_password, user.password_hash if user else None, body.password
        )
    except Saturated:
        return busy("logins")
    if not user or not ok or not user.is_active:
        await limiter.count(user_key)
        raise HTTPException(401, "invalid username or password")
    return token_for(user, request, settings)


@router.get("/me", response_model=Me, responses=ERRORS)
async def me(caller: Account) -> Me:
    return Me(
        id=caller.user_id,
        username=caller.username,
        is_admin=caller.is_admin,
        role=caller.current_role,
        api_key_id=caller.api_key_id,
    )


@router.post(
    "/password",
    response_model=TokenResponse,
    responses={**ERRORS, 400: {"model": Problem}, 429: {"model": Problem}},
)
async def change_password(
    body: PasswordChange, caller: Account, session: Session, rt: Rt, request: Request
) -> Any:
    """Change the caller's own password; the old one is required (wrong: 400, counted like a
    failed login). Clears a forced change after an admin's reset. Every token issued before
    is refused from now on (other sessions end); the answer carries a new one."""
    user_key = f"user:{caller.username.lower()}"
    failures, ttl = await rt.login_limiter.count(user_key, add=False)
    if failures >= rt.settings.login_user_rate_limit:
        return too_many(ttl)
    user = await session.get(User, caller.user_id, with_for_update=True)
    if user is None:
        raise HTTPException(401, "the caller's user no longer exists")
    try:
        ok = await hashed(rt, auth.verify_password, user.password_hash, body.old_password)
        if not ok:
            await rt.login_limiter.count(user_key)
            raise HTTPException(400, "old_password is not the current password")
        user.password_hash = await hashed(rt, auth.hash_password, body.new_password)
    except Saturated:
        return busy()
    user.must_change_password = False
    user.session_version += 1
    audit.record(session, caller, "user.password_change", "user", user.username)
    await session.commit()
    return token_for(user, request, rt.settings)

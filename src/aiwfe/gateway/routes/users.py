"""User management (admins): create, list, read, change role, deactivate and reactivate,
reset a password. The last active admin can be neither demoted nor deactivated: the change
locks every active admin's row first (in id order, so two such changes queue instead of
deadlocking), then counts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aiwfe.core import auth
from aiwfe.core.auth import Role
from aiwfe.core.models import User
from aiwfe.gateway import audit
from aiwfe.gateway.deps import ERRORS, Admin, Rt, Session
from aiwfe.gateway.limits import Saturated
from aiwfe.gateway.routes.auth import busy, hashed
from aiwfe.gateway.schemas import (
    PasswordReset,
    Problem,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
)

router = APIRouter(prefix="/api/v1/users", tags=["users"])
NOT_FOUND = {**ERRORS, 404: {"model": Problem}}


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        is_active=user.is_active,
        must_change_password=user.must_change_password,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def load_user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User:
    user = await session.get(User, user_id, with_for_update=lock, populate_existing=lock)
    if user is None:
        raise HTTPException(404, f"user {user_id} not found")
    return user


@router.post("", status_code=201, response_model=UserOut, responses={**ERRORS, 409: {}})
async def create_user(body: UserCreate, caller: Admin, session: Session, rt: Rt) -> Any:
    """A new user with a role; the password is a temporary one (changed at first login)
    unless must_change_password is false."""
    taken = await session.scalar(
        select(User.id).where(func.lower(User.username) == body.username.lower())
    )
    if taken is not None:
        raise HTTPException(409, f"username {body.username!r} is taken")
    try:
        password_hash = await hashed(rt, auth.hash_password, body.password)
    except Saturated:
        return busy()
    user = User(
        username=body.username,
        password_hash=password_hash,
        role=body.role.value,
        must_change_password=body.must_change_password,
    )
    session.add(user)
    audit.record(session, caller, "user.create", "user", body.username, role=body.role.value)
    try:
        await session.commit()
    except IntegrityError as exc:  # created concurrently under the same name
        raise HTTPException(409, f"username {body.username!r} is taken") from exc
    await session.refresh(user)
    return user_out(user)


@router.get("", response_model=UserPage, responses=ERRORS)
async def list_users(
    _: Admin,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """Every user, by username."""
    total = await session.scalar(select(func.count()).select_from(User))
    rows = await session.scalars(select(User).order_by(User.username).limit(limit).offset(offset))
    return {
        "items": [user_out(u) for u in rows],
        "total": total or 0,
        "limit": limit,
        "offset": offset,
    }


@router.get("/{user_id}", response_model=UserOut, responses=NOT_FOUND)
async def get_user(user_id: uuid.UUID, _: Admin, session: Session) -> Any:
    return user_out(await load_user(session, user_id))


@router.patch("/{user_id}", response_model=UserOut, responses={**NOT_FOUND, 409: {}})
async def update_user(user_id: uuid.UUID, body: UserUpdate, caller: Admin, session: Session) -> Any:
    """Set the role and/or deactivate (is_active false: logins, tokens and API keys stop
    working at once) or reactivate. 409 when it would leave no active admin."""
    # Rows locked in one order: every active admin (by id), then the user changed.
    admins = set(
        await session.scalars(
            select(User.id)
            .where(User.role == Role.ADMIN.value, User.is_active)
            .order_by(User.id)
            .with_for_update()
        )
    )
    user = await load_user(session, user_id, lock=True)
    role = body.role.value if body.role is not None else user.role
    active = body.is_active if body.is_active is not None else user.is_active
    if user.id in admins and (role != Role.ADMIN.value or not active) and admins == {user.id}:
        raise HTTPException(
            409,
            f"{user.username} is the last active admin: make another user admin first",
        )
    if role != user.role:
        audit.record(session, caller, "user.role", "user", user.username, old=user.role, new=role)
        user.role = role
    if active != user.is_active:
        action = "user.reactivate" if active else "user.deactivate"
        audit.record(session, caller, action, "user", user.username)
        user.is_active = active
    await session.commit()
    await session.refresh(user)
    return user_out(user)


@router.post(
    "/{user_id}/password",
    status_code=204,
    response_class=Response,
    response_model=None,
    responses=NOT_FOUND,
)
async def reset_password(
    user_id: uuid.UUID, body: PasswordReset, caller: Admin, session: Session, rt: Rt
) -> Any:
    """Set a temporary password: the user must change it at their next login (until then
    every route but the password change and /auth/me answers 403)."""
    try:
        password_hash = await hashed(rt, auth.hash_password, body.new_password)
    except Saturated:
        return busy()
    user = await load_user(session, user_id, lock=True)
    user.password_hash = password_hash
    user.must_change_password = True
    user.session_version += 1  # the user's current sessions end
    audit.record(session, caller, "user.password_reset", "user", user.username)
    await session.commit()
    return Response(status_code=204)

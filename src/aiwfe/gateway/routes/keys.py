"""API keys: a user's named, expiring keys for scripts and CI, each with a role no higher
than the user's own. The key is shown once at creation; only its SHA-256 is stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from sqlalchemy import select

from aiwfe.core import apikeys
from aiwfe.core.auth import Role
from aiwfe.core.models import ApiKey
from aiwfe.gateway import audit
from aiwfe.gateway.deps import ERRORS, Rt, Session, Viewer
from aiwfe.gateway.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, Problem

router = APIRouter(prefix="/api/v1/keys", tags=["api keys"])
NOT_FOUND = {**ERRORS, 404: {"model": Problem}}


def key_out(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "role": Role(key.role),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


@router.post("", status_code=201, response_model=ApiKeyCreated, responses=ERRORS)
async def create_key(body: ApiKeyCreate, caller: Viewer, session: Session, rt: Rt) -> Any:
    """A new key for the caller. Only a signed-in user creates keys (a key cannot make
    another, which would outlive it); its role defaults to, and may not exceed, the
    caller's."""
    if caller.api_key_id is not None:
        raise HTTPException(403, "an API key cannot create API keys: sign in with a password")
    role = body.role or caller.current_role
    if not caller.current_role.at_least(role):
        raise HTTPException(
            403, f"role {role.value} is above your own ({caller.current_role.value})"
        )
    secret = apikeys.new_api_key()
    key = ApiKey(
        id=secret.key_id,
        user_id=caller.user_id,
        name=body.name,
        digest=secret.digest,
        role=role.value,
        expires_at=datetime.now(UTC) + timedelta(days=body.expires_in_days),
    )
    session.add(key)
    audit.record(session, caller, "key.create", "api_key", key.id, name=body.name, role=role.value)
    await session.commit()
    await session.refresh(key)
    return {**key_out(key), "key": secret.text}


@router.get("", response_model=list[ApiKeyOut], responses=ERRORS)
async def list_keys(caller: Viewer, session: Session) -> Any:
    """The caller's keys (revoked and expired ones too), newest first; never the key."""
    rows = await session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == caller.user_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id)
    )
    return [key_out(k) for k in rows]


@router.delete(
    "/{key_id}", status_code=204, response_class=Response, response_model=None, responses=NOT_FOUND
)
async def revoke_key(key_id: uuid.UUID, caller: Viewer, session: Session) -> Any:
    """Revoke one of the caller's keys (an admin: anyone's); it is refused from the next
    request on. Revoking twice is harmless."""
    key = await session.get(ApiKey, key_id, with_for_update=True)
    if key is None or (key.user_id != caller.user_id and not caller.is_admin):
        raise HTTPException(404, f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        audit.record(session, caller, "key.revoke", "api_key", key.id, name=key.name)
        await session.commit()
    return Response(status_code=204)

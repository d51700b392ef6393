"""The audit log (admins): administrative actions, newest first, in pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from aiwfe.core.models import AuditEntry
from aiwfe.gateway.deps import ERRORS, Admin, Session
from aiwfe.gateway.schemas import AuditOut, AuditPage

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage, responses=ERRORS)
async def list_audit(
    _: Admin,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]+$")] = None,
) -> Any:
    """Who did what, when: user and role changes, password resets, API keys, flags."""
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return {
        "items": [AuditOut.model_validate(r, from_attributes=True) for r in rows],
        "total": total or 0,
        "limit": limit,
        "offset": offset,
    }

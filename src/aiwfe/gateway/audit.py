"""The audit log's one writer: administrative actions, recorded in the transaction that
makes the change (a change that rolls back leaves no entry, and none is lost)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aiwfe.core import auth
from aiwfe.core.models import AuditEntry


def record(
    session: AsyncSession,
    caller: auth.Principal,
    action: str,
    target_type: str,
    target: object,
    **details: Any,
) -> None:
    """`action` is `<what>.<verb>` (user.create, user.role, key.revoke, flag.set...)."""
    session.add(
        AuditEntry(
            actor_id=caller.user_id,
            actor=caller.username,
            api_key_id=caller.api_key_id,
            action=action,
            target_type=target_type,
            target=str(target)[:200],
            details=details,
        )
    )

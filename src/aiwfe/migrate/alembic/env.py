"""Alembic environment: async engine from AIWFE settings; one migrator at a time.

The lock is a *transaction* advisory lock taken first in the migration transaction: through
PgBouncer in transaction mode a session lock could stay behind on a pooled server connection,
a transaction lock is released by the commit on the same connection."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from aiwfe.core.db import create_engine
from aiwfe.core.models import Base
from aiwfe.core.settings import get_settings

target_metadata = Base.metadata
MIGRATION_LOCK = 7_164_921  # advisory lock key: one migrator at a time


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        # Waits for a concurrent migrator; its result is then seen as the current revision.
        connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        context.run_migrations()


async def _online() -> None:
    engine = context.config.attributes.get("engine") or create_engine(
        get_settings(), null_pool=True
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=str(get_settings().database_url()), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())

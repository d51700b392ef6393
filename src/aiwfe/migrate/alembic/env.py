"""Alembic environment: async engine from AIWFE settings, one advisory lock per run."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from aiwfe.core.db import create_engine
from aiwfe.core.models import Base
from aiwfe.core.settings import get_settings

target_metadata = Base.metadata
MIGRATION_LOCK = 7_164_921  # pg_advisory_lock key: one migrator at a time


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    engine = context.config.attributes.get("engine") or create_engine(
        get_settings(), null_pool=True
    )
    async with engine.connect() as connection:
        await connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        await connection.commit()
        try:
            await connection.run_sync(_run)
            await connection.commit()
        finally:
            await connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=str(get_settings().database_url()), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())

"""Async SQLAlchemy engine and sessions; PgBouncer (transaction mode) safe."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from aiwfe.core.settings import Settings


def _ssl_arg(mode: str) -> object:
    if mode == "disable":
        return False
    if mode in ("allow", "prefer", "require"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    context.check_hostname = mode == "verify-full"
    return context


def create_engine(settings: Settings, *, null_pool: bool = False) -> AsyncEngine:
    """An asyncpg engine that never relies on server-side prepared statements surviving.

    With PgBouncer in transaction mode a connection may land on another server connection
    for every transaction, so asyncpg's statement cache is off (statement_cache_size=0),
    SQLAlchemy's own prepared-statement cache is off, and statement names are unique.
    """
    connect_args: dict[str, object] = {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__aiwfe_{uuid4().hex}__",
        "timeout": settings.db_connect_timeout,
        "command_timeout": 30,
        "ssl": _ssl_arg(settings.db_sslmode),
    }
    kwargs: dict[str, object] = {"connect_args": connect_args, "pool_pre_ping": True}
    if null_pool:
        kwargs["poolclass"] = NullPool
    else:
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=10,
            pool_recycle=1800,
        )
    return create_async_engine(settings.database_url(), **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def is_unavailable(exc: BaseException) -> bool:
    """True for errors meaning "the database cannot be reached", not "the query is wrong"."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, ConnectionError | OSError | TimeoutError):
        return True
    name = type(getattr(exc, "orig", None) or exc).__name__
    return any(
        marker in name
        for marker in (
            "ConnectionDoesNotExist",
            "CannotConnectNow",
            "ConnectionFailure",
            "AdminShutdown",
            "TooManyConnections",
            "InterfaceError",
        )
    )

"""config-manager's runtime (opened by the lifespan) and its route dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from aiwfe.config_manager.store import ConfigStore
from aiwfe.core import auth
from aiwfe.core.db import create_engine, session_factory
from aiwfe.core.deps import Caller
from aiwfe.core.settings import Settings


@dataclass
class Runtime:
    engine: AsyncEngine
    store: ConfigStore

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings)
        return cls(engine, ConfigStore(settings.config_file, session_factory(engine)))

    async def close(self) -> None:
        await self.store.close()
        await self.engine.dispose()


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def store(request: Request) -> ConfigStore:
    return runtime(request).store


async def admin(caller: Caller) -> auth.Principal:
    """A caller with an admin token (401 without a valid one, 403 for a non-admin)."""
    if not caller.is_admin:
        raise HTTPException(403, "changing configuration needs an admin token")
    return caller


Rt = Annotated[Runtime, Depends(runtime)]
Store = Annotated[ConfigStore, Depends(store)]
Admin = Annotated[auth.Principal, Depends(admin)]

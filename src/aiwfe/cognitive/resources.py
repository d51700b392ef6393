"""Process-wide resources of the cognitive modules, created lazily, closed at shutdown."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aiwfe.core.db import create_engine, session_factory
from aiwfe.core.providers.embeddings import EmbeddingProvider, create_embeddings
from aiwfe.core.providers.llm import LLMProvider, create_llm
from aiwfe.core.providers.vectors import VectorStore, create_vector_store
from aiwfe.core.settings import Settings


class Resources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def engine(self) -> AsyncEngine:
        return create_engine(self.settings)

    @cached_property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return session_factory(self.engine)

    @cached_property
    def llm(self) -> LLMProvider:
        return create_llm(self.settings)

    @cached_property
    def embeddings(self) -> EmbeddingProvider:
        return create_embeddings(self.settings)

    @cached_property
    def vectors(self) -> VectorStore:
        return create_vector_store(self.settings, self.engine)

    async def close(self) -> None:
        for name in ("llm", "embeddings", "vectors"):
            if name in self.__dict__:
                await self.__dict__[name].close()
        if "engine" in self.__dict__:
            await self.engine.dispose()

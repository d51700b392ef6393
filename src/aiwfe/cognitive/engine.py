"""Builds the five modules for one process: all of them (consolidated) or one (split)."""

from __future__ import annotations

from aiwfe.cognitive.base import Module, Request
from aiwfe.cognitive.modules.coordination import CoordinationModule
from aiwfe.cognitive.modules.learning import LearningModule
from aiwfe.cognitive.modules.memory import MemoryModule
from aiwfe.cognitive.modules.perception import PerceptionModule
from aiwfe.cognitive.modules.reasoning import ReasoningModule
from aiwfe.cognitive.resources import Resources
from aiwfe.cognitive.transport import HttpTransport, LocalTransport
from aiwfe.core.settings import MODULES, Settings


class Engine:
    """The modules this process hosts, and a transport that reaches all five."""

    def __init__(self, settings: Settings, hosted: list[str] | None = None) -> None:
        self.settings = settings
        self.hosted = list(hosted or MODULES)
        unknown = set(self.hosted) - set(MODULES)
        if unknown:
            raise ValueError(f"unknown modules {sorted(unknown)}")
        self.resources = Resources(settings)
        remote = None
        if set(self.hosted) != set(MODULES):
            remote = HttpTransport.from_settings(settings)
        self.transport = LocalTransport(remote)
        registry: dict[str, dict[str, type[Request]]] = {}
        perception = PerceptionModule()
        memory = MemoryModule(self.resources)
        reasoning = ReasoningModule(self.resources, self.transport)
        learning = LearningModule(self.resources)
        coordination = CoordinationModule(self.resources, self.transport, registry)
        all_modules: list[Module] = [coordination, memory, perception, reasoning, learning]
        for module in all_modules:
            registry[module.name] = module.operations
        self.modules = {m.name: m for m in all_modules if m.name in self.hosted}
        for module in self.modules.values():
            self.transport.host(module)

    async def ready(self) -> None:
        for module in self.modules.values():
            await module.ready()

    async def close(self) -> None:
        await self.transport.close()
        await self.resources.close()

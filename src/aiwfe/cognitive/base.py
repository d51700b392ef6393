"""The module interface and the errors every transport maps to HTTP statuses."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from aiwfe.core.validation import StrictModel


class CognitiveError(Exception):
    """A module refused a request (4xx) or failed (5xx); `detail` is safe to show callers."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail

    @property
    def transient(self) -> bool:
        return self.status in (502, 503, 504)


class Request(StrictModel):
    """Base of every module operation's request."""


Handler = Callable[[Any], Awaitable[BaseModel | dict[str, Any]]]


class Transport(ABC):
    """How a caller reaches a module: in-process or over HTTP."""

    @abstractmethod
    async def call(
        self, module: str, op: str, payload: dict[str, Any], *, http_timeout: float | None = None
    ) -> dict[str, Any]:
        """Run `module.op(payload)`; `http_timeout` overrides the HTTP transport's read timeout."""

    async def close(self) -> None:
        return None


class Module(ABC):
    name: str

    def __init__(self) -> None:
        self._ops: dict[str, tuple[type[Request], Handler]] = {}

    def op(self, name: str, model: type[Request], handler: Handler) -> None:
        self._ops[name] = (model, handler)

    @property
    def operations(self) -> dict[str, type[Request]]:
        return {name: model for name, (model, _) in self._ops.items()}

    async def handle(self, op: str, payload: dict[str, Any]) -> dict[str, Any]:
        if op not in self._ops:
            raise CognitiveError(404, f"module {self.name} has no operation {op!r}")
        model, handler = self._ops[op]
        try:
            request = model.model_validate(payload)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            raise CognitiveError(422, errors) from exc
        result = await handler(request)
        if isinstance(result, BaseModel):
            return result.model_dump(mode="json")
        return result

    @abstractmethod
    async def ready(self) -> None:
        """Raise when a dependency the module needs is unreachable."""

"""The two transports: in-process (consolidated) and HTTP (split, and remote callers)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import httpx

from aiwfe.cognitive.base import CognitiveError, Module, Transport
from aiwfe.core.auth import BearerAuth
from aiwfe.core.settings import MODULES, Settings
from aiwfe.core.telemetry import outgoing_headers

# The bearer token of the request a cognitive module is serving: in split mode the module
# forwards it to the modules it calls, so the whole chain runs as the original caller.
incoming_token: ContextVar[str | None] = ContextVar("aiwfe_incoming_token", default=None)


def forwarded_token() -> str | None:
    return incoming_token.get()


class HttpTransport(Transport):
    """POST {module_url}/v1/{module}/{op} over one pooled client with timeouts, each call
    carrying `Authorization: Bearer <token()>` (cognitive-services refuses calls without)."""

    def __init__(
        self,
        urls: dict[str, str],
        timeout: float = 60.0,
        token: Callable[[], str | None] = forwarded_token,
    ) -> None:
        self.urls = urls
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            auth=BearerAuth(token),
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, token: Callable[[], str | None] = forwarded_token
    ) -> HttpTransport:
        urls = {m: settings.module_url(m) for m in MODULES}
        return cls(urls, settings.cognitive_timeout, token)

    async def call(
        self, module: str, op: str, payload: dict[str, Any], *, http_timeout: float | None = None
    ) -> dict[str, Any]:
        if module not in self.urls:
            raise CognitiveError(404, f"unknown module {module!r}")
        url = f"{self.urls[module]}/v1/{module}/{op}"
        extra: dict[str, Any] = {}
        if http_timeout is not None:
            extra["timeout"] = httpx.Timeout(http_timeout, connect=5.0)
        try:
            response = await self.client.post(
                url, json=payload, headers=outgoing_headers(), **extra
            )
        except httpx.TimeoutException as exc:
            raise CognitiveError(504, f"cognitive module {module} timed out") from exc
        except httpx.TransportError as exc:
            raise CognitiveError(503, f"cognitive module {module} unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise CognitiveError(response.status_code, detail)
        return response.json()

    async def close(self) -> None:
        await self.client.aclose()


class LocalTransport(Transport):
    """Modules hosted by this process are called directly; any other goes over `remote`."""

    def __init__(self, remote: Transport | None = None) -> None:
        self.modules: dict[str, Module] = {}
        self.remote = remote

    def host(self, module: Module) -> None:
        self.modules[module.name] = module

    async def call(
        self, module: str, op: str, payload: dict[str, Any], *, http_timeout: float | None = None
    ) -> dict[str, Any]:
        local = self.modules.get(module)
        if local is not None:
            return await local.handle(op, payload)
        if self.remote is None:
            raise CognitiveError(404, f"module {module!r} is not hosted here")
        return await self.remote.call(module, op, payload, http_timeout=http_timeout)

    async def close(self) -> None:
        if self.remote is not None:
            await self.remote.close()

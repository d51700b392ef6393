"""A small client services use to read their config and react to flag changes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog

log = structlog.get_logger("aiwfe.config_client")
Listener = Callable[[dict[str, Any]], Awaitable[None] | None]


class ConfigClient:
    def __init__(
        self,
        base_url: str,
        component: str,
        *,
        timeout: float = 5.0,
        auth: httpx.Auth | None = None,
    ) -> None:
        """`auth` gives each request its token: config-manager refuses reads without."""
        self.base_url = base_url.rstrip("/")
        self.component = component
        self.timeout = timeout
        self.snapshot: dict[str, Any] = {}
        self.etag: str | None = None
        self._listeners: list[Listener] = []
        self._client = httpx.AsyncClient(base_url=self.base_url, auth=auth)

    def flag(self, name: str, default: Any = False) -> Any:
        return self.snapshot.get("flags", {}).get(name, default)

    def get(self, key: str, default: Any = None) -> Any:
        return self.snapshot.get("config", {}).get(key, default)

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def refresh(self, wait: float = 0) -> bool:
        """Fetch once (long-polling up to `wait` seconds); True when the config changed."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        response = await self._client.get(
            f"/v1/config/{self.component}",
            params={"wait": wait} if wait else None,
            headers=headers,
            timeout=self.timeout + wait,
        )
        if response.status_code == 304:
            return False
        response.raise_for_status()
        self.snapshot = response.json()
        self.etag = response.headers.get("ETag")
        for listener in self._listeners:
            result = listener(self.snapshot)
            if asyncio.iscoroutine(result):
                await result
        return True

    async def watch(self, wait: float = 30, stop: asyncio.Event | None = None) -> None:
        """Long-poll forever (until `stop`), calling listeners on every change; backs off on
        errors so a config-manager outage never takes the service down."""
        backoff = 0.5
        while stop is None or not stop.is_set():
            try:
                await self.refresh(wait=wait)
                backoff = 0.5
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("config watch failed", error=str(exc)[:200], retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30)

    async def close(self) -> None:
        await self._client.aclose()

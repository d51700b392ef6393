"""The gateway's limits and edge headers: body size (413 from Content-Length before the body
is read; chunked bodies are read up to the limit first), login attempts per client address
and per username, concurrent password hashes, and the security headers of every response."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("aiwfe.gateway")


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > self.max_bytes:
                        await self._reject(send)
                        return
                except ValueError:
                    pass
        if not any(name == b"content-length" for name, _ in scope.get("headers", [])):
            # Chunked upload: read it (at most max_bytes) before the app sees it.
            messages: list[Message] = []
            size = 0
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                size += len(message.get("body", b""))
                if size > self.max_bytes:
                    await self._reject(send)
                    return
                if not message.get("more_body", False):
                    break
            pending = iter(messages)

            async def replay() -> Message:
                try:
                    return next(pending)
                except StopIteration:
                    return await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)


class Saturated(Exception):
    """Every password-hash slot is busy: the login is refused (503), not queued."""


class HashSlots:
    """At most `slots` argon2 verifications at once (each holds 64 MiB): a login flood
    costs a bounded amount of memory; one waiting longer than `wait` seconds is refused."""

    def __init__(self, slots: int, wait: float) -> None:
        self._semaphore = asyncio.Semaphore(slots)
        self.wait = wait

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.wait <= 0:
            if self._semaphore.locked():
                raise Saturated
            await self._semaphore.acquire()
        else:
            try:
                await asyncio.wait_for(self._semaphore.acquire(), timeout=self.wait)
            except TimeoutError:
                raise Saturated from None
        try:
            yield
        finally:
            self._semaphore.release()


class LoginLimiter:
    """Fixed-window counters (login attempts per client address, failures per username)
    in Redis, shared by every replica. While Redis is down each replica counts on its own,
    so login keeps working and stays limited."""

    REDIS_RETRY_SECONDS = 5.0

    def __init__(self, redis: Any, window: int) -> None:
        self.redis = redis
        self.window = window
        self._local: dict[str, tuple[float, int]] = {}
        self._redis_down_until = 0.0

    async def count(self, key: str, *, add: bool = True) -> tuple[int, int]:
        """(attempts in the window, seconds left of it), after adding one when `add`."""
        if time.monotonic() >= self._redis_down_until:
            try:
                return await self._redis_count(f"aiwfe:ratelimit:login:{key}", add)
            except (RedisError, OSError) as exc:
                log.warning(
                    "rate limit counts locally: redis unavailable", error=type(exc).__name__
                )
                self._redis_down_until = time.monotonic() + self.REDIS_RETRY_SECONDS
        return self._local_count(key, add)

    async def _redis_count(self, key: str, add: bool) -> tuple[int, int]:
        if not add:
            attempts, ttl = await self.redis.get(key), await self.redis.ttl(key)
            return int(attempts or 0), max(0, int(ttl))
        # Atomic: the key is created with its expiry, then counted.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self.window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, attempts, ttl = await pipe.execute()
        return int(attempts), int(ttl)

    def _local_count(self, key: str, add: bool) -> tuple[int, int]:
        now = time.monotonic()
        if len(self._local) > 10_000:  # forget finished windows
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
        ends, attempts = self._local.get(key, (now + self.window, 0))
        if ends <= now:
            ends, attempts = now + self.window, 0
        if add:
            attempts += 1
            self._local[key] = (ends, attempts)
        return attempts, max(1, int(ends - now))


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs load Swagger UI's script and styles from its CDN.
DOCS_CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"


class SecurityHeadersMiddleware:
    """nosniff, no framing, no referrer, a CSP for the UI; HSTS on HTTPS (TLS in the process,
    or X-Forwarded-Proto from a trusted proxy)."""

    def __init__(self, app: ASGIApp, docs_path: str = "/api/docs") -> None:
        self.app = app
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"].startswith(self.docs_path) else CSP
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", csp.encode()),
        ]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

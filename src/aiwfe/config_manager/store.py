"""The merged view: the mounted file (the chart's ConfigMap) plus overrides from Postgres."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
import yaml
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aiwfe.core.models import ConfigOverride, ConfigState
from aiwfe.core.web import shutting_down

log = structlog.get_logger("aiwfe.config")
SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|credential|private[_-]?key)", re.I)
COMPONENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
FLAGS = "flags"
REDACTED = "<redacted>"


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY.search(key))


def redact(value: Any) -> Any:
    """Drop every secret-looking key, at any depth: config-manager never serves secrets."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


@dataclass
class FileView:
    digest: str
    data: dict[str, Any]
    stamp: tuple[int, int, int] | None


class ConfigStore:
    def __init__(self, path: str, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.path = Path(path)
        self.sessions = sessions
        self._file = FileView(digest="none", data={}, stamp=None)
        # One poller per process watches the version; long-poll waiters share it, so the
        # database sees four cheap queries a second however many clients are watching.
        self._etag: str | None = None
        self._changed = asyncio.Event()
        self._poller: asyncio.Task | None = None

    def file(self) -> FileView:
        """The mounted file, re-read when its mtime or size changes (ConfigMap updates)."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)  # ConfigMaps swap a symlink
        except FileNotFoundError:
            if self._file.stamp is not None or self._file.digest == "none":
                self._file = FileView(digest="missing", data={}, stamp=None)
            return self._file
        if stamp != self._file.stamp:
            raw = self.path.read_bytes()
            try:
                data = yaml.safe_load(raw) or {}
                if not isinstance(data, dict):
                    raise ValueError("top level must be a mapping")
            except (yaml.YAMLError, ValueError) as exc:
                log.error("config file unreadable, keeping the previous one", error=str(exc))
                return self._file
            self._file = FileView(hashlib.sha256(raw).hexdigest()[:16], data, stamp)
        return self._file

    async def db_version(self, session: AsyncSession) -> int:
        return int(
            await session.scalar(select(ConfigState.version).where(ConfigState.id == 1)) or 0
        )

    def etag(self, db_version: int) -> str:
        return f'"{db_version}-{self.file().digest}"'

    async def current_etag(self) -> str:
        async with self.sessions() as session:
            return self.etag(await self.db_version(session))

    async def snapshot(self, component: str) -> dict[str, Any]:
        view = self.file()
        async with self.sessions() as session:
            version = await self.db_version(session)
            rows = (
                await session.scalars(
                    select(ConfigOverride).where(ConfigOverride.component.in_((component, FLAGS)))
                )
            ).all()
        config = dict((view.data.get("components") or {}).get(component) or {})
        flags = dict(view.data.get("flags") or {})
        overridden: dict[str, list[str]] = {"config": [], "flags": []}
        for row in rows:
            (flags if row.component == FLAGS else config)[row.key] = row.value
            overridden["flags" if row.component == FLAGS else "config"].append(row.key)
        return {
            "component": component,
            "version": version,
            "file_digest": view.digest,
            "etag": self.etag(version),
            "config": redact(config),
            "flags": redact(flags),
            "overridden": {k: sorted(v) for k, v in overridden.items()},
        }

    def services(self) -> dict[str, Any]:
        return redact(dict(self.file().data.get("services") or {}))

    async def set_override(self, component: str, key: str, value: Any, by: str) -> int:
        async with self.sessions() as session, session.begin():
            await session.execute(
                insert(ConfigOverride)
                .values(component=component, key=key, value=value, updated_by=by)
                .on_conflict_do_update(
                    index_elements=["component", "key"],
                    set_={"value": value, "updated_by": by},
                )
            )
            return await self._bump(session)

    async def delete_override(self, component: str, key: str) -> int | None:
        async with self.sessions() as session, session.begin():
            row = await session.get(ConfigOverride, (component, key))
            if row is None:
                return None
            await session.delete(row)
            return await self._bump(session)

    async def _bump(self, session: AsyncSession) -> int:
        result = await session.execute(
            update(ConfigState)
            .where(ConfigState.id == 1)
            .values(version=ConfigState.version + 1)
            .returning(ConfigState.version)
        )
        return int(result.scalar_one())

    async def _poll(self, interval: float = 0.25) -> None:
        while True:
            try:
                current = await self.current_etag()
            except Exception as exc:  # database blip: waiters keep waiting, retry
                log.warning("version poll failed", error=str(exc)[:200])
                await asyncio.sleep(1)
                continue
            if current != self._etag:
                self._etag = current
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
            await asyncio.sleep(interval)

    async def wait_for_change(self, etag: str, max_wait: float) -> str:
        """Long-poll: return the ETag as soon as it differs from `etag`, at the timeout, or
        when the server is shutting down."""
        if self._poller is None or self._poller.done():
            self._etag = await self.current_etag()
            self._poller = asyncio.create_task(self._poll())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while self._etag == etag and not shutting_down():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), timeout=min(1.0, remaining))
            except TimeoutError:
                pass
        return self._etag or etag

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)

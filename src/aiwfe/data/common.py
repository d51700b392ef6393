"""Shared pieces: the refusal error, hashing, canonical JSON, connection settings."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiwfe.core.settings import Settings

CHUNK = 1 << 20


class Refusal(Exception):
    """The operation was refused before touching the target. The message is ONE line that
    says what is wrong and what to do; the CLI prints it and exits 2."""


class Mismatch(Exception):
    """Data differs from what the bundle promises (verify / drill); exit 1."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} mismatch(es): " + "; ".join(problems[:20]))
        self.problems = problems


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def canonical(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class PgTools:
    """Where pg_dump & co. live. AIWFE_DATA_PG_BINDIR names their directory (default: PATH);
    AIWFE_DATA_EXEC_PREFIX is a command put in front of each (e.g. `chroot /rootfs` when the
    binaries live in another root filesystem); data goes through stdin/stdout either way."""

    bindir: str = ""
    prefix: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> PgTools:
        return cls(
            bindir=os.environ.get("AIWFE_DATA_PG_BINDIR", ""),
            prefix=tuple(shlex.split(os.environ.get("AIWFE_DATA_EXEC_PREFIX", ""))),
        )

    def command(self, name: str) -> list[str]:
        if self.bindir:
            return [*self.prefix, f"{self.bindir.rstrip('/')}/{name}"]
        if not self.prefix and shutil.which(name) is None:
            raise Refusal(
                f"{name} not found: install the PostgreSQL client (same or newer major as the "
                "server) or set AIWFE_DATA_PG_BINDIR"
            )
        return [*self.prefix, name]


def pg_env(settings: Settings, database: str | None = None) -> dict[str, str]:
    """libpq environment for the pg_* tools (the password never appears on a command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=settings.db_host,
        PGPORT=str(settings.db_port),
        PGUSER=settings.db_user,
        PGPASSWORD=settings.db_password.get_secret_value(),
        PGDATABASE=database or settings.db_name,
        PGSSLMODE=settings.db_sslmode,
        PGCONNECT_TIMEOUT="10",
    )
    return env

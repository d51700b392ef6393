"""PostgreSQL: connections, fingerprints, and the pg_dump / pg_restore / psql calls."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from aiwfe.core.db import _ssl_arg
from aiwfe.core.settings import Settings
from aiwfe.data.common import PgTools, Refusal, pg_env

T = TypeVar("T")

# Fixed session settings: row text (and so the checksums) must not depend on the server's
# or the client's defaults. extra_float_digits=1: shortest text that reads back exactly.
STABLE_SESSION = {
    "extra_float_digits": "1",
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "bytea_output": "hex",
    "search_path": "pg_catalog",
}

USER_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""

# Two 64-bit sums of per-row md5 halves: order-independent, and the per-row md5 is over the
# row's text form under STABLE_SESSION, so every column (vectors included) counts.
TABLE_SUM = """
SELECT count(*) AS n,
  coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text AS a,
  coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text AS b
FROM (SELECT md5(t::text) AS h FROM {table} t) rows
"""

SEQUENCES = """
SELECT schemaname || '.' || sequencename AS name, last_value FROM pg_sequences ORDER BY 1
"""

INDEXES = """
SELECT n.nspname || '.' || c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1
"""


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro_fn())  # type: ignore[arg-type]


async def connect(settings: Settings, database: str | None = None) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=settings.db_host,
            port=settings.db_port,
            user=settings.db_user,
            password=settings.db_password.get_secret_value() or None,
            database=database or settings.db_name,
            ssl=_ssl_arg(settings.db_sslmode),
            timeout=settings.db_connect_timeout,
            statement_cache_size=0,
            server_settings=STABLE_SESSION,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        where = f"{settings.db_host}:{settings.db_port}/{database or settings.db_name}"
        raise Refusal(
            f"cannot connect to PostgreSQL at {where} ({exc}): check AIWFE_DB_HOST/PORT/USER/"
            "PASSWORD/NAME"
        ) from None


def quote_ident(*parts: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


async def server_info(conn: asyncpg.Connection) -> dict[str, Any]:
    num = int(await conn.fetchval("SHOW server_version_num"))
    size = await conn.fetchval("SELECT pg_database_size(current_database())")
    return {
        "version": await conn.fetchval("SHOW server_version"),
        "major": num // 10000,
        "database": await conn.fetchval("SELECT current_database()"),
        "size_bytes": int(size),
    }


async def alembic_revision(conn: asyncpg.Connection) -> str | None:
    if not await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL"):
        return None
    return await conn.fetchval("SELECT string_agg(version_num, ',') FROM public.alembic_version")


async def user_tables(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in await conn.fetch(USER_TABLES)]


async def fingerprint(conn: asyncpg.Connection) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for schema, name in await user_tables(conn):
        row = await conn.fetchrow(TABLE_SUM.format(table=quote_ident(schema, name)))
        material = f"{row['n']}:{row['a']}:{row['b']}".encode()
        tables[f"{schema}.{name}"] = {
            "rows": int(row["n"]),
            "checksum": hashlib.sha256(material).hexdigest()[:32],
        }
    extensions = {
        r[0]: r[1] for r in await conn.fetch("SELECT extname, extversion FROM pg_extension")
    }
    return {
        "tables": tables,
        "sequences": {r["name"]: r["last_value"] for r in await conn.fetch(SEQUENCES)},
        "extensions": extensions,
        "indexes": {r["name"]: r["def"] for r in await conn.fetch(INDEXES)},
        "alembic_revision": await alembic_revision(conn),
    }


def _tool(
    tools: PgTools,
    name: str,
    args: list[str],
    env: dict[str, str],
    *,
    stdin: Any = None,
    stdout: Any = None,
) -> subprocess.CompletedProcess[bytes]:
    cmd = [*tools.command(name), *args]
    try:
        result = subprocess.run(
            cmd, env=env, stdin=stdin, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise Refusal(f"cannot run {name} ({exc}): set AIWFE_DATA_PG_BINDIR") from None
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        first = message[0] if message else f"exit {result.returncode}"
        raise RuntimeError(f"{name} failed: {first}")
    return result


def dump(settings: Settings, tools: PgTools, path: Path, snapshot: str | None = None) -> None:
    """pg_dump -Fc of the application database into `path` (through stdout)."""
    args = ["-Fc", *([f"--snapshot={snapshot}"] if snapshot else []), settings.db_name]
    with path.open("wb") as out:
        _tool(tools, "pg_dump", args, pg_env(settings), stdout=out)


def dump_globals(settings: Settings, tools: PgTools, path: Path) -> None:
    """Roles (no tablespaces: a PVC has its own), through stdout."""
    with path.open("wb") as out:
        _tool(
            tools,
            "pg_dumpall",
            ["--globals-only", "--no-tablespaces", "-l", settings.db_name],
            pg_env(settings),
            stdout=out,
        )


def check_dump(tools: PgTools, path: Path) -> None:
    """Read the whole archive (pg_restore to a discarded script): a truncated or foreign
    file fails here, before anything is written. (--list alone reads only the table of
    contents at the start of the file.)"""
    with path.open("rb") as handle:
        try:
            _tool(
                tools,
                "pg_restore",
                ["-f", "-"],
                {"PATH": "/usr/bin:/bin"},
                stdin=handle,
                stdout=subprocess.DEVNULL,
            )
        except RuntimeError as exc:
            raise Refusal(
                f"{path.name} is not a readable pg_dump archive ({exc}): take a new backup"
            ) from None


def restore(settings: Settings, tools: PgTools, path: Path, database: str, clean: bool) -> None:
    """One transaction: a failing restore leaves the target database as it was."""
    args = [
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "-d",
        database,
    ]
    if clean:
        args[:0] = ["--clean", "--if-exists"]
    env = pg_env(settings, database)
    # Index builds (HNSW over the vectors above all) are the slowest part of a restore; a
    # graph that does not fit maintenance_work_mem builds many times slower. The server's
    # memory limit decides what is safe, so it is a knob: AIWFE_DATA_MAINTENANCE_WORK_MEM.
    work_mem = os.environ.get("AIWFE_DATA_MAINTENANCE_WORK_MEM", "")
    if work_mem:
        env["PGOPTIONS"] = f"-c maintenance_work_mem={work_mem}"
    with path.open("rb") as handle:
        _tool(tools, "pg_restore", args, env, stdin=handle)


def restore_globals(settings: Settings, tools: PgTools, path: Path, existing: set[str]) -> int:
    """Create the roles the target lacks. Lines about roles that already exist are skipped:
    the target's own users (and their passwords) are never changed. Returns roles created."""
    keep, created = [], 0
    for line in path.read_text().splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] in ("CREATE", "ALTER") and words[1] == "ROLE":
            role = words[2].rstrip(";").strip('"')
            if role in existing:
                continue
            created += words[0] == "CREATE"
        keep.append(line)
    script = ("\n".join(keep) + "\n").encode()
    args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", settings.db_name, "-f", "-"]
    result = subprocess.run(
        [*tools.command("psql"), *args], env=pg_env(settings), input=script, capture_output=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql (globals) failed: {result.stderr.decode(errors='replace')}")
    return created

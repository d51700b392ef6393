"""The "old stack" for the aiwfe-data tests: PostgreSQL 15 and Redis 7 from Debian bookworm
(as the Docker Compose deployment ran them, ci/env/services/ start(old=True)), vectors in a
Qdrant collection. No Qdrant server can be built here (no registry, no Rust toolchain for its
build in reasonable time), so the collection lives in qdrant-client's local mode
(AIWFE_QDRANT_URL=path:...), which serves the same points API the tool uses.

`seed()` is deterministic: the real schema at Alembic revision 0001 (before pgvector) and
awkward data: JSONB, bytea, NULLs, unicode, TOASTed text, advanced sequences; Redis strings
with TTLs, hashes, lists, sets, sorted sets, streams (with a consumer group), in two databases.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis

from ci.env import services as services_env
from tests.services.support import script

NAMESPACE = "legacy"
# (text, tags, metadata): recalled after the move by the memory module.
MEMORIES = [
    ("The Zürich office moved to Hardstrasse 201 in March", ["office"], {"city": "Zürich"}),
    ("Backups of the finance ledger run every night at 02:00 UTC", ["ops"], {"team": "fin"}),
    ("The 日本 team prefers async standups on Thursdays", ["team"], {"lang": "ja"}),
    ("Ollama serves the nomic-embed-text model for embeddings", ["ml"], {"gpu": False}),
]
SEED = 20261130


def pg_tools_env(root: Path, major: int = services_env.PG_MAJOR) -> dict[str, str]:
    """aiwfe-data runs pg_dump/pg_restore/psql of `major` from the rootfs through chroot."""
    return {
        "AIWFE_DATA_PG_BINDIR": f"/usr/lib/postgresql/{major}/bin",
        "AIWFE_DATA_EXEC_PREFIX": f"{services_env.CHROOT} {root}",
    }


def install_env(
    base: dict[str, str],
    postgres: services_env.Postgres,
    redis_server: services_env.Redis,
    database: str,
    store: str,
    qdrant_dir: Path,
) -> dict[str, str]:
    """The AIWFE_* environment of one install (what its pods would get)."""
    return {
        **base,
        **postgres.env(),
        **redis_server.env(),
        "AIWFE_DB_NAME": database,
        "AIWFE_VECTOR_STORE": store,
        "AIWFE_QDRANT_URL": f"path:{qdrant_dir}",
        "AIWFE_QDRANT_COLLECTION": "aiwfe_memories",
        **pg_tools_env(services_env.rootfs_dir()),
    }


def run_data(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [script("aiwfe-data"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def alembic_upgrade(env: dict[str, str], revision: str) -> None:
    code = (
        "from alembic import command\n"
        "from aiwfe.migrate.__main__ import alembic_config\n"
        f"command.upgrade(alembic_config(), {revision!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def _toast_text(rng: random.Random) -> str:
    # 300 kB of poorly compressible text: stored out of line (TOAST), not inline.
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzÄÖÜß0123456789 ") for _ in range(300_000))


async def _seed_pg(dsn: dict[str, Any]) -> None:
    rng = random.Random(SEED)
    conn = await asyncpg.connect(**dsn)
    try:
        await conn.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
        owner = uuid.UUID(int=rng.getrandbits(128))
        await conn.execute(
            "INSERT INTO users (id, username, password_hash, is_admin) VALUES ($1, $2, $3, true)",
            owner,
            "olga-ünïcode",
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        )
        for i in range(40):
            run_id = uuid.UUID(int=rng.getrandbits(128))
            await conn.execute(
                "INSERT INTO workflow_runs (id, owner_id, name, status, steps, input, result, "
                "error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                "'2025-01-01T00:00:00Z'::timestamptz + $9 * interval '1 hour 7.25 seconds')",
                run_id,
                owner,
                f'run {i} — ✓ «quoted» "x"',
                "succeeded" if i % 3 else "failed",
                [{"type": "memory.recall", "params": {"q": "ü", "n": i, "f": 0.1 * i}}],
                {"nested": {"list": [1, None, True, 2.5e-8], "emoji": "🧠"}},
                None if i % 2 else {"ok": True},
                _toast_text(rng) if i == 7 else None,
                i,
            )
            await conn.execute(
                "INSERT INTO workflow_steps (run_id, idx, type, status, output) "
                "VALUES ($1, 0, 'memory.recall', 'succeeded', $2)",
                run_id,
                {"items": [], "score": 0.333333333333},
            )
            if i % 10 == 0:
                await conn.execute(
                    "INSERT INTO feedback (id, run_id, subject, outcome, rating, comment) "
                    "VALUES ($1, $2, 'quality', 'partial', NULL, $3)",
                    uuid.UUID(int=rng.getrandbits(128)),
                    run_id,
                    "Ñandú\ttab\nnewline",
                )
        # An advanced sequence: ids continue from here after the move.
        await conn.execute("SELECT setval('run_events_id_seq', 1000000)")
        first = await conn.fetchval("SELECT id FROM workflow_runs ORDER BY name LIMIT 1")
        for i in range(25):
            await conn.execute(
                "INSERT INTO run_events (run_id, type, data) VALUES ($1, 'progress', $2)",
                first,
                {"step": i, "pct": i / 24},
            )
        for text, tags, meta in MEMORIES:
            await conn.execute(
                "INSERT INTO memories (id, namespace, text, source_id, source_excerpt, tags, "
                "metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                memory_id(text),
                NAMESPACE,
                text,
                uuid.UUID(int=rng.getrandbits(128)),
                text[:20],
                tags,
                meta,
            )
        await conn.execute(
            "INSERT INTO config_overrides (component, key, value, updated_by) VALUES "
            "('flags', 'new_ui', 'null'::jsonb, 'admin'), ('worker', 'max_steps', '75', 'admin')"
        )
        await conn.execute("UPDATE config_state SET version = 42")
        await _seed_extras(conn, rng)
    finally:
        await conn.close()


async def _seed_extras(conn: asyncpg.Connection, rng: random.Random) -> None:
    # A table of the old deployment outside the app's schema: any table travels.
    await conn.execute(
        "CREATE TABLE compose_attachments (id bigserial PRIMARY KEY, blob bytea, "
        "ratio double precision, amount numeric(20, 6), seen timestamptz, note text)"
    )
    for i in range(30):
        await conn.execute(
            "INSERT INTO compose_attachments (blob, ratio, amount, seen, note) "
            "VALUES ($1, $2, $3, $4::text::timestamptz, $5)",
            bytes(rng.getrandbits(8) for _ in range(64)) + b"\x00\xff",
            None if i % 5 == 0 else rng.random() * 10 ** rng.randint(-30, 30),
            None if i % 4 == 0 else rng.randint(0, 10**12) / 7,
            None if i % 6 == 0 else "2024-02-29T23:59:59.123456+05:30",
            None if i % 2 else f"note {i} 🎉",
        )


def memory_id(text: str) -> uuid.UUID:
    from aiwfe.cognitive.modules.memory import fact_id

    return fact_id(NAMESPACE, text)


def _seed_redis(server: services_env.Redis) -> None:
    def client(db: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=server.port, password=server.password, db=db)

    r0, r3 = client(0), client(3)
    r0.set("session:ünï", "token-\x00-binary", ex=86_400)
    r0.set(b"\xff\xfe raw key", b"\x00\x01\x02")
    r0.set("counter", 41)
    r0.incr("counter")
    r0.hset("user:1", mapping={"name": "Olga", "city": "Zürich", "score": "3.5"})
    r0.rpush("queue:jobs", "a", "b", "c", "a")
    r0.sadd("tags", "ops", "ml", "team")
    r0.zadd("leaderboard", {"ann": 1.5, "bob": -2.25, "cy": 1e-9})
    r0.expire("leaderboard", 3_600)
    for i in range(5):
        r0.xadd("events", {"n": str(i), "kind": "ünï"}, id=f"1700000000000-{i}")
    r0.xgroup_create("events", "workers", id="1700000000000-2")
    r3.set("celery-task-meta-1", json.dumps({"status": "SUCCESS", "result": None}), px=7_200_000)
    r3.hset("cache:x", "k", "v")


def _seed_vectors(env: dict[str, str], qdrant_dir: Path) -> None:
    from qdrant_client import QdrantClient, models

    from aiwfe.core.providers.embeddings import HashingEmbedding

    dim = int(env["AIWFE_EMBEDDING_DIM"])
    embed = HashingEmbedding(dim)
    client = QdrantClient(path=str(qdrant_dir))
    try:
        name = env["AIWFE_QDRANT_COLLECTION"]
        client.create_collection(
            name, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
        )
        points = [
            models.PointStruct(
                id=str(memory_id(text)),
                vector=embed.vector(text),
                payload={"namespace": NAMESPACE, "tags": tags, "meta": meta, "text": text},
            )
            for text, tags, meta in MEMORIES
        ]
        client.upsert(name, points=points, wait=True)
    finally:
        client.close()


def seed(
    env: dict[str, str],
    postgres: services_env.Postgres,
    server: services_env.Redis,
    qdrant_dir: Path,
) -> None:
    alembic_upgrade(env, "0001")
    dsn = {
        "host": "127.0.0.1",
        "port": postgres.port,
        "user": postgres.user,
        "password": postgres.password,
        "database": env["AIWFE_DB_NAME"],
    }
    asyncio.run(_seed_pg(dsn))
    _seed_redis(server)
    _seed_vectors(env, qdrant_dir)


def recall(env: dict[str, str], query: str) -> list[dict[str, Any]]:
    """The memory module of the cognitive service, against the install `env` describes."""
    code = (
        "import asyncio, json\n"
        "from aiwfe.cognitive.modules.memory import MemoryModule, RecallRequest\n"
        "from aiwfe.cognitive.resources import Resources\n"
        "from aiwfe.core.settings import Settings\n"
        "async def main():\n"
        "    res = Resources(Settings())\n"
        "    try:\n"
        f"        out = await MemoryModule(res).recall(RecallRequest(query={query!r}, "
        f"namespace={NAMESPACE!r}, limit=2))\n"
        "        print(out.model_dump_json())\n"
        "    finally:\n"
        "        await res.close()\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])["items"]


# ---- fixtures (imported by tests/services/test_data_*.py) ----------------------------------


class Install:
    """One install: its AIWFE_* environment and the servers behind it."""

    def __init__(
        self,
        env: dict[str, str],
        postgres: services_env.Postgres,
        redis_server: services_env.Redis,
        qdrant_dir: Path,
    ) -> None:
        self.env = env
        self.postgres = postgres
        self.redis = redis_server
        self.qdrant_dir = qdrant_dir

    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async def go() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(
                host="127.0.0.1",
                port=self.postgres.port,
                user=self.postgres.user,
                password=self.postgres.password,
                database=self.env["AIWFE_DB_NAME"],
            )
            try:
                return await conn.fetch(query, *args)
            finally:
                await conn.close()

        return asyncio.run(go())

    def redis_keys(self) -> int:
        return sum(
            redis.Redis(
                host="127.0.0.1", port=self.redis.port, password=self.redis.password, db=db
            ).dbsize()
            for db in range(16)
        )


@pytest.fixture(scope="session")
def old_stack(base_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    services = services_env.start(old=True)
    try:
        qdrant_dir = tmp_path_factory.mktemp("old-qdrant")
        env = install_env(
            base_env, services.postgres, services.redis, "aiwfe", "qdrant", qdrant_dir
        )
        seed(env, services.postgres, services.redis, qdrant_dir)
        yield Install(env, services.postgres, services.redis, qdrant_dir)
    finally:
        services.stop()


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bundles")


@pytest.fixture(scope="session")
def old_bundle(old_stack: Install, bundle_dir: Path) -> dict[str, Any]:
    """The old stack exported once: {"id", "manifest", "folder"}."""
    result = run_data(old_stack.env, "--target", str(bundle_dir), "export", "--quiesced")
    assert result.returncode == 0, result.stderr
    bundle_id = json.loads(result.stdout)["bundle"]
    folder = bundle_dir / bundle_id
    return {
        "id": bundle_id,
        "folder": folder,
        "manifest": json.loads((folder / "manifest.json").read_text()),
    }


@pytest.fixture
def fresh_install(
    backing: services_env.ServicesEnv,
    base_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
):
    """Factory: an empty install on the chart's stack (PostgreSQL 17 database of its own on
    the harness server, a Redis 8 of its own, a Qdrant directory of its own)."""
    made: list[tuple[str, services_env.Redis]] = []
    admin = Install(base_env, backing.postgres, backing.redis, Path())

    def make(store: str = "qdrant") -> Install:
        name = f"aiwfe_data_{uuid.uuid4().hex[:8]}"
        admin.sql(f'CREATE DATABASE "{name}"')
        server = services_env.Redis(root=backing.postgres.root, port=services_env.free_port())
        made.append((name, server))
        server.start()
        env = install_env(
            base_env, backing.postgres, server, name, store, tmp_path_factory.mktemp("qdrant")
        )
        return Install(env, backing.postgres, server, Path(env["AIWFE_QDRANT_URL"][5:]))

    yield make
    for name, server in made:
        server.stop()
        admin.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

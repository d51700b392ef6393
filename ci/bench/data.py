"""Measure aiwfe-data: export and restore time and bundle size for a seeded install.

    .nox/services/bin/python -m ci.bench.data [--memories 100000] [--dim 384]

Starts the harness's PostgreSQL 17 + pgvector and Redis (ci/env/services/), migrates a
database to head, seeds N memories (a `memories` row and a `memory_vectors` row with a
DIM-dimensional vector each), then times `aiwfe-data export` and `aiwfe-data import` into a
fresh database and prints the per-step times the tool logs, the bundle size and the slowest
step. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ci import proc
from ci.env import services as services_env

BIN = Path(sys.executable).parent
# The HNSW graph of 100k x 384 needs ~200 MB; with the server default (64 MB) its build takes
# tens of minutes on two cores. Seed and restore both get this much.
WORK_MEM = "1GB"


def install_env(services: services_env.ServicesEnv, database: str, dim: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        **services.env(),
        "AIWFE_DB_NAME": database,
        "AIWFE_VECTOR_STORE": "pgvector",
        "AIWFE_EMBEDDING_DIM": str(dim),
        "AIWFE_DATA_PG_BINDIR": f"/usr/lib/postgresql/{services_env.PG_MAJOR}/bin",
        "AIWFE_DATA_EXEC_PREFIX": f"{services_env.CHROOT} {services.postgres.root}",
        "AIWFE_DATA_MAINTENANCE_WORK_MEM": WORK_MEM,
    }


async def seed(env: dict[str, str], count: int, dim: int) -> None:
    import asyncpg
    import numpy as np
    from pgvector.asyncpg import register_vector

    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=int(env["AIWFE_DB_PORT"]),
        user=env["AIWFE_DB_USER"],
        password=env["AIWFE_DB_PASSWORD"],
        database=env["AIWFE_DB_NAME"],
    )
    try:
        await register_vector(conn)
        rng = np.random.default_rng(7)
        await conn.execute("DROP INDEX ix_memory_vectors_embedding")  # rebuilt once below
        batch = min(10_000, count)
        for start in range(0, count, batch):
            ids = [uuid.UUID(int=int(x)) for x in rng.integers(0, 2**63, size=batch)]
            vecs = rng.normal(size=(batch, dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            texts = [f"memory {start + i}: the quick brown fox #{i}" for i in range(batch)]
            await conn.copy_records_to_table(
                "memories",
                columns=["id", "namespace", "text", "source_id", "tags", "metadata"],
                records=[(i, "bench", t, i, "[]", "{}") for i, t in zip(ids, texts, strict=True)],
            )
            await conn.copy_records_to_table(
                "memory_vectors",
                columns=["id", "namespace", "embedding", "payload"],
                records=[
                    (i, "bench", v, json.dumps({"namespace": "bench", "text": t}))
                    for i, v, t in zip(ids, vecs, texts, strict=True)
                ],
            )
        await conn.execute(f"SET maintenance_work_mem = '{WORK_MEM}'")
        await conn.execute(
            "CREATE INDEX ix_memory_vectors_embedding ON memory_vectors "
            "USING hnsw (embedding vector_cosine_ops)"
        )
    finally:
        await conn.close()


def data(env: dict[str, str], *args: str) -> tuple[float, str, str]:
    started = time.monotonic()
    result = proc.run(
        [str(BIN / "aiwfe-data"), *args],
        env=env,
        capture=True,
        check=False,
        quiet=True,
    )
    took = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"aiwfe-data {' '.join(args)} failed:\n{result.stderr}")
    return took, result.stdout, result.stderr


def steps(out: str, phase: str) -> list[tuple[str, float]]:
    return [(f"{phase}: {name}", secs) for name, secs in json.loads(out)["steps"].items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    services = services_env.start()
    try:
        with tempfile.TemporaryDirectory(prefix="aiwfe-data-bench-") as tmp:
            return bench(services, Path(tmp), args.memories, args.dim)
    finally:
        services.stop()


def bench(services: services_env.ServicesEnv, tmp: Path, count: int, dim: int) -> int:
    source = install_env(services, services.postgres.database, dim)
    migrate = proc.run(
        [str(BIN / "aiwfe-migrate")], env=source, capture=True, check=False, quiet=True, text=False
    )
    assert migrate.returncode == 0, migrate.stderr
    started = time.monotonic()
    asyncio.run(seed(source, count, dim))
    print(f"seeded {count} memories ({dim}-dim vectors) in {time.monotonic() - started:.1f}s")
    target_dir = tmp / "bundles"
    export_s, out, _ = data(source, "--target", str(target_dir), "export")
    bundle_id = json.loads(out)["bundle"]
    sizes = {
        str(p.relative_to(target_dir / bundle_id)): p.stat().st_size
        for p in (target_dir / bundle_id).rglob("*")
        if p.is_file()
    }
    timings = steps(out, "export")
    proc.run(
        [
            services_env.CHROOT,
            str(services.postgres.root),
            f"/usr/lib/postgresql/{services_env.PG_MAJOR}/bin/createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(services.postgres.port),
            "-U",
            services.postgres.user,
            "restored",
        ],
        env={"PGPASSWORD": services.postgres.password, "PATH": "/usr/bin:/bin"},
        quiet=True,
    )
    target = install_env(services, "restored", dim)
    services.redis.stop()  # a fresh, empty Redis for the target
    services.redis.start()
    import_s, out, _ = data(target, "--target", str(target_dir), "import", bundle_id)
    timings += steps(out, "import")
    print(f"\nexport: {export_s:.1f}s   import (restore + verify): {import_s:.1f}s")
    print(f"bundle: {sum(sizes.values()) / 2**20:.1f} MiB")
    for name, size in sorted(sizes.items()):
        print(f"  {name:<40} {size / 2**20:10.1f} MiB")
    for name, secs in timings:
        print(f"  {name:<50} {secs:8.2f}s")
    slowest = max(timings, key=lambda t: t[1])
    print(f"slowest step: {slowest[0]} ({slowest[1]:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

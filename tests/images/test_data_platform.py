"""aiwfe/data-platform: Postgres (with pgvector), PgBouncer and Redis start as roles of one
image, and a client reaches Postgres through PgBouncer; Qdrant runs or says why it cannot."""

from __future__ import annotations

import time

import pytest
from image_helpers import image_of, run

PASSWORD = "smoke-test-password"


def wait_until(check, timeout: float, what: str, logs=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    pytest.fail(f"{what} not ready within {timeout:.0f}s\n{logs()[-3000:]}")


@pytest.mark.slow
def test_postgres_pgbouncer_redis_roles_and_a_query_through_pgbouncer(docker, images, containers):
    tag = image_of(images, "data-platform").tag
    pgdata = containers.volume("pgdata")
    redis_data = containers.volume("redis")
    containers.start(
        "postgres", tag, "postgres",
        opts=("-v", f"{pgdata}:/var/lib/postgresql/data", "-e", "POSTGRES_USER=aiwfe",
              "-e", f"POSTGRES_PASSWORD={PASSWORD}", "-e", "POSTGRES_DB=aiwfe"),
    )  # fmt: skip
    containers.start(
        "pgbouncer", tag, "pgbouncer",
        opts=("-e", "DB_HOST=postgres", "-e", "DB_NAME=aiwfe", "-e", "DB_USER=aiwfe",
              "-e", f"DB_PASSWORD={PASSWORD}"),
    )  # fmt: skip
    containers.start(
        "redis",
        tag,
        "redis",
        opts=("-v", f"{redis_data}:/data", "-e", f"REDIS_PASSWORD={PASSWORD}"),
    )
    pg = f"{containers.prefix}-postgres"
    wait_until(
        lambda: run(docker, "exec", pg, "pg_isready").returncode == 0,
        120,
        "postgres",
        lambda: containers.logs("postgres"),
    )

    # Started the normal way, PID 1 is tini and postgres runs as 10001 under it.
    assert run(docker, "exec", pg, "cat", "/proc/1/comm").stdout.strip() == "tini"
    owner = run(docker, "exec", pg, "sh", "-c", "stat -c %u $PGDATA/PG_VERSION").stdout
    assert owner.strip() == "10001"

    # A separate client container, connecting over the network to PgBouncer's port.
    query = (
        "select extversion from pg_extension where extname = 'vector';"
        "select '[1,2,3]'::vector <-> '[1,2,5]'::vector;"
        "select current_user"
    )
    client = (
        "run", "--rm", "--network", containers.network, "-e", f"PGPASSWORD={PASSWORD}",
        "--entrypoint", "psql", tag, "-h", "pgbouncer", "-p", "6432", "-U", "aiwfe", "-d",
        "aiwfe", "-tA", "-v", "ON_ERROR_STOP=1",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        proc = run(docker, *client, "-c", query)
        if proc.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert proc.returncode == 0, proc.stderr + containers.logs("pgbouncer")[-2000:]
    version, distance, user = proc.stdout.split()
    assert version.count(".") == 2, version
    assert float(distance) == 2.0
    assert user == "aiwfe"

    # Wrong password: PgBouncer refuses (it authenticates, not just forwards).
    bad = list(client)
    bad[bad.index(f"PGPASSWORD={PASSWORD}")] = "PGPASSWORD=wrong"
    assert run(docker, *bad, "-c", "select 1").returncode != 0

    # PgBouncer's admin console reports the pool the query used.
    admin = list(client)
    admin[admin.index("-d") + 1] = "pgbouncer"
    pools = run(docker, *admin, "-c", "SHOW POOLS")
    assert pools.returncode == 0 and "aiwfe" in pools.stdout, pools.stderr

    rd = f"{containers.prefix}-redis"
    ping = ("exec", "-e", f"REDISCLI_AUTH={PASSWORD}", rd, "redis-cli", "ping")
    wait_until(lambda: run(docker, *ping).stdout.strip() == "PONG", 60, "redis")
    assert run(docker, "exec", rd, "redis-cli", "set", "k", "v").stdout.startswith("NOAUTH")
    conf = run(
        docker,
        "exec",
        "-e",
        f"REDISCLI_AUTH={PASSWORD}",
        rd,
        "redis-cli",
        "config",
        "get",
        "appendonly",
    )
    assert conf.stdout.split() == ["appendonly", "yes"]


def test_postgres_role_refuses_to_start_without_a_password(docker, images):
    tag = image_of(images, "data-platform").tag
    proc = run(docker, "run", "--rm", "--read-only", "--tmpfs", "/tmp", tag, "postgres")
    assert proc.returncode == 78
    assert "POSTGRES_PASSWORD must be set" in proc.stderr


def test_redis_role_requires_a_password(docker, images):
    tag = image_of(images, "data-platform").tag
    proc = run(docker, "run", "--rm", "--read-only", "--tmpfs", "/tmp", tag, "redis")
    assert proc.returncode == 78
    assert "REDIS_PASSWORD must be set" in proc.stderr


def test_qdrant_role_runs_or_says_why_it_is_absent(docker, images, containers):
    image = image_of(images, "data-platform")
    if "qdrant" in image.missing:
        proc = run(docker, "run", "--rm", image.tag, "qdrant")
        assert proc.returncode == 78
        assert "not available in this image" in proc.stderr
        assert "Qdrant is not part of this image" in proc.stderr
        listing = run(docker, "run", "--rm", "--entrypoint", "ls", image.tag, "/opt/qdrant")
        assert listing.stdout.split() == ["UNAVAILABLE"], "nothing may stand in for Qdrant"
        return
    storage = containers.volume("qdrant")
    containers.start("qdrant", image.tag, "qdrant", opts=("-v", f"{storage}:/qdrant/storage"))
    probe = (
        "exec 3<>/dev/tcp/qdrant/6333 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"
    )
    wait_until(
        lambda: " 200 " in run(docker, "run", "--rm", "--network", containers.network,
                               "--entrypoint", "bash", image.tag, "-c", probe).stdout,
        90, "qdrant", lambda: containers.logs("qdrant"),
    )  # fmt: skip

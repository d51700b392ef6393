"""aiwfe-migrate: upgrade, check (init containers), idempotent admin, the downgrade path."""

from __future__ import annotations

import uuid

from aiwfe.core.auth import verify_password
from tests.services.support import ADMIN_PASSWORD, Api, Stack, migrate


def test_upgrade_check_admin_and_downgrade(migrated: dict[str, str], db) -> None:
    name = f"aiwfe_mig_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE DATABASE "{name}"')
    db.execute("CREATE EXTENSION IF NOT EXISTS vector", database=name)
    env = {**migrated, "AIWFE_DB_NAME": name, "AIWFE_ADMIN_USERNAME": "root-admin"}
    try:
        empty = migrate(env, "check")
        assert empty.returncode == 1 and "not at head" in empty.stdout
        assert migrate(env).returncode == 0  # `upgrade` is the default
        assert migrate(env, "check").returncode == 0
        assert migrate(env, "current").stdout.strip().splitlines()[-1] == "0006"
        again = migrate(env, "upgrade")
        assert again.returncode == 0 and "admin user exists" in again.stdout
        admins = db.fetch("SELECT username, password_hash, role FROM users", database=name)
        assert len(admins) == 1 and admins[0]["username"] == "root-admin"
        assert admins[0]["role"] == "admin"
        assert verify_password(admins[0]["password_hash"], ADMIN_PASSWORD)
        dim = db.value(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'memory_vectors'::regclass "
            "AND attname = 'embedding'",
            database=name,
        )
        assert dim == 256  # AIWFE_EMBEDDING_DIM at migration time

        down = migrate(env, "downgrade", "0001")
        assert down.returncode == 0, down.stderr
        assert db.value("SELECT to_regclass('memory_vectors')", database=name) is None
        assert migrate(env, "check").returncode == 1
        assert migrate(env, "upgrade").returncode == 0
        assert migrate(env, "check").returncode == 0
    finally:
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_concurrent_migrators_agree(migrated: dict[str, str], db) -> None:
    """Two migration Jobs at once (a retried hook, two releases): one migrates, the other
    waits on the lock and finds the schema at head; exactly one admin."""
    import subprocess

    from tests.services.support import script

    name = f"aiwfe_mig_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE DATABASE "{name}"')
    db.execute("CREATE EXTENSION IF NOT EXISTS vector", database=name)
    env = {**migrated, "AIWFE_DB_NAME": name}
    try:
        procs = [
            subprocess.Popen(
                [script("aiwfe-migrate")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert migrate(env, "check").returncode == 0
        assert db.value("SELECT count(*) FROM users", database=name) == 1
    finally:
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_check_reports_unreachable_database(migrated: dict[str, str]) -> None:
    from ci.env.services import free_port

    result = migrate({**migrated, "AIWFE_DB_PORT": str(free_port())}, "check")
    assert result.returncode == 2 and "database unreachable" in result.stdout


def test_smoke_cli_against_the_stack(stack: Stack, migrated: dict[str, str]) -> None:
    import subprocess

    from tests.services.support import script

    ok = subprocess.run(
        [script("aiwfe-smoke"), "--url", stack.gateway, "--timeout", "60"],
        env=migrated,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert ok.returncode == 0, ok.stderr
    assert "succeeded" in ok.stdout
    bad = subprocess.run(
        [script("aiwfe-smoke"), "--url", stack.gateway],
        env={**migrated, "AIWFE_ADMIN_PASSWORD": "wrong", "AIWFE_ADMIN_USERNAME": "nobody"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "login as 'nobody' failed: 401" in bad.stderr
    down = subprocess.run(
        [script("aiwfe-smoke"), "--url", "http://127.0.0.1:9"],
        env=migrated,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 1 and "unreachable" in down.stderr


def test_me_reports_the_admin(api: Api) -> None:
    me = api.get("/api/v1/auth/me").json()
    assert me["username"] == "admin" and me["is_admin"] is True and me["role"] == "admin"

"""Users and tenants: memories, decisions, feedback and learning statistics belong to their
owner. Two users never see each other's data; an admin sees everyone's; migration 0003
gives rows written before it an owner."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from aiwfe.core.auth import hash_password
from tests.services.support import Api, Stack, migrate, wait_for_run

ALICE_DOC = "The alpha reactor sits in Oslo. Alpha maintenance happens on Mondays."
BOB_DOC = "The beta reactor sits in Lisbon. Beta maintenance happens on Fridays."


def make_user(db, prefix: str) -> tuple[str, str]:
    username = f"{prefix}-{uuid.uuid4().hex[:6]}"
    password = f" {prefix} pass with spaces "  # leading/trailing spaces are part of it
    db.execute(
        "INSERT INTO users (id, username, password_hash, role, is_active) "
        "VALUES ($1, $2, $3, 'member', true)",
        uuid.uuid4(),
        username,
        hash_password(password),
    )
    return username, password


def texts(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["text"] for item in response.json()["items"]}


@dataclass
class Tenants:
    ns: str
    alice: Api
    bob: Api
    alice_id: uuid.UUID
    query: dict


@pytest.fixture(scope="module")
def tenants(stack: Stack, db) -> Iterator[Tenants]:
    """Two users, each with their own facts in one shared namespace name."""
    ns = f"tenants-{uuid.uuid4().hex[:8]}"
    alice_name, alice_pw = make_user(db, "alice")
    bob_name, bob_pw = make_user(db, "bob")
    gateway = stack.gateway
    with Api(base_url=gateway, timeout=30) as alice, Api(base_url=gateway, timeout=30) as bob:
        alice.login(alice_name, alice_pw)
        bob.login(bob_name, bob_pw)
        for who, doc in ((alice, ALICE_DOC), (bob, BOB_DOC)):
            stored = who.post("/api/v1/memory/ingest", json={"text": doc, "namespace": ns})
            assert stored.status_code == 200 and stored.json()["stored"] == 2, stored.text
        alice_id = db.value("SELECT id FROM users WHERE username = $1", alice_name)
        query = {"query": "Where is the reactor?", "namespace": ns, "limit": 10}
        yield Tenants(ns, alice, bob, alice_id, query)


def test_memories_belong_to_their_owner(tenants: Tenants, api: Api, db) -> None:
    alice, bob, ns, query = tenants.alice, tenants.bob, tenants.ns, tenants.query
    # The same text from the other user is that user's own fact, not a duplicate.
    same = bob.post("/api/v1/memory/ingest", json={"text": ALICE_DOC, "namespace": ns})
    assert same.json()["stored"] == 2
    # A client naming another owner is ignored: the token decides.
    forged = bob.post("/api/v1/memory/search", json={**query, "owner": str(tenants.alice_id)})
    bob_sees = texts(bob.post("/api/v1/memory/search", json=query))
    assert texts(forged) == bob_sees
    alice_sees = texts(alice.post("/api/v1/memory/search", json=query))
    assert alice_sees == {
        "The alpha reactor sits in Oslo.",
        "Alpha maintenance happens on Mondays.",
    }
    assert "The beta reactor sits in Lisbon." in bob_sees
    everyone = texts(api.post("/api/v1/memory/search", json={**query, "limit": 20}))
    assert alice_sees | bob_sees <= everyone  # the admin sees all
    assert db.value("SELECT count(*) FROM memories WHERE namespace = $1", ns) == 6


def test_decisions_and_chat_use_only_own_memories(tenants: Tenants) -> None:
    decision = {
        "question": "Which reactor should we visit?",
        "options": [{"name": "alpha"}, {"name": "beta"}],
        "namespace": tenants.ns,
    }
    decided = tenants.alice.post("/api/v1/decisions", json=decision).json()
    evidence = [e for option in decided["ranking"] for e in option["evidence"]]
    assert evidence and all("Lisbon" not in e and "Friday" not in e for e in evidence)
    chat = tenants.alice.post(
        "/api/v1/chat", json={"message": "Where is the reactor?", "namespace": tenants.ns}
    )
    assert chat.status_code == 200 and chat.json()["memories"]
    assert all("Lisbon" not in m["text"] for m in chat.json()["memories"])


def recall_run(client: Api, name: str, params: dict) -> set[str]:
    run = client.post(
        "/api/v1/workflows",
        json={
            "name": name,
            "steps": [{"type": "recall", "params": params}],
            "input": {"query": "Where is the reactor?"},
        },
    ).json()
    final = wait_for_run(client, run["id"], timeout=60)
    assert final["status"] == "succeeded", final
    return {item["text"] for item in final["result"]["output"]["items"]}


def test_workflows_feedback_and_stats_belong_to_their_owner(tenants: Tenants, api: Api) -> None:
    alice, bob, ns = tenants.alice, tenants.bob, tenants.ns
    alice_sees = texts(alice.post("/api/v1/memory/search", json=tenants.query))
    bob_sees = texts(bob.post("/api/v1/memory/search", json=tenants.query))
    flow = f"secret-flow-{ns}"
    # A workflow step recalls its run owner's memories only, even when its params name
    # another owner.
    assert recall_run(alice, flow, {"namespace": ns, "limit": 10}) == alice_sees
    forged = {"namespace": ns, "limit": 10, "owner": str(tenants.alice_id)}
    assert recall_run(bob, f"forged-{ns}", forged) == bob_sees
    subject_a, subject_b = f"a-{ns}", f"b-{ns}"
    sent = alice.post("/api/v1/feedback", json={"subject": subject_a, "outcome": "success"})
    assert sent.status_code == 201
    sent = bob.post("/api/v1/feedback", json={"subject": subject_b, "outcome": "failure"})
    assert sent.status_code == 201

    def stats(client: Api) -> dict:
        response = client.get("/api/v1/learning/stats")
        assert response.status_code == 200, response.text
        return response.json()

    alice_stats, bob_stats, admin_stats = stats(alice), stats(bob), stats(api)
    subjects = lambda s: {x["subject"] for x in s["feedback"]["subjects"]}  # noqa: E731
    assert subjects(alice_stats) == {subject_a}
    assert subjects(bob_stats) == {subject_b}
    assert {subject_a, subject_b} <= subjects(admin_stats)
    assert flow in alice_stats["workflows"] and flow not in bob_stats["workflows"]
    assert flow in admin_stats["workflows"]
    assert bob_stats["steps"] == {"recall": {"succeeded": 1}}  # bob's one step, not alice's


def test_migration_gives_existing_rows_an_owner(migrated: dict[str, str], db) -> None:
    """Rows from before 0003: feedback on a run goes to the run's owner, the rest to the
    oldest admin; pgvector payloads get the owner too."""
    name = f"aiwfe_own_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE DATABASE "{name}"')
    db.execute("CREATE EXTENSION IF NOT EXISTS vector", database=name)
    env = {**migrated, "AIWFE_DB_NAME": name}
    try:
        to_0002 = subprocess.run(
            [
                sys.executable,
                "-c",
                "from alembic import command; from aiwfe.migrate.__main__ import alembic_config;"
                "command.upgrade(alembic_config(), '0002')",
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert to_0002.returncode == 0, to_0002.stderr
        admin, user, run, memory = (uuid.uuid4() for _ in range(4))
        for uid, username, is_admin in ((admin, "old-admin", True), (user, "old-user", False)):
            db.execute(
                "INSERT INTO users (id, username, password_hash, is_admin) "
                "VALUES ($1, $2, 'x', $3)",
                uid,
                username,
                is_admin,
                database=name,
            )
        db.execute(
            "INSERT INTO workflow_runs (id, owner_id, name, status, steps, input) "
            "VALUES ($1, $2, 'old', 'succeeded', '[]', '{}')",
            run,
            user,
            database=name,
        )
        db.execute(
            "INSERT INTO feedback (id, run_id, subject, outcome) VALUES "
            "(gen_random_uuid(), $1, 'on-run', 'success'), "
            "(gen_random_uuid(), NULL, 'loose', 'failure')",
            run,
            database=name,
        )
        db.execute(
            "INSERT INTO memories (id, text, source_id) VALUES ($1, 'old fact', $1)",
            memory,
            database=name,
        )
        vector = "[" + ",".join(["0.1"] * 256) + "]"
        db.execute(
            "INSERT INTO memory_vectors (id, namespace, embedding, payload) "
            "VALUES ($1, 'default', CAST($2 AS vector), '{}')",
            memory,
            vector,
            database=name,
        )
        upgraded = migrate(env, "upgrade")
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        owners = dict(db.fetch("SELECT subject, owner_id FROM feedback", database=name))
        assert owners == {"on-run": user, "loose": admin}
        assert db.value("SELECT owner_id FROM memories", database=name) == admin
        assert db.value("SELECT payload->>'owner' FROM memory_vectors", database=name) == str(admin)
        down = migrate(env, "downgrade", "0002")
        assert down.returncode == 0, down.stderr
        assert db.value("SELECT payload->>'owner' FROM memory_vectors", database=name) is None
    finally:
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

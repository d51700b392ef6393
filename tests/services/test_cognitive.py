"""Memory, reasoning and learning against real Postgres (+pgvector) and, for Qdrant,
qdrant-client's embedded local mode (no Qdrant server binary exists on these hosts)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from aiwfe.cognitive.base import CognitiveError
from aiwfe.cognitive.engine import Engine
from aiwfe.core.settings import Settings
from tests.services.support import Api

DOC = (
    "The billing service runs on Kubernetes in Frankfurt. "
    "Invoices are generated nightly at 02:00 UTC. "
    "The on-call engineer for billing is Priya Raman."
)


def settings_for(env: dict[str, str], **overrides: str) -> Settings:
    with mock.patch.dict(os.environ, {**env, **overrides}, clear=True):
        return Settings()


@pytest.fixture(params=["pgvector", "qdrant-embedded"])
def engine(request: pytest.FixtureRequest, migrated: dict[str, str]) -> Iterator[Engine]:
    extra = {"AIWFE_VECTOR_STORE": "pgvector"}
    if request.param == "qdrant-embedded":
        extra = {"AIWFE_VECTOR_STORE": "qdrant", "AIWFE_QDRANT_URL": ":memory:"}
    engine = Engine(settings_for(migrated, **extra))
    yield engine
    asyncio.run(engine.close())


def call(engine: Engine, module: str, op: str, payload: dict[str, Any]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        try:
            return await engine.transport.call(module, op, payload)
        finally:
            # one event loop per call: drop pooled connections bound to this loop
            await engine.resources.engine.dispose()

    return asyncio.run(go())


def test_two_phase_ingest_then_recall(engine: Engine, db) -> None:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    stored = call(
        engine,
        "memory",
        "ingest",
        {"text": DOC, "namespace": ns, "tags": ["ops"], "metadata": {"team": "billing"}},
    )
    assert stored["stored"] == 3 and len(stored["facts"]) == 3
    rows = db.fetch("SELECT text, tags, metadata FROM memories WHERE namespace = $1", ns)
    assert {r["text"] for r in rows} == {f["text"] for f in stored["facts"]}

    found = call(
        engine,
        "memory",
        "recall",
        {"query": "who is on call for billing?", "namespace": ns, "limit": 2},
    )
    assert found["items"][0]["text"] == "The on-call engineer for billing is Priya Raman."
    assert found["items"][0]["metadata"] == {"team": "billing"}
    assert found["items"][0]["score"] >= found["items"][1]["score"]

    # filters: another namespace, a tag and metadata that do not match
    assert (
        call(engine, "memory", "recall", {"query": "billing", "namespace": ns + "x"})["items"] == []
    )
    assert (
        call(engine, "memory", "recall", {"query": "billing", "namespace": ns, "tags": ["nope"]})[
            "items"
        ]
        == []
    )
    assert (
        call(
            engine,
            "memory",
            "recall",
            {"query": "billing", "namespace": ns, "where": {"team": "sales"}},
        )["items"]
        == []
    )
    assert (
        len(
            call(
                engine,
                "memory",
                "recall",
                {"query": "billing", "namespace": ns, "where": {"team": "billing"}},
            )["items"]
        )
        == 3
    )


def test_ingest_is_idempotent(engine: Engine, db) -> None:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    first = call(engine, "memory", "ingest", {"text": DOC, "namespace": ns})
    again = call(engine, "memory", "ingest", {"text": DOC, "namespace": ns})
    assert first["facts"] == again["facts"] and again["stored"] == 0
    assert db.value("SELECT count(*) FROM memories WHERE namespace = $1", ns) == 3


def test_bad_module_requests_are_4xx(engine: Engine) -> None:
    with pytest.raises(CognitiveError) as err:
        call(engine, "memory", "recall", {"query": "", "namespace": "ok"})
    assert err.value.status == 422
    with pytest.raises(CognitiveError) as err:
        call(engine, "memory", "forget", {})
    assert err.value.status == 404


# ---- through the gateway (consolidated stack, pgvector) -----------------------------------


def test_memory_via_gateway(api: Api) -> None:
    ns = f"gw-{uuid.uuid4().hex[:8]}"
    ingested = api.post("/api/v1/memory/ingest", json={"text": DOC, "namespace": ns})
    assert ingested.status_code == 200, ingested.text
    found = api.post(
        "/api/v1/memory/search",
        json={"query": "When are invoices generated?", "namespace": ns, "limit": 1},
    )
    assert found.status_code == 200
    assert found.json()["items"][0]["text"] == "Invoices are generated nightly at 02:00 UTC."


def test_decision_analysis_returns_scored_options(api: Api) -> None:
    ns = f"gw-{uuid.uuid4().hex[:8]}"
    api.post(
        "/api/v1/memory/ingest",
        json={
            "text": "Vendor Northwind missed two deadlines last year. "
            "Vendor Contoso shipped on time.",
            "namespace": ns,
        },
    )
    response = api.post(
        "/api/v1/decisions",
        json={
            "question": "Which vendor should we pick for the deadline-critical project?",
            "namespace": ns,
            "options": [
                {"name": "Northwind", "scores": {"price": 10, "reliability": 2}},
                {"name": "Contoso", "scores": {"price": 14, "reliability": 9}},
            ],
            "criteria": [{"name": "price", "goal": "min"}, {"name": "reliability", "weight": 2}],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["best"] == "Contoso"
    assert [o["name"] for o in body["ranking"]] == ["Contoso", "Northwind"]
    contoso = body["ranking"][0]
    assert contoso["score"] == pytest.approx(2 / 3, abs=1e-6)
    assert contoso["breakdown"] == {"price": 0.0, "reliability": pytest.approx(2 / 3, abs=1e-6)}
    assert any("Contoso shipped on time" in e for e in contoso["evidence"])
    assert body["memories_used"] == 2 and body["rationale"]


def test_feedback_changes_learning_statistics(api: Api) -> None:
    subject = f"subject-{uuid.uuid4().hex[:8]}"
    before = api.get("/api/v1/learning/stats", params={"subject": subject}).json()
    assert before["feedback"]["total"] == 0
    for outcome, rating in (("success", 5), ("failure", 2), ("success", 4)):
        created = api.post(
            "/api/v1/feedback",
            json={"subject": subject, "outcome": outcome, "rating": rating, "tags": ["t"]},
        )
        assert created.status_code == 201, created.text
    after = api.get("/api/v1/learning/stats", params={"subject": subject}).json()
    assert after["feedback"]["total"] == 3
    assert after["feedback"]["success_rate"] == pytest.approx(2 / 3, abs=1e-6)
    assert after["feedback"]["subjects"][0]["mean_rating"] == pytest.approx(11 / 3, abs=1e-6)


def test_chat_answers_from_memory(api: Api) -> None:
    ns = f"gw-{uuid.uuid4().hex[:8]}"
    api.post("/api/v1/memory/ingest", json={"text": DOC, "namespace": ns})
    response = api.post(
        "/api/v1/chat", json={"message": "Where does billing run?", "namespace": ns}
    )
    assert response.status_code == 200
    body = response.json()
    assert "Frankfurt" in body["answer"] and body["memories"]

"""The gateway's and config-manager's contracts that need no database: the API's paths, the
shared bearer-token check, the run-state rules (core/runs.py), and the gateway's independence
from the cognitive modules' code."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from aiwfe.config_manager.app import create_app as create_config_manager
from aiwfe.core import auth, runs
from aiwfe.core.models import RunEvent, RunStatus, WorkflowRun
from aiwfe.core.settings import Settings
from aiwfe.gateway.app import create_app as create_gateway

SECRET = "unit-test-secret-0123456789abcdef"


def settings() -> Settings:
    return Settings(jwt_secret=SECRET, llm_provider="local")


def token(*, admin: bool = False, ttl: int = 60) -> str:
    who = auth.Principal(uuid.uuid4(), "alice", admin)
    return auth.issue_token(who, SECRET, ttl, settings().jwt_issuer)


def expired_token() -> str:
    now = int(time.time())
    claims = {"sub": "alice", "uid": str(uuid.uuid4()), "iss": settings().jwt_issuer}
    claims |= {"iat": now - 120, "nbf": now - 120, "exp": now - 60}
    return jwt.encode(claims, SECRET, algorithm="HS256")


# ---- the API surface ---------------------------------------------------------------------

GATEWAY_OPERATIONS = {
    ("/api/health", "get"),
    ("/api/ready", "get"),
    ("/api/v1/auth/login", "post"),
    ("/api/v1/auth/me", "get"),
    ("/api/v1/workflows", "post"),
    ("/api/v1/workflows", "get"),
    ("/api/v1/workflows/{run_id}", "get"),
    ("/api/v1/workflows/{run_id}/cancel", "post"),
    ("/api/v1/workflows/{run_id}/events", "get"),
    ("/api/v1/memory/ingest", "post"),
    ("/api/v1/memory/search", "post"),
    ("/api/v1/chat", "post"),
    ("/api/v1/decisions", "post"),
    ("/api/v1/perception/analyze", "post"),
    ("/api/v1/feedback", "post"),
    ("/api/v1/learning/stats", "get"),
    ("/api/v1/flags", "get"),
    ("/api/v1/flags/{name}", "put"),
}


def test_gateway_documents_every_route_and_nothing_else() -> None:
    spec = create_gateway(settings()).openapi()
    operations = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert operations == GATEWAY_OPERATIONS
    # The request bodies the gateway forwards are the cognitive modules' own schemas.
    for name in ("IngestRequest", "RecallRequest", "ChatRequest", "DecideRequest"):
        assert name in spec["components"]["schemas"]
    # ?access_token= is accepted on the event stream but never advertised.
    events = spec["paths"]["/api/v1/workflows/{run_id}/events"]["get"]
    assert all(p["name"] != "access_token" for p in events.get("parameters", []))


def test_gateway_imports_no_cognitive_module_code() -> None:
    probe = (
        "import sys, aiwfe.gateway.app; "
        "print(sorted(m for m in sys.modules if m.startswith('aiwfe.cognitive.modules')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- one bearer check for both services --------------------------------------------------


@pytest.fixture(scope="module")
def gateway() -> TestClient:
    return TestClient(create_gateway(settings()))  # no lifespan: these routes need no backend


@pytest.fixture(scope="module")
def config_manager() -> TestClient:
    return TestClient(create_config_manager(settings()))


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "missing bearer token"),
        ("Basic YWxpY2U6c2VjcmV0", "missing bearer token"),
        ("Bearer not-a-jwt", "invalid token"),  # never the library's message
        ("expired", "token expired"),
    ],
)
def test_both_services_refuse_bad_tokens_alike(
    gateway: TestClient, config_manager: TestClient, header: str | None, detail: str
) -> None:
    if header == "expired":
        header = f"Bearer {expired_token()}"
    headers = {"Authorization": header} if header else {}
    answers = [
        gateway.get("/api/v1/auth/me", headers=headers),
        config_manager.put("/v1/flags/new_ui", json={"value": True}, headers=headers),
    ]
    for response in answers:
        assert response.status_code == 401, response.text
        assert response.json() == {"detail": detail}
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_valid_token_names_the_caller(gateway: TestClient) -> None:
    response = gateway.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 200
    assert response.json()["username"] == "alice" and response.json()["is_admin"] is False


def test_token_in_the_query_is_refused_outside_the_event_stream(gateway: TestClient) -> None:
    response = gateway.get(f"/api/v1/auth/me?access_token={token()}")
    assert response.status_code == 401 and response.json() == {"detail": "missing bearer token"}


def test_changing_configuration_needs_an_admin(config_manager: TestClient) -> None:
    headers = {"Authorization": f"Bearer {token(admin=False)}"}
    response = config_manager.put("/v1/flags/new_ui", json={"value": True}, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "changing configuration needs an admin token"}


def test_a_wrong_secret_is_a_forgery(gateway: TestClient) -> None:
    who = auth.Principal(uuid.uuid4(), "mallory", True)
    forged = auth.issue_token(who, "another-secret-0123456789abcdef!!", 60, settings().jwt_issuer)
    response = gateway.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "token signature is invalid"}


# ---- run state ---------------------------------------------------------------------------


def test_finished_runs_never_change_and_live_runs_can_end_every_way() -> None:
    for status in runs.TERMINAL:
        assert runs.TRANSITIONS[status] == frozenset()
        assert not runs.can_move(status.value, RunStatus.CANCELLED)
    for status in (RunStatus.QUEUED, RunStatus.RUNNING):
        for end in (RunStatus.FAILED, RunStatus.CANCELLED):
            assert runs.can_move(status.value, end)
    assert runs.sources(RunStatus.SUCCEEDED) == ("running",)  # only a started run succeeds
    assert runs.sources(RunStatus.FAILED) == ("queued", "running")
    assert runs.sources(RunStatus.QUEUED) == ()  # nothing goes back to the queue


def test_status_filter_and_check_constraint_name_the_same_statuses() -> None:
    pattern = re.compile(runs.STATUS_PATTERN)
    assert [s for s in RunStatus if pattern.match(s.value)] == list(RunStatus)
    assert not pattern.match("done") and not pattern.match("queued;drop")
    constraint = next(
        c for c in WorkflowRun.__table__.constraints if c.name == "ck_workflow_runs_status"
    )
    assert str(constraint.sqltext) == f"status IN {tuple(s.value for s in RunStatus)!r}"


def test_cancelling_records_the_event_and_finishes_the_run() -> None:
    session = AsyncSession()  # unbound: add() only stages objects, nothing is sent
    run = WorkflowRun(id=uuid.uuid4(), status="running", started_at=None)
    runs.apply(session, run, RunStatus.CANCELLED, "cancelled", by="alice")
    assert run.status == "cancelled" and run.finished_at is not None
    events = [o for o in session.new if isinstance(o, RunEvent)]
    assert [(e.run_id, e.type, e.data) for e in events] == [(run.id, "cancelled", {"by": "alice"})]


def test_a_finished_run_cannot_be_cancelled() -> None:
    session = AsyncSession()
    run = WorkflowRun(id=uuid.uuid4(), status="succeeded")
    with pytest.raises(runs.TransitionError, match="a succeeded run cannot become cancelled"):
        runs.apply(session, run, RunStatus.CANCELLED, "cancelled", by="alice")
    assert run.status == "succeeded" and not session.new


def test_starting_a_run_stamps_its_start_once() -> None:
    session = AsyncSession()
    run = WorkflowRun(id=uuid.uuid4(), status="queued", started_at=None)
    runs.apply(session, run, RunStatus.RUNNING, "started", attempt=1)
    first = run.started_at
    assert first is not None and run.finished_at is None
    runs.apply(session, run, RunStatus.RUNNING, "resumed", attempt=2)  # a redelivery
    assert run.started_at is first
    assert [e.type for e in session.new if isinstance(e, RunEvent)].count("resumed") == 1

"""The gateway's and config-manager's contracts that need no database: the API's paths, the
shared bearer-token check, the run-state rules (core/runs.py), and the gateway's independence
from the cognitive modules' code."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_key
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from aiwfe.cognitive.server import create_app as create_cognitive
from aiwfe.config_manager.app import create_app as create_config_manager
from aiwfe.core import auth, runs
from aiwfe.core.keyfiles import KeyFiles
from aiwfe.core.models import RunEvent, RunStatus, WorkflowRun
from aiwfe.core.settings import Settings
from aiwfe.gateway.app import create_app as create_gateway

# The token keys as the chart lays them out (removed with the interpreter).
_KEY_DIR = tempfile.TemporaryDirectory(prefix="aiwfe-unit-keys-")
KEYS = KeyFiles.create(_KEY_DIR.name)


def settings(component: str = "gateway", keys: KeyFiles = KEYS) -> Settings:
    """The settings `component` gets: its AIWFE_TOKEN_* and nothing else of the others'."""
    tokens = {name.removeprefix("AIWFE_").lower(): v for name, v in keys.env(component).items()}
    return Settings(llm_provider="local", **tokens)


def gateway_key() -> auth.SigningKey:
    return auth.SigningKey.from_file(KEYS.gateway_key)


def token(*, admin: bool = False, ttl: int = 60, key: auth.SigningKey | None = None) -> str:
    who = auth.Principal(uuid.uuid4(), "alice", admin)
    return auth.issue_token(who, key or gateway_key(), ttl, settings().jwt_issuer)


def expired_token() -> str:
    now = int(time.time())
    claims = {"typ": "user", "sub": "alice", "uid": str(uuid.uuid4()), "iss": "aiwfe"}
    claims |= {"iat": now - 120, "nbf": now - 120, "exp": now - 60}
    key = gateway_key()
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


# ---- the API surface ---------------------------------------------------------------------

GATEWAY_OPERATIONS = {
    ("/api/health", "get"),
    ("/api/ready", "get"),
    ("/api/v1/auth/login", "post"),
    ("/api/v1/auth/me", "get"),
    ("/api/v1/auth/password", "post"),
    ("/api/v1/users", "post"),
    ("/api/v1/users", "get"),
    ("/api/v1/users/{user_id}", "get"),
    ("/api/v1/users/{user_id}", "patch"),
    ("/api/v1/users/{user_id}/password", "post"),
    ("/api/v1/keys", "post"),
    ("/api/v1/keys", "get"),
    ("/api/v1/keys/{key_id}", "delete"),
    ("/api/v1/audit", "get"),
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
    return TestClient(create_config_manager(settings("config")))


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
    # The gateway then loads the user's current role from the database (services tier).
    caller = auth.decode_token(token(), gateway.app.state.token_keys, "aiwfe")
    assert caller.username == "alice" and caller.is_admin is False
    assert caller.role is auth.Role.MEMBER


def test_token_in_the_query_is_refused_outside_the_event_stream(gateway: TestClient) -> None:
    response = gateway.get(f"/api/v1/auth/me?access_token={token()}")
    assert response.status_code == 401 and response.json() == {"detail": "missing bearer token"}


def test_changing_configuration_needs_an_admin(config_manager: TestClient) -> None:
    headers = {"Authorization": f"Bearer {token(admin=False)}"}
    response = config_manager.put("/v1/flags/new_ui", json={"value": True}, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "changing configuration needs an admin token"}


def test_a_key_other_than_the_gateways_is_a_forgery(
    gateway: TestClient, config_manager: TestClient, cognitive: TestClient
) -> None:
    """Only the gateway's key signs user tokens: an admin token from any other Ed25519 key
    (here the worker's own, and a stranger's) is refused by every verifier."""
    worker = auth.SigningKey.from_file(KEYS.worker_key)
    for key in (worker, auth.SigningKey.generate()):
        headers = {"Authorization": f"Bearer {token(admin=True, key=key)}"}
        answers = [
            gateway.get("/api/v1/auth/me", headers=headers),
            config_manager.put("/v1/flags/new_ui", json={"value": True}, headers=headers),
            config_manager.get("/v1/flags", headers=headers),
            cognitive.post("/v1/perception/analyze", json={"text": "x"}, headers=headers),
        ]
        for response in answers:
            assert response.status_code == 401, response.text
            assert response.headers["WWW-Authenticate"] == "Bearer"
    # A stranger's key under the gateway key's id: the signature itself fails.
    stranger = auth.SigningKey(auth.SigningKey.generate().private_key, gateway_key().kid)
    headers = {"Authorization": f"Bearer {token(admin=True, key=stranger)}"}
    response = gateway.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "token signature is invalid"}


@pytest.fixture(scope="module")
def cognitive() -> TestClient:
    return TestClient(create_cognitive(settings("cognitive")))  # no lifespan: auth only


def test_cognitive_and_config_reads_need_a_token(
    cognitive: TestClient, config_manager: TestClient
) -> None:
    for response in (
        cognitive.post("/v1/perception/analyze", json={"text": "x"}),
        config_manager.get("/v1/config/gateway"),
        config_manager.get("/v1/flags"),
        config_manager.get("/v1/services"),
    ):
        assert response.status_code == 401, response.text
        assert response.json() == {"detail": "missing bearer token"}
    assert config_manager.get("/health").status_code == 200
    assert cognitive.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("create", "missing"),
    [
        ("gateway", "AIWFE_TOKEN_SIGNING_KEY_FILE"),
        ("cognitive", "AIWFE_TOKEN_PUBLIC_KEYS_DIR"),
        ("config", "AIWFE_TOKEN_PUBLIC_KEYS_DIR"),
    ],
)
def test_a_missing_key_setting_fails_at_start_naming_it(create: str, missing: str) -> None:
    factories = {
        "gateway": create_gateway,
        "cognitive": create_cognitive,
        "config": create_config_manager,
    }
    with pytest.raises(RuntimeError, match=missing):
        factories[create](Settings(llm_provider="local"))


def test_unusable_key_files_are_named(tmp_path: Path) -> None:
    rsa = tmp_path / "rsa.pem"
    rsa.write_bytes(
        rsa_key.generate_private_key(65537, 2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cases = {
        str(tmp_path / "absent.pem"): "cannot read key file",
        str(rsa): "an Ed25519 private key is required",
    }
    for path, message in cases.items():
        with pytest.raises(RuntimeError, match=f"AIWFE_TOKEN_SIGNING_KEY_FILE: {path}: {message}"):
            Settings(token_signing_key_file=path).signing_key()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError, match=r"AIWFE_TOKEN_PUBLIC_KEYS_DIR=.*: no \*\.pem file"):
        Settings(token_public_keys_dir=str(empty)).verifier_keys()
    # A private key dropped into the public directory is refused, not silently trusted.
    leaked = tmp_path / "public"
    leaked.mkdir()
    (leaked / "gateway.pem").write_text(gateway_key().private_pem())
    with pytest.raises(RuntimeError, match="a PRIVATE KEY block is not a public key"):
        Settings(token_public_keys_dir=str(leaked)).verifier_keys()


def test_rotation_overlap_then_retirement(tmp_path: Path) -> None:
    """Verifiers trust current + previous keys: a token of the previous key passes during the
    overlap and is refused once that key is removed from the set."""
    keys = KeyFiles.create(tmp_path)
    old_key = auth.SigningKey.from_file(keys.gateway_key)
    old_token = token(key=old_key)
    new_key = keys.rotate()
    assert new_key.kid != old_key.kid
    during = settings("config", keys).verifier_keys()
    assert auth.decode_token(old_token, during, "aiwfe").username == "alice"
    assert auth.decode_token(token(key=new_key), during, "aiwfe").username == "alice"
    # The gateway signs with the new key only (and still verifies the old one).
    gateway = TestClient(create_gateway(settings("gateway", keys)))
    assert gateway.app.state.signing_key.kid == new_key.kid
    assert auth.decode_token(old_token, gateway.app.state.token_keys, "aiwfe").username == "alice"
    keys.retire(old_key.kid)
    after = settings("config", keys).verifier_keys()
    with pytest.raises(auth.TokenError, match="unknown key"):
        auth.decode_token(old_token, after, "aiwfe")
    assert auth.decode_token(token(key=new_key), after, "aiwfe").username == "alice"


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

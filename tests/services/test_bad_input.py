"""Bad input gets a 4xx with a clear message, never a 500, and changes no data."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest

from aiwfe.core import auth
from aiwfe.core.keyfiles import KeyFiles
from tests.services.support import Api, Stack

TABLES = ("users", "workflow_runs", "workflow_steps", "memories", "feedback", "config_overrides")


@pytest.fixture
def unchanged(db) -> Iterator[None]:
    """Fails the test if any table's row count changes."""

    def counts() -> dict[str, int]:
        return {t: db.value(f"SELECT count(*) FROM {t}") for t in TABLES}  # noqa: S608

    before = counts()
    yield
    assert counts() == before


def detail(response: httpx.Response) -> str:
    return str(response.json()["detail"])


def test_malformed_json(api: Api, unchanged: None) -> None:
    response = api.post(
        "/api/v1/workflows",
        content=b'{"name": "x", "steps": [',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422 and "JSON" in detail(response)


def test_wrong_types_and_unknown_fields(api: Api, unchanged: None) -> None:
    cases = [
        {"name": 5, "steps": [{"type": "perceive"}]},
        {"name": "x", "steps": "perceive"},
        {"name": "x", "steps": [{"type": "format-disk"}]},
        {"name": "x", "steps": [{"type": "wait", "timeout_s": -1}]},
        {"name": "x", "steps": [], "input": {}},
        {"name": "x", "steps": [{"type": "perceive"}], "owner_id": str(uuid.uuid4())},
    ]
    for body in cases:
        response = api.post("/api/v1/workflows", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["msg"]
    bad = api.post("/api/v1/decisions", json={"question": "q", "options": [{"name": "a"}]})
    assert bad.status_code == 422 and "at least 2" in detail(bad)


def test_oversize_body(api: Api, unchanged: None) -> None:
    big = {"text": "x" * 2_000_000}
    response = api.post("/api/v1/memory/ingest", json=big)
    assert response.status_code == 413 and "larger than" in detail(response)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"text": "'
        for _ in range(30):
            yield b"y" * 65536
        yield b'"}'

    streamed = api.post(
        "/api/v1/memory/ingest", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_unknown_and_invalid_workflow_ids(api: Api, unchanged: None) -> None:
    missing = uuid.uuid4()
    for method, path in (
        ("GET", f"/api/v1/workflows/{missing}"),
        ("POST", f"/api/v1/workflows/{missing}/cancel"),
        ("GET", f"/api/v1/workflows/{missing}/events"),
    ):
        response = api.request(method, path)
        assert response.status_code == 404 and str(missing) in detail(response)
    invalid = api.get("/api/v1/workflows/not-a-uuid")
    assert invalid.status_code == 422 and "UUID" in detail(invalid)
    assert api.get("/api/v1/nothing-here").status_code == 404


def test_expired_forged_and_missing_tokens(stack: Stack, keys: KeyFiles, unchanged: None) -> None:
    now = int(time.time())
    gateway_key = auth.SigningKey.from_file(keys.gateway_key)
    claims = {
        "typ": "user",
        "sub": "admin",
        "uid": str(uuid.uuid4()),
        "adm": True,
        "iss": "aiwfe",
        "iat": now - 100,
        "exp": now - 10,
    }
    live = {**claims, "exp": now + 60}
    other = auth.SigningKey.generate()
    cases = {
        "token expired": jwt.encode(
            claims, gateway_key.private_key, algorithm="EdDSA", headers={"kid": gateway_key.kid}
        ),
        # Another key claiming the gateway key's id: the signature does not verify.
        "signature is invalid": jwt.encode(
            live, other.private_key, algorithm="EdDSA", headers={"kid": gateway_key.kid}
        ),
        "signed by an unknown key": jwt.encode(
            live, other.private_key, algorithm="EdDSA", headers={"kid": other.kid}
        ),
        # The old shared-secret kind of token is refused outright.
        "token has no key id": jwt.encode(live, "f" * 32, algorithm="HS256"),
        "invalid token": jwt.encode(
            live, key=None, algorithm="none", headers={"kid": gateway_key.kid}
        ),
    }
    with httpx.Client(base_url=stack.gateway) as client:
        for message, token in cases.items():
            response = client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401 and message in detail(response), message
        for path in ("/api/v1/workflows", "/api/v1/auth/me", "/api/v1/learning/stats"):
            response = client.get(path)
            assert response.status_code == 401 and "missing bearer token" in detail(response)
        assert (
            client.get("/api/v1/workflows", headers={"Authorization": "Bearer x.y.z"}).status_code
            == 401
        )


def test_sql_looking_strings(api: Api, stack: Stack, unchanged: None) -> None:
    injection = "admin' OR '1'='1'; DROP TABLE users; --"
    with httpx.Client(base_url=stack.gateway, headers={"X-Forwarded-For": "10.66.0.1"}) as client:
        login = client.post(
            "/api/v1/auth/login", json={"username": injection, "password": injection}
        )
        assert login.status_code == 401 and detail(login) == "invalid username or password"
    status = api.get("/api/v1/workflows", params={"status": "queued' OR 1=1 --"})
    assert status.status_code == 422
    namespace = api.post("/api/v1/memory/search", json={"query": "x", "namespace": "a'; DROP--"})
    assert namespace.status_code == 422
    # a quote in free text is just text: searched, nothing found, nothing changed
    text = api.post("/api/v1/memory/search", json={"query": injection, "namespace": "empty-ns"})
    assert text.status_code == 200 and text.json() == {"items": []}


def test_static_ui_with_spa_fallback(stack: Stack) -> None:
    with httpx.Client(base_url=stack.gateway) as client:
        root = client.get("/")
        assert root.status_code == 200 and "<title>AIWFE</title>" in root.text
        assert root.headers["cache-control"] == "no-cache"
        deep = client.get("/workflows/123/details")
        assert deep.status_code == 200 and deep.text == root.text
        traversal = client.get("/..%2F..%2Fetc%2Fpasswd")
        assert "root:" not in traversal.text
        assert client.get("/api/health").json() == {"status": "ok"}
        assert "x-request-id" in root.headers
        given = client.get("/api/health", headers={"X-Request-ID": "req-123"})
        assert given.headers["x-request-id"] == "req-123"
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and "aiwfe_http_requests_total" in metrics.text

"""The gateway's edge, as clients reach it through a real reverse proxy: forwarded headers
believed only from AIWFE_TRUSTED_PROXIES, login limits per client address and per username,
a bounded number of password hashes under a flood, docs off, metrics on their own port,
security headers, and errors that never echo internal URLs or library messages."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from aiwfe.core.auth import hash_password
from ci.env.services import free_port
from tests.services.support import Proc, Stack, script

LOGIN = "/api/v1/auth/login"


def from_address(address: str, base_url: str) -> httpx.Client:
    """A client whose connections leave from `address` (any 127.x.y.z is this host)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=30)


def vm_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


class Edge:
    def __init__(self, gateway: Proc, proxy: Proc, metrics_port: int) -> None:
        self.gateway = gateway
        self.proxy = proxy
        self.metrics_port = metrics_port

    def user(self, db, password: str = "right password") -> str:  # noqa: S107
        username = f"edge-{uuid.uuid4().hex[:8]}"
        db.execute(
            "INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3)",
            uuid.uuid4(),
            username,
            hash_password(password),
        )
        return username


@pytest.fixture(scope="module")
def edge(stack: Stack, workdir: Path) -> Iterator[Edge]:
    """A gateway behind the proxy with tight limits, and the proxy in front of it."""
    port, metrics_port, proxy_port = free_port(), free_port(), free_port()
    env = {
        **stack["gateway"].env,
        "AIWFE_PORT": str(port),
        "AIWFE_REDIS_DB": "3",  # its own rate-limit counters
        "AIWFE_TRUSTED_PROXIES": "127.0.0.1/32",
        "AIWFE_LOGIN_RATE_LIMIT": "5",
        "AIWFE_LOGIN_USER_RATE_LIMIT": "3",
        "AIWFE_LOGIN_HASH_CONCURRENCY": "1",
        "AIWFE_LOGIN_HASH_WAIT_SECONDS": "0",
        "AIWFE_METRICS_PORT": str(metrics_port),
        "AIWFE_API_DOCS": "false",
        # Nothing listens there: cognitive-services is down for this gateway.
        "AIWFE_COGNITIVE_URL": f"http://127.0.0.1:{free_port()}",
    }
    gateway = Proc("edge-gateway", [script("aiwfe-gateway")], env, workdir / "edge-gateway.log")
    gateway.port, gateway.health = port, "/api/health"
    proxy = Proc(
        "edge-proxy",
        [
            sys.executable,
            *("-m", "tests.services.forwarding_proxy", "--port", str(proxy_port)),
            *("--upstream", f"http://127.0.0.1:{port}", "--proto", "https"),
        ],
        stack["gateway"].env,
        workdir / "edge-proxy.log",
        proxy_port,
        "/healthz",
    )
    try:
        gateway.start()
        proxy.start()
        yield Edge(gateway, proxy, metrics_port)
    finally:
        proxy.stop()
        gateway.stop()


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post(LOGIN, json={"username": username, "password": password})


def test_login_limits_per_client_behind_a_reverse_proxy(edge: Edge, db) -> None:
    with from_address("127.0.0.2", edge.proxy.url) as flooder:
        codes = [login(flooder, f"nobody-{i}", "x").status_code for i in range(6)]
        assert codes == [401] * 5 + [429]
        limited = login(flooder, "nobody", "x")
        assert "too many login attempts" in limited.json()["detail"]
        assert int(limited.headers["Retry-After"]) > 0
        # A forged X-Forwarded-For is appended to by the proxy, never believed.
        forged = flooder.post(
            LOGIN, json={"username": "n", "password": "x"}, headers={"X-Forwarded-For": "10.9.9.9"}
        )
        assert forged.status_code == 429
    username = edge.user(db)
    with from_address("127.0.0.3", edge.proxy.url) as other:  # another client: not limited
        ok = login(other, username, "right password")
        assert ok.status_code == 200, ok.text
        assert ok.headers["Strict-Transport-Security"].startswith("max-age=")  # proxy said https
    # Straight to the gateway (not a trusted proxy): its X-Forwarded-For is ignored, so a
    # client cannot pick a fresh bucket per request.
    with from_address("127.0.0.4", edge.gateway.url) as direct:
        codes = [
            direct.post(
                LOGIN,
                json={"username": f"nobody-{i}", "password": "x"},
                headers={"X-Forwarded-For": f"10.0.0.{i}"},
            ).status_code
            for i in range(6)
        ]
        assert codes == [401] * 5 + [429]
        assert "Strict-Transport-Security" not in direct.get("/api/health").headers


def test_login_limits_per_username_across_addresses(edge: Edge, db) -> None:
    target, bystander = edge.user(db), edge.user(db)
    for i in range(3):  # failures from three addresses
        with from_address(f"127.0.1.{i + 1}", edge.proxy.url) as client:
            assert login(client, target, "guess").status_code == 401
    with from_address("127.0.1.9", edge.proxy.url) as fresh:
        locked = login(fresh, target, "right password")
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        assert login(fresh, bystander, "right password").status_code == 200


def test_a_login_flood_is_refused_not_queued(edge: Edge) -> None:
    """24 logins at once with one hash slot: some answer 503 + Retry-After, the gateway's
    peak memory grows by at most a few hashes (64 MiB each), and it keeps serving."""
    pid = edge.gateway.process.pid
    before = vm_peak_kib(pid)

    def attempt(i: int) -> httpx.Response:
        with from_address(f"127.0.2.{i + 1}", edge.gateway.url) as client:
            return login(client, f"flood-{i}", "x")

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(attempt, range(24)))
    codes = sorted({a.status_code for a in answers})
    assert set(codes) <= {401, 503}, codes
    busy = [a for a in answers if a.status_code == 503]
    assert busy, "no login was refused: the flood was queued"
    assert all(a.headers["Retry-After"] == "1" for a in busy)
    assert all("too many logins at once" in a.json()["detail"] for a in busy)
    grown_mib = (vm_peak_kib(pid) - before) / 1024
    assert grown_mib < 3 * 64, f"peak memory grew {grown_mib:.0f} MiB"
    assert edge.gateway.process.poll() is None
    assert httpx.get(edge.gateway.url + "/api/health").status_code == 200


def test_docs_off_metrics_apart_and_security_headers(edge: Edge) -> None:
    base = edge.gateway.url
    assert httpx.get(base + "/api/docs").status_code == 404
    assert httpx.get(base + "/api/openapi.json").status_code == 404
    assert "# HELP" not in httpx.get(base + "/metrics").text  # the UI, not the metrics
    metrics = httpx.get(f"http://127.0.0.1:{edge.metrics_port}/metrics")
    assert metrics.status_code == 200 and "aiwfe_http_requests" in metrics.text
    ui = httpx.get(base + "/")
    assert "frame-ancestors 'none'" in ui.headers["Content-Security-Policy"]
    assert "default-src 'self'" in ui.headers["Content-Security-Policy"]
    assert ui.headers["X-Frame-Options"] == "DENY"
    api = httpx.get(base + "/api/health")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in api.headers  # plain HTTP, no trusted proxy


def test_errors_name_no_internal_urls_or_library_messages(edge: Edge, db) -> None:
    base = edge.gateway.url
    bad = httpx.get(base + "/api/v1/auth/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401 and bad.json() == {"detail": "invalid token"}
    username = edge.user(db)
    with from_address("127.0.3.1", base) as client:
        token = login(client, username, "right password").json()["access_token"]
        down = client.post(
            "/api/v1/memory/search",
            json={"query": "anything"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert down.status_code == 503 and down.headers["Retry-After"]
    detail = down.json()["detail"]
    assert detail == "service unavailable: cognitive-services unreachable, retry shortly"
    # Readiness needs only the database: the pod stays ready, the detail says what is down.
    ready = httpx.get(base + "/api/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["cognitive"].startswith("unavailable")
    assert "127.0.0.1" not in ready.text

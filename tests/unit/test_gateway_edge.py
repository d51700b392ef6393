"""The gateway's edge pieces that need no database: Redis over TLS, the trusted-proxy
setting, the password-hash slots, the login limiter's local fallback, the security headers
and the owner field kept out of the public API."""

from __future__ import annotations

import asyncio
import ssl
import tempfile

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from pydantic import ValidationError

from aiwfe.core.keyfiles import KeyFiles
from aiwfe.core.redis import async_client, sync_client
from aiwfe.core.settings import Settings
from aiwfe.gateway.app import create_app
from aiwfe.gateway.limits import HashSlots, LoginLimiter, Saturated
from aiwfe.worker.celery_app import create_celery

_KEY_DIR = tempfile.TemporaryDirectory(prefix="aiwfe-edge-keys-")
GATEWAY_KEYS = {
    name.removeprefix("AIWFE_").lower(): value
    for name, value in KeyFiles.create(_KEY_DIR.name).env("gateway").items()
}


def test_rediss_verifies_the_server_certificate() -> None:
    settings = Settings(redis_tls=True, redis_ca_file="/etc/aiwfe/redis-ca.pem", redis_port=6380)
    assert settings.redis_url().startswith("rediss://")
    for client in (async_client(settings), sync_client(settings)):
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["ssl_cert_reqs"] == "required"
        assert kwargs["ssl_ca_certs"] == "/etc/aiwfe/redis-ca.pem"
        assert "SSL" in client.connection_pool.connection_class.__name__
    broker = create_celery(settings).conf.broker_use_ssl
    assert broker["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert broker["ssl_ca_certs"] == "/etc/aiwfe/redis-ca.pem"
    plain = Settings()
    assert plain.redis_url().startswith("redis://") and plain.redis_tls_options() == {}
    assert create_celery(plain).conf.broker_use_ssl is None


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, 127.0.0.1").trusted_proxy_list() == [
        "10.0.0.0/8",
        "127.0.0.1",
    ]
    assert Settings().trusted_proxy_list() == []  # nobody is trusted by default
    with pytest.raises(ValidationError, match="AIWFE_TRUSTED_PROXIES: 'ingress' is not"):
        Settings(trusted_proxies="10.0.0.0/8,ingress")


def test_hash_slots_refuse_beyond_the_bound() -> None:
    async def scenario() -> list[str]:
        slots = HashSlots(1, wait=0)
        seen = []
        async with slots.slot():
            with pytest.raises(Saturated):
                async with slots.slot():
                    pass
            seen.append("second refused while the first hashes")
        async with slots.slot():
            seen.append("free again")
        waiting = HashSlots(1, wait=0.05)
        async with waiting.slot():
            with pytest.raises(Saturated):
                async with waiting.slot():
                    pass
        return seen

    assert asyncio.run(scenario()) == ["second refused while the first hashes", "free again"]


def test_login_limiter_counts_locally_while_redis_is_down() -> None:
    async def scenario() -> list[int]:
        # A real client with nothing listening: every command fails to connect.
        down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
        limiter = LoginLimiter(down, window=60)
        counts = [(await limiter.count("ip:10.0.0.1"))[0] for _ in range(3)]
        counts.append((await limiter.count("ip:10.0.0.1", add=False))[0])
        counts.append((await limiter.count("ip:10.0.0.2"))[0])
        await down.aclose()
        return counts

    assert asyncio.run(scenario()) == [1, 2, 3, 3, 1]


def test_security_headers_and_docs_switch() -> None:
    # No lifespan (no `with`): these answers need no database.
    client = TestClient(create_app(Settings(**GATEWAY_KEYS, llm_provider="local")))
    health = client.get("/api/health")
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in health.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in health.headers
    assert client.get("/api/openapi.json").status_code == 200
    off = Settings(**GATEWAY_KEYS, llm_provider="local", api_docs=False)
    client = TestClient(create_app(off))
    assert client.get("/api/openapi.json").status_code == 404
    assert client.get("/api/docs").status_code == 404
    hsts = TestClient(create_app(off), base_url="https://aiwfe.example").get("/api/health")
    assert hsts.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_owner_is_not_part_of_the_public_api() -> None:
    spec = create_app(Settings(**GATEWAY_KEYS, llm_provider="local")).openapi()
    schemas = spec["components"]["schemas"]
    for name in ("IngestRequest", "RecallRequest", "DecideRequest", "ChatRequest"):
        assert "owner" not in schemas[name]["properties"], name

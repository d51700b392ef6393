"""Identity between components, against the real processes: only the gateway's key signs user
tokens, cognitive-services and config-manager refuse calls without a token, the worker's own
key speaks only for the worker, and a gateway key rotation keeps old tokens valid for the
overlap and refuses them once the old key is retired."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from aiwfe.core import auth
from aiwfe.core.keyfiles import KeyFiles
from ci.env.services import free_port
from tests.services.support import ADMIN_PASSWORD, Proc, Stack, script

ANALYZE = ("/v1/perception/analyze", {"text": "Ada Lovelace wrote the first program."})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_token_signed_by(key: auth.SigningKey) -> str:
    return auth.issue_token(auth.Principal(uuid.uuid4(), "admin", True), key, 300, "aiwfe")


def test_cognitive_refuses_calls_without_a_valid_token(stack: Stack, keys: KeyFiles) -> None:
    url = stack["cognitive"].url + ANALYZE[0]
    missing = httpx.post(url, json=ANALYZE[1])
    assert missing.status_code == 401 and missing.json() == {"detail": "missing bearer token"}
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    stranger = httpx.post(
        url, json=ANALYZE[1], headers=bearer(admin_token_signed_by(auth.SigningKey.generate()))
    )
    assert stranger.status_code == 401 and "unknown key" in stranger.json()["detail"]
    # The worker's service token is what task-processor sends: accepted.
    worker = auth.SigningKey.from_file(keys.worker_key)
    service = auth.issue_service_token("task-processor", worker, "aiwfe")
    ok = httpx.post(url, json=ANALYZE[1], headers=bearer(service))
    assert ok.status_code == 200, ok.text
    assert ok.json()["entities"], ok.json()
    # A user's token from the gateway is accepted too (the gateway's own calls carry its
    # service token; a user calling cognitive directly is still that user).
    user = admin_token_signed_by(auth.SigningKey.from_file(keys.gateway_key))
    assert httpx.post(url, json=ANALYZE[1], headers=bearer(user)).status_code == 200


def test_the_worker_key_cannot_act_as_a_user_or_another_service(
    stack: Stack, keys: KeyFiles
) -> None:
    """task-processor holds a private key, but not the gateway's: what it signs is good for
    its own service calls to cognitive and nothing else."""
    worker = auth.SigningKey.from_file(keys.worker_key)
    forged_admin = bearer(admin_token_signed_by(worker))
    as_gateway = bearer(auth.issue_service_token("api-gateway", worker, "aiwfe"))
    answers = {
        "gateway /me": httpx.get(stack.gateway + "/api/v1/auth/me", headers=forged_admin),
        "gateway workflows": httpx.get(stack.gateway + "/api/v1/workflows", headers=forged_admin),
        "config admin PUT": httpx.put(
            stack["config"].url + "/v1/flags/new_ui", json={"value": True}, headers=forged_admin
        ),
        "config read": httpx.get(stack["config"].url + "/v1/flags", headers=forged_admin),
        "cognitive as admin": httpx.post(
            stack["cognitive"].url + ANALYZE[0], json=ANALYZE[1], headers=forged_admin
        ),
        "cognitive as gateway": httpx.post(
            stack["cognitive"].url + ANALYZE[0], json=ANALYZE[1], headers=as_gateway
        ),
    }
    for what, response in answers.items():
        assert response.status_code == 401, (what, response.text)
    assert "unknown key" in answers["gateway /me"].json()["detail"]
    assert "cannot sign user tokens" in answers["cognitive as admin"].json()["detail"]
    assert (
        "only sign for service 'task-processor'" in answers["cognitive as gateway"].json()["detail"]
    )


def test_a_service_token_is_not_a_user(stack: Stack, keys: KeyFiles) -> None:
    gateway_key = auth.SigningKey.from_file(keys.gateway_key)
    service = bearer(auth.issue_service_token("api-gateway", gateway_key, "aiwfe"))
    me = httpx.get(stack.gateway + "/api/v1/auth/me", headers=service)
    assert me.status_code == 401 and me.json() == {"detail": "a service token cannot act as a user"}
    put = httpx.put(stack["config"].url + "/v1/flags/new_ui", json={"value": True}, headers=service)
    assert put.status_code == 401


# ---- rotation ----------------------------------------------------------------------------


class Pair:
    """A gateway and a config-manager of their own, on their own key directory."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.keys = KeyFiles.create(root / "keys")
        self.procs = {
            "gateway": Proc(
                "gateway",
                [script("aiwfe-gateway")],
                {**env, **self.keys.env("gateway"), "AIWFE_CONFIG_URL": ""},
                root / "rotation-gateway.log",
                free_port(),
                "/api/health",
            ),
            "config": Proc(
                "config",
                [script("aiwfe-config")],
                {**env, **self.keys.env("config")},
                root / "rotation-config.log",
                free_port(),
                "/health",
            ),
        }
        for proc in self.procs.values():
            proc.env["AIWFE_PORT"] = str(proc.port)

    def restart(self) -> None:
        """The rollout after a key change (the chart rolls the pods on its checksum)."""
        for proc in self.procs.values():
            proc.stop()
            proc.start()

    def login(self) -> str:
        response = httpx.post(
            self.procs["gateway"].url + "/api/v1/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def answers(self, token: str) -> tuple[int, int]:
        """(gateway, config-manager) status for a request that needs the token."""
        me = httpx.get(self.procs["gateway"].url + "/api/v1/auth/me", headers=bearer(token))
        flags = httpx.get(self.procs["config"].url + "/v1/flags", headers=bearer(token))
        return me.status_code, flags.status_code

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()


@pytest.fixture
def pair(migrated: dict[str, str], tmp_path: Path) -> Iterator[Pair]:
    pair = Pair({**migrated, "AIWFE_REDIS_DB": "3"}, tmp_path)
    try:
        for proc in pair.procs.values():
            proc.start()
        yield pair
    finally:
        pair.stop()


def test_rotation_keeps_old_tokens_during_the_overlap_and_refuses_them_after(pair: Pair) -> None:
    old_token = pair.login()
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    assert pair.answers(old_token) == (200, 200)

    # Rotate: the new public key joins every verifier's set, the gateway signs with the new key.
    new_key = pair.keys.rotate()
    pair.restart()
    new_token = pair.login()
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid != old_kid
    assert pair.answers(new_token) == (200, 200)
    assert pair.answers(old_token) == (200, 200), "the overlap must keep earlier tokens valid"

    # End of the overlap: the old public key is removed everywhere.
    pair.keys.retire(old_kid)
    pair.restart()
    assert pair.answers(old_token) == (401, 401)
    assert pair.answers(new_token) == (200, 200)

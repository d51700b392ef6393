"""Roles and API keys without a database: every gateway route declares one access rule (an
undeclared route stops the gateway from starting), roles order as documented, tokens carry
the role, and API keys are stored as digests that only the whole key matches."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from fastapi import APIRouter

from aiwfe.core import apikeys, auth
from aiwfe.core.auth import Role
from aiwfe.gateway import app as gateway_app
from aiwfe.gateway.deps import Viewer, route_rules
from tests.unit.test_services_gateway import gateway_key, settings


def test_every_route_has_one_rule_and_writes_need_a_member() -> None:
    rules = route_rules(gateway_app.create_app(settings()))
    names = {key: policy.name for key, policy in rules.items()}
    assert names[("POST", "/api/v1/auth/login")] == "public"
    assert names[("POST", "/api/v1/auth/password")] == "account"
    assert names[("PUT", "/api/v1/flags/{name}")] == "admin"
    # What a viewer may do: read runs, memories, decisions, stats, flags; its own keys.
    viewer = {key for key, name in names.items() if name == "viewer"}
    assert ("GET", "/api/v1/workflows") in viewer and ("POST", "/api/v1/decisions") in viewer
    for method, path in viewer:
        assert method == "GET" or path.endswith(("/search", "/decisions", "/keys", "{key_id}"))
    for key in (("POST", "/api/v1/workflows"), ("POST", "/api/v1/memory/ingest")):
        assert names[key] == "member"
    assert all(names[key] == "admin" for key in names if key[1].startswith("/api/v1/users"))


def test_a_route_without_a_rule_stops_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = APIRouter(prefix="/api/v1/extra")

    @extra.get("/open")
    async def forgot_the_rule() -> dict[str, str]:
        return {}

    @extra.get("/twice")
    async def two_rules(_: Viewer, __: Viewer) -> dict[str, str]:  # one rule, used twice: ok
        return {}

    class Group:
        router = extra

    monkeypatch.setattr(gateway_app, "ROUTERS", (Group, *gateway_app.ROUTERS))
    with pytest.raises(RuntimeError, match=r"route GET /api/v1/extra/open needs exactly one"):
        gateway_app.create_app(settings())


def test_roles_are_ordered_and_tokens_carry_them() -> None:
    assert Role.ADMIN.at_least(Role.MEMBER) and Role.MEMBER.at_least(Role.VIEWER)
    assert not Role.VIEWER.at_least(Role.MEMBER) and not Role.MEMBER.at_least(Role.ADMIN)
    key = gateway_key()
    viewer = auth.Principal(uuid.uuid4(), "vera", False, role=Role.VIEWER)
    decoded = auth.decode_token(auth.issue_token(viewer, key, 60, "aiwfe"), _keys(), "aiwfe")
    assert decoded.role is Role.VIEWER and decoded.is_admin is False
    # The role wins over a contradicting flag; a token from before roles maps its admin flag.
    assert auth.Principal(uuid.uuid4(), "x", True, role=Role.MEMBER).is_admin is False
    assert auth.Principal(uuid.uuid4(), "x", True).role is Role.ADMIN


def _keys() -> auth.KeySet:
    return settings("config").verifier_keys()


def test_api_keys_are_stored_as_digests_only_the_whole_key_matches() -> None:
    secret = apikeys.new_api_key()
    assert secret.text.startswith("aiwfe_") and apikeys.parse_api_key(secret.text) == secret.key_id
    assert secret.digest == hashlib.sha256(secret.text.encode()).hexdigest()
    assert secret.text not in secret.digest
    assert apikeys.api_key_matches(secret.text, secret.digest)
    tampered = secret.text[:-1] + ("A" if secret.text[-1] != "A" else "B")
    assert apikeys.parse_api_key(tampered) == secret.key_id  # same id, wrong secret
    assert not apikeys.api_key_matches(tampered, secret.digest)
    other = apikeys.new_api_key()
    assert other.key_id != secret.key_id and other.text != secret.text
    for bad in ("aiwfe_", "aiwfe_xyz_abc", secret.text + "x", "Bearer " + secret.text):
        assert apikeys.parse_api_key(bad) is None


def test_tokens_carry_the_session_version_that_a_password_change_bumps() -> None:
    who = auth.Principal(uuid.uuid4(), "ada", False, role=Role.MEMBER, session_version=3)
    token = auth.issue_token(who, gateway_key(), 60, "aiwfe")
    assert auth.decode_token(token, _keys(), "aiwfe").session_version == 3

"""API keys against the real gateway and Postgres: created once-visible and stored as a
digest, used as the bearer token or X-API-Key with the key's role (never above the user's
current one), last use recorded without a write per request, refused once expired,
revoked, or when the user is deactivated; each change audited."""

from __future__ import annotations

import hashlib
import uuid
from contextlib import closing

import httpx

from tests.services.support import Api, Stack
from tests.services.test_users import audit_actions, client, make_user

RUN = {"name": "by key", "steps": [{"type": "perceive"}], "input": {"text": "Ok."}}


def with_key(stack: Stack, key: str, *, header: bool = False) -> httpx.Client:
    headers = {"X-API-Key": key} if header else {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=stack.gateway, timeout=30, headers=headers)


def test_a_key_is_shown_once_stored_hashed_and_acts_as_its_user(stack: Stack, api: Api, db) -> None:
    user = make_user(api, "member")
    with closing(client(stack, user)) as own:
        created = own.post("/api/v1/keys", json={"name": "ci job", "expires_in_days": 7})
        assert created.status_code == 201, created.text
        key = created.json()
        assert key["role"] == "member" and key["key"].startswith("aiwfe_")
        listed = own.get("/api/v1/keys").json()
        assert [k["name"] for k in listed] == ["ci job"] and "key" not in listed[0]
        assert key["key"] not in own.get("/api/v1/keys").text
    row = db.fetch("SELECT * FROM api_keys WHERE id = $1", uuid.UUID(key["id"]))[0]
    assert row["digest"] == hashlib.sha256(key["key"].encode()).hexdigest()
    assert key["key"] not in str(dict(row)) and row["last_used_at"] is None
    # Both ways of sending it; it acts as the user, with the key's role.
    for header in (False, True):
        with with_key(stack, key["key"], header=header) as by_key:
            me = by_key.get("/api/v1/auth/me").json()
            assert me["username"] == user["username"] and me["api_key_id"] == key["id"]
            assert by_key.post("/api/v1/workflows", json=RUN).status_code == 201
    used = db.value("SELECT last_used_at FROM api_keys WHERE id = $1", uuid.UUID(key["id"]))
    assert used is not None
    # More requests within the minute do not write it again.
    with with_key(stack, key["key"]) as by_key:
        assert by_key.get("/api/v1/workflows").json()["total"] == 2
    again = db.value("SELECT last_used_at FROM api_keys WHERE id = $1", uuid.UUID(key["id"]))
    assert again == used
    with closing(client(stack, user)) as own:
        assert own.get("/api/v1/keys").json()[0]["last_used_at"] is not None


def test_a_key_role_is_never_above_the_user(stack: Stack, api: Api) -> None:
    user = make_user(api, "member")
    with closing(client(stack, user)) as own:
        above = own.post("/api/v1/keys", json={"name": "too much", "role": "admin"})
        assert above.status_code == 403
        assert above.json()["detail"] == "role admin is above your own (member)"
        viewer_key = own.post("/api/v1/keys", json={"name": "read only", "role": "viewer"})
        assert viewer_key.status_code == 201
        member_key = own.post("/api/v1/keys", json={"name": "writer"}).json()["key"]
    with with_key(stack, viewer_key.json()["key"]) as reader:
        assert reader.get("/api/v1/workflows").status_code == 200
        write = reader.post("/api/v1/workflows", json=RUN)
        assert write.status_code == 403 and "member role" in write.json()["detail"]
        # A key cannot mint keys (a copy that outlives it).
        mint = reader.post("/api/v1/keys", json={"name": "copy", "role": "viewer"})
        assert mint.status_code == 403 and "sign in with a password" in mint.json()["detail"]
    # The user demoted: their member key acts as a viewer from the next request on.
    assert api.patch(f"/api/v1/users/{user['id']}", json={"role": "viewer"}).status_code == 200
    with with_key(stack, member_key) as writer:
        assert writer.get("/api/v1/auth/me").json()["role"] == "viewer"
        assert writer.post("/api/v1/workflows", json=RUN).status_code == 403


def test_expired_revoked_forged_and_deactivated_keys_are_refused(
    stack: Stack, api: Api, db
) -> None:
    user = make_user(api, "member")
    other = make_user(api, "member")
    with closing(client(stack, user)) as own:
        keys = [own.post("/api/v1/keys", json={"name": f"k{i}"}).json() for i in range(3)]
    expiring, revoked, last = keys
    # Expired: its expiry moved into the past (the clock, without waiting a day).
    db.execute(
        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(expiring["id"]),
    )
    with closing(client(stack, other)) as stranger:
        theirs = stranger.delete(f"/api/v1/keys/{revoked['id']}")
        assert theirs.status_code == 404  # another user's key: not even its existence
    with closing(client(stack, user)) as own:
        assert own.delete(f"/api/v1/keys/{revoked['id']}").status_code == 204
        assert own.delete(f"/api/v1/keys/{revoked['id']}").status_code == 204  # harmless
        listed = {k["name"]: k for k in own.get("/api/v1/keys").json()}
        assert listed["k1"]["revoked_at"] is not None and listed["k2"]["revoked_at"] is None
    forged = last["key"][:-4] + ("AAAA" if not last["key"].endswith("AAAA") else "BBBB")
    cases = {
        expiring["key"]: "API key expired",
        revoked["key"]: "API key revoked",
        forged: "invalid API key",
        "aiwfe_not_a_key": "invalid API key: expected aiwfe_<id>_<secret>",
    }
    for key, detail in cases.items():
        with with_key(stack, key) as by_key:
            response = by_key.get("/api/v1/workflows")
            assert response.status_code == 401 and response.json()["detail"] == detail
            assert response.headers["WWW-Authenticate"] == "Bearer"
    with with_key(stack, last["key"], header=True) as by_key:
        assert by_key.get("/api/v1/workflows").status_code == 200
        assert (
            api.patch(f"/api/v1/users/{user['id']}", json={"is_active": False}).status_code == 200
        )
        off = by_key.get("/api/v1/workflows")
        assert off.status_code == 401 and "deactivated" in off.json()["detail"]
    # An admin may revoke anyone's key.
    assert api.delete(f"/api/v1/keys/{last['id']}").status_code == 204
    assert audit_actions(api, revoked["id"]) == ["key.create", "key.revoke"]
    assert audit_actions(api, last["id"]) == ["key.create", "key.revoke"]
    bad = api.post("/api/v1/keys", json={"name": "", "expires_in_days": 366})
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"name", "expires_in_days"}

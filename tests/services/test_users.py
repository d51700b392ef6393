"""Users and roles against the real gateway and Postgres: the role table (every API route x
every kind of caller -> the expected status, from the app's own route list), user
management by admins, password rules, the forced change after a reset, the last active
admin's protection (also when two changes race), and the audit log they leave."""

from __future__ import annotations

import threading
import uuid
from contextlib import closing
from typing import Any

import httpx
import pytest

from aiwfe.core.keyfiles import KeyFiles
from aiwfe.core.settings import Settings
from aiwfe.gateway.app import create_app
from aiwfe.gateway.deps import route_rules
from tests.services.support import Api, Stack

PASSWORD = "correct horse battery"


def make_user(
    api: Api, role: str, *, password: str = PASSWORD, must_change: bool = False, prefix: str = ""
) -> dict[str, Any]:
    """A user created through the API by the admin client `api`."""
    username = f"{prefix or role}-{uuid.uuid4().hex[:8]}"
    body = {
        "username": username,
        "password": password,
        "role": role,
        "must_change_password": must_change,
    }
    response = api.post("/api/v1/users", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "password": password}


def client(stack: Stack, user: dict[str, Any] | None = None) -> Api:
    """A client logged in as `user` (anonymous without one)."""
    api = Api(base_url=stack.gateway, timeout=30)
    return api.login(user["username"], user["password"]) if user else api


def audit_actions(api: Api, target: str) -> list[str]:
    page = api.get("/api/v1/audit", params={"limit": 200})
    assert page.status_code == 200, page.text
    return [e["action"] for e in reversed(page.json()["items"]) if e["target"] == target]


# ---- the role table ----------------------------------------------------------------------

# Every API route: (its rule, the status an allowed caller gets for the probe request below).
# The probe never changes anything: an invalid body (422), an unknown id (404), or a read.
# A route missing here fails test_role_table: give each new route its row.
ROUTES: dict[tuple[str, str], tuple[str, int]] = {
    ("GET", "/api/health"): ("public", 200),
    ("GET", "/api/ready"): ("public", 200),
    ("POST", "/api/v1/auth/login"): ("public", 422),
    ("GET", "/api/v1/auth/me"): ("account", 200),
    ("POST", "/api/v1/auth/password"): ("account", 422),
    ("POST", "/api/v1/users"): ("admin", 422),
    ("GET", "/api/v1/users"): ("admin", 200),
    ("GET", "/api/v1/users/{user_id}"): ("admin", 404),
    ("PATCH", "/api/v1/users/{user_id}"): ("admin", 422),
    ("POST", "/api/v1/users/{user_id}/password"): ("admin", 422),
    ("POST", "/api/v1/keys"): ("viewer", 422),
    ("GET", "/api/v1/keys"): ("viewer", 200),
    ("DELETE", "/api/v1/keys/{key_id}"): ("viewer", 404),
    ("GET", "/api/v1/audit"): ("admin", 200),
    ("POST", "/api/v1/workflows"): ("member", 422),
    ("GET", "/api/v1/workflows"): ("viewer", 200),
    ("GET", "/api/v1/workflows/{run_id}"): ("viewer", 404),
    ("POST", "/api/v1/workflows/{run_id}/cancel"): ("member", 404),
    ("GET", "/api/v1/workflows/{run_id}/events"): ("viewer", 404),
    ("POST", "/api/v1/memory/ingest"): ("member", 422),
    ("POST", "/api/v1/memory/search"): ("viewer", 422),
    ("POST", "/api/v1/chat"): ("member", 422),
    ("POST", "/api/v1/decisions"): ("viewer", 422),
    ("POST", "/api/v1/perception/analyze"): ("member", 422),
    ("POST", "/api/v1/feedback"): ("member", 422),
    ("GET", "/api/v1/learning/stats"): ("viewer", 200),
    ("GET", "/api/v1/flags"): ("viewer", 200),
    ("PUT", "/api/v1/flags/{name}"): ("admin", 422),
    ("GET", "/api/{rest:path}"): ("public", 404),
    ("POST", "/api/{rest:path}"): ("public", 404),
    ("PUT", "/api/{rest:path}"): ("public", 404),
    ("PATCH", "/api/{rest:path}"): ("public", 404),
    ("DELETE", "/api/{rest:path}"): ("public", 404),
    ("GET", "/{path:path}"): ("public", 200),  # the web UI (the packaged placeholder)
}
RANK = {"viewer": 0, "member": 1, "admin": 2}
PARAMS = {
    "{user_id}": str(uuid.uuid4()),
    "{key_id}": str(uuid.uuid4()),
    "{run_id}": str(uuid.uuid4()),
    "{name}": "role_table_flag",
    "{rest:path}": "no-such-route",
    "{path:path}": "no-such-page",
}


def expected(rule: str, allowed: int, caller: str) -> int:
    """The status `caller` gets from a route with `rule` (allowed: the probe's status)."""
    if rule == "public":
        return allowed
    if caller == "anonymous":
        return 401
    if caller == "must-change":  # a member after an admin's reset: only their account
        return allowed if rule == "account" else 403
    role = caller.removeprefix("admin's ").removesuffix(" key")  # an API key acts as its role
    if rule == "account":
        return allowed
    return allowed if RANK[role] >= RANK[rule] else 403


def gateway_routes(keys: KeyFiles) -> dict[tuple[str, str], str]:
    """(method, path) -> rule, from the gateway's own route list (as it starts)."""
    app = create_app(
        Settings(
            token_signing_key_file=str(keys.gateway_key),
            token_public_keys_dir=str(keys.public_dir),
        )
    )
    return {key: policy.name for key, policy in route_rules(app).items()}


def test_role_table(stack: Stack, api: Api, keys: KeyFiles) -> None:
    actual = gateway_routes(keys)
    missing = sorted(set(actual) - set(ROUTES))
    assert not missing, f"routes without a row in ROUTES (add their rule and probe): {missing}"
    assert not set(ROUTES) - set(actual), "ROUTES lists routes the gateway no longer has"
    assert {key: rule for key, (rule, _) in ROUTES.items()} == actual

    callers: dict[str, httpx.Client] = {"anonymous": client(stack)}
    for role in ("viewer", "member", "admin"):
        callers[role] = client(stack, make_user(api, role))
    callers["must-change"] = client(stack, make_user(api, "member", must_change=True))
    key = api.post("/api/v1/keys", json={"name": "role table", "role": "viewer"})
    assert key.status_code == 201, key.text
    callers["admin's viewer key"] = httpx.Client(
        base_url=stack.gateway, timeout=30, headers={"X-API-Key": key.json()["key"]}
    )
    assert api.get("/api/v1/flags").status_code == 200
    maintenance = {f["key"]: f["value"] for f in api.get("/api/v1/flags").json()["flags"]}
    assert not maintenance.get("maintenance"), "the table assumes maintenance mode is off"

    wrong: list[str] = []
    for (method, path), (rule, allowed) in sorted(ROUTES.items()):
        url = path
        for name, value in PARAMS.items():
            url = url.replace(name, value)
        for name, http in callers.items():
            body = {"json": []} if method in ("POST", "PUT", "PATCH") else {}
            status = http.request(method, url, **body).status_code
            want = expected(rule, allowed, name)
            if status != want:
                wrong.append(f"{method} {path} as {name}: {status}, expected {want}")
    for http in callers.values():
        http.close()
    assert not wrong, "\n".join(wrong)


# ---- user management ---------------------------------------------------------------------


def test_admins_create_list_change_role_deactivate_and_reactivate(stack: Stack, api: Api) -> None:
    user = make_user(api, "member")
    listed = api.get("/api/v1/users", params={"limit": 100}).json()
    assert user["username"] in {u["username"] for u in listed["items"]}
    assert listed["total"] >= 2 and "password_hash" not in str(listed)
    assert "$argon2" not in str(listed)

    with closing(client(stack, user)) as own:
        assert own.get("/api/v1/auth/me").json()["role"] == "member"
        run = {"name": "mine", "steps": [{"type": "perceive"}], "input": {"text": "Ok."}}
        assert own.post("/api/v1/workflows", json=run).status_code == 201
        # Demoted to viewer: the token from before is read-only from the next request on.
        demote = api.patch(f"/api/v1/users/{user['id']}", json={"role": "viewer"})
        assert demote.status_code == 200 and demote.json()["role"] == "viewer"
        refused = own.post("/api/v1/workflows", json=run)
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "this needs the member role or higher; the caller is a viewer"
        )
        assert own.get("/api/v1/workflows").json()["total"] == 1
        # Deactivated: the same token stops working at once, and so does the password.
        off = api.patch(f"/api/v1/users/{user['id']}", json={"is_active": False})
        assert off.status_code == 200 and off.json()["is_active"] is False
        gone = own.get("/api/v1/workflows")
        assert gone.status_code == 401 and "deactivated" in gone.json()["detail"]
    login = {"username": user["username"], "password": user["password"]}
    assert httpx.post(stack.gateway + "/api/v1/auth/login", json=login).status_code == 401
    on = api.patch(f"/api/v1/users/{user['id']}", json={"is_active": True, "role": "member"})
    assert on.status_code == 200 and on.json()["is_active"] is True
    with closing(client(stack, user)) as own:
        assert own.get("/api/v1/auth/me").json()["role"] == "member"
    assert audit_actions(api, user["username"]) == [
        "user.create",
        "user.role",
        "user.deactivate",
        "user.role",
        "user.reactivate",
    ]


def test_bad_user_input_is_refused_naming_the_problem(api: Api) -> None:
    user = make_user(api, "viewer")
    taken = api.post(
        "/api/v1/users", json={"username": user["username"].upper(), "password": PASSWORD}
    )
    assert taken.status_code == 409 and "is taken" in taken.json()["detail"]
    cases = {
        "short password": ({"username": "shorty", "password": "eleven char"}, "password"),
        "bad name": ({"username": "no spaces", "password": PASSWORD}, "username"),
        "unknown role": ({"username": "ok-name", "password": PASSWORD, "role": "root"}, "role"),
    }
    for what, (body, field) in cases.items():
        response = api.post("/api/v1/users", json=body)
        assert response.status_code == 422, what
        assert response.json()["detail"][0]["loc"][-1] == field, (what, response.text)
    assert "12 characters" in api.post("/api/v1/users", json=cases["short password"][0]).text
    empty = api.patch(f"/api/v1/users/{user['id']}", json={})
    assert empty.status_code == 422 and "give role and/or is_active" in empty.text
    unknown = api.patch(f"/api/v1/users/{uuid.uuid4()}", json={"role": "member"})
    assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]


def test_users_change_their_password_and_a_reset_forces_a_change(stack: Stack, api: Api) -> None:
    user = make_user(api, "member")
    new = "a brand new passphrase"
    with closing(client(stack, user)) as own:
        wrong = own.post(
            "/api/v1/auth/password", json={"old_password": "not it", "new_password": new}
        )
        assert wrong.status_code == 400 and "old_password" in wrong.json()["detail"]
        same = own.post(
            "/api/v1/auth/password",
            json={"old_password": user["password"], "new_password": user["password"]},
        )
        assert same.status_code == 422 and "must differ" in same.text
        short = own.post(
            "/api/v1/auth/password", json={"old_password": user["password"], "new_password": "x"}
        )
        assert short.status_code == 422
        ok = own.post(
            "/api/v1/auth/password", json={"old_password": user["password"], "new_password": new}
        )
        assert ok.status_code == 200, ok.text
        # The token from before the change is refused: other sessions end; the answer's works.
        ended = own.get("/api/v1/auth/me")
        assert ended.status_code == 401 and "sign in again" in ended.json()["detail"]
        own.headers["Authorization"] = f"Bearer {ok.json()['access_token']}"
        assert own.get("/api/v1/auth/me").status_code == 200
        before_reset = dict(own.headers)
    old_login = {"username": user["username"], "password": user["password"]}
    assert httpx.post(stack.gateway + "/api/v1/auth/login", json=old_login).status_code == 401

    temporary = "temporary passphrase 1"
    reset = api.post(f"/api/v1/users/{user['id']}/password", json={"new_password": temporary})
    assert reset.status_code == 204
    # The reset ends the user's sessions too.
    assert httpx.get(stack.gateway + "/api/v1/auth/me", headers=before_reset).status_code == 401
    login = httpx.post(
        stack.gateway + "/api/v1/auth/login",
        json={"username": user["username"], "password": temporary},
    )
    assert login.status_code == 200 and login.json()["password_change_required"] is True
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    with httpx.Client(base_url=stack.gateway, headers=headers, timeout=30) as own:
        blocked = own.get("/api/v1/workflows")
        assert blocked.status_code == 403
        assert blocked.json()["detail"].startswith("password change required")
        assert own.get("/api/v1/auth/me").status_code == 200
        changed = own.post(
            "/api/v1/auth/password", json={"old_password": temporary, "new_password": new + "!"}
        )
        assert changed.status_code == 200
        assert changed.json()["password_change_required"] is False
        own.headers["Authorization"] = f"Bearer {changed.json()['access_token']}"
        assert own.get("/api/v1/workflows").status_code == 200
    again = httpx.post(
        stack.gateway + "/api/v1/auth/login",
        json={"username": user["username"], "password": new + "!"},
    )
    assert again.json()["password_change_required"] is False
    assert audit_actions(api, user["username"]) == [
        "user.create",
        "user.password_change",
        "user.password_reset",
        "user.password_change",
    ]


def test_the_last_active_admin_stays_even_when_two_changes_race(stack: Stack, api: Api, db) -> None:
    """With two admins, demoting or deactivating both at once leaves exactly one: the
    second change waits for the first's row locks, then counts one admin and refuses."""
    first, second = make_user(api, "admin"), make_user(api, "admin")
    # Admins other tests created step aside (and stay so), the session's admin steps down
    # below: first and second are the only active admins.
    db.execute(
        "UPDATE users SET is_active = false WHERE role = 'admin' AND username <> ALL($1::text[])",
        ["admin", first["username"], second["username"]],
    )
    try:
        with closing(client(stack, first)) as a:
            me = api.get("/api/v1/auth/me").json()
            assert a.patch(f"/api/v1/users/{me['id']}", json={"role": "member"}).status_code == 200
            barrier = threading.Barrier(2)
            answers: dict[str, httpx.Response] = {}

            def change(target: dict[str, Any], body: dict[str, Any]) -> None:
                with closing(client(stack, first)) as own:
                    barrier.wait(timeout=30)
                    answers[target["username"]] = own.patch(
                        f"/api/v1/users/{target['id']}", json=body
                    )

            threads = [
                threading.Thread(target=change, args=(first, {"is_active": False})),
                threading.Thread(target=change, args=(second, {"role": "viewer"})),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            statuses = sorted(r.status_code for r in answers.values())
            # One wins; the other is refused: last admin (409), or, when the winner was
            # the caller's own deactivation, its token no longer works (401).
            assert statuses[0] == 200 and statuses[1] in (401, 409), statuses
            admins = db.value("SELECT count(*) FROM users WHERE role = 'admin' AND is_active")
            assert admins == 1
            survivor = first if answers[second["username"]].status_code == 200 else second
            with closing(client(stack, survivor)) as last:
                who = last.get("/api/v1/auth/me").json()
                for body in ({"role": "member"}, {"is_active": False}):
                    refused = last.patch(f"/api/v1/users/{who['id']}", json=body)
                    assert refused.status_code == 409, refused.text
                    assert refused.json()["detail"] == (
                        f"{who['username']} is the last active admin: make another user admin first"
                    )
                back = last.patch(f"/api/v1/users/{me['id']}", json={"role": "admin"})
                assert back.status_code == 200
    finally:
        db.execute("UPDATE users SET role = 'admin', is_active = true WHERE username = 'admin'")
        db.execute(
            "UPDATE users SET is_active = false WHERE username = ANY($1::text[])",
            [first["username"], second["username"]],
        )


def test_the_audit_log_pages_newest_first_and_filters(api: Api) -> None:
    users = [make_user(api, "viewer", prefix="audited") for _ in range(3)]
    page = api.get("/api/v1/audit", params={"limit": 2, "action": "user.create"}).json()
    assert page["limit"] == 2 and page["total"] >= 3 and len(page["items"]) == 2
    newest = [e["target"] for e in page["items"]]
    assert newest == [users[2]["username"], users[1]["username"]]
    entry = page["items"][0]
    assert entry["actor"] == "admin" and entry["details"] == {"role": "viewer"}
    assert entry["api_key_id"] is None and entry["at"]
    after = api.get(
        "/api/v1/audit", params={"limit": 2, "offset": 2, "action": "user.create"}
    ).json()
    assert after["items"][0]["target"] == users[0]["username"]
    assert api.get("/api/v1/audit", params={"action": "DROP TABLE"}).status_code == 422


@pytest.mark.parametrize("limit", [0, 201])
def test_audit_paging_bounds(api: Api, limit: int) -> None:
    assert api.get("/api/v1/audit", params={"limit": limit}).status_code == 422

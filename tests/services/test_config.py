"""config-manager: file + Postgres overrides, versions and ETags, long-poll watch, secrets."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from aiwfe.core import auth
from aiwfe.core.config_client import ConfigClient
from aiwfe.core.keyfiles import KeyFiles
from tests.services.support import Api, Stack


@pytest.fixture(scope="module")
def config_url(stack: Stack) -> str:
    return stack["config"].url


@pytest.fixture(scope="module")
def reader(keys: KeyFiles) -> Iterator[httpx.Client]:
    """A component reading config-manager: the gateway's service token."""
    key = auth.SigningKey.from_file(keys.gateway_key)
    token = auth.issue_service_token("api-gateway", key, "aiwfe")
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture(scope="module")
def admin_headers(api: Api) -> dict[str, str]:
    return {"Authorization": api.headers["Authorization"]}


def test_serves_file_config_without_secrets(config_url: str, reader: httpx.Client) -> None:
    response = reader.get(f"{config_url}/v1/config/gateway")
    assert response.status_code == 200
    body = response.json()
    assert body["config"]["page_size"] == 20
    assert "db_password" not in body["config"]  # present in the file, never served
    assert body["flags"]["fast_recall"] is True
    assert response.headers["ETag"] == body["etag"]
    again = reader.get(f"{config_url}/v1/config/gateway", headers={"If-None-Match": body["etag"]})
    assert again.status_code == 304


def test_reads_need_a_token_probes_do_not(config_url: str, reader: httpx.Client) -> None:
    for path in ("/v1/config/gateway", "/v1/flags", "/v1/services"):
        refused = httpx.get(config_url + path)
        assert refused.status_code == 401, path
        assert refused.json() == {"detail": "missing bearer token"}
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert reader.get(config_url + path).status_code == 200, path
    for probe in ("/health", "/ready", "/metrics"):
        assert httpx.get(config_url + probe).status_code == 200, probe


def test_service_discovery(config_url: str, reader: httpx.Client) -> None:
    services = reader.get(f"{config_url}/v1/services").json()["services"]
    assert services["gateway"]["url"] == "http://aiwfe-api-gateway:8080"


def test_changes_need_an_admin_token_and_refuse_secrets(
    config_url: str, admin_headers: dict[str, str], api: Api
) -> None:
    assert httpx.put(f"{config_url}/v1/flags/x", json={"value": True}).status_code == 401
    forged = {"Authorization": "Bearer " + "e30.e30.sig"}
    assert (
        httpx.put(f"{config_url}/v1/flags/x", json={"value": 1}, headers=forged).status_code == 401
    )
    refused = httpx.put(
        f"{config_url}/v1/config/gateway/api_token", json={"value": "s3cr3t"}, headers=admin_headers
    )
    assert refused.status_code == 400 and "secret" in refused.json()["detail"]
    bad_name = httpx.put(
        f"{config_url}/v1/config/Bad Name/k", json={"value": 1}, headers=admin_headers
    )
    assert bad_name.status_code == 422


def test_override_is_versioned_and_deletable(
    config_url: str, admin_headers: dict[str, str], reader: httpx.Client
) -> None:
    before = reader.get(f"{config_url}/v1/config/worker").json()
    put = httpx.put(
        f"{config_url}/v1/config/worker/max_steps", json={"value": 10}, headers=admin_headers
    )
    assert put.status_code == 200 and put.json()["version"] == before["version"] + 1
    now = reader.get(f"{config_url}/v1/config/worker").json()
    assert now["config"]["max_steps"] == 10 and now["etag"] != before["etag"]
    deleted = httpx.delete(f"{config_url}/v1/config/worker/max_steps", headers=admin_headers)
    assert deleted.status_code == 200
    assert reader.get(f"{config_url}/v1/config/worker").json()["config"]["max_steps"] == 50
    missing = httpx.delete(f"{config_url}/v1/config/worker/max_steps", headers=admin_headers)
    assert missing.status_code == 404


def test_watching_client_sees_flag_change(
    config_url: str, admin_headers: dict[str, str], reader: httpx.Client
) -> None:
    flag = f"flag_{uuid.uuid4().hex[:8]}"
    seen: list[object] = []
    errors: list[BaseException] = []
    watching = threading.Event()  # the client has its first snapshot and starts its long poll

    async def watch() -> None:
        token = reader.headers["Authorization"].removeprefix("Bearer ")
        client = ConfigClient(config_url, "gateway", auth=auth.BearerAuth(lambda: token))
        await client.refresh()
        assert client.flag(flag, "unset") == "unset"
        stop = asyncio.Event()
        watching.set()

        async def on_change(snapshot: dict) -> None:
            if flag in snapshot["flags"]:
                seen.append(snapshot["flags"][flag])
                stop.set()

        client.on_change(on_change)
        await asyncio.wait_for(client.watch(wait=20, stop=stop), timeout=30)
        assert client.flag(flag) is True
        await client.close()

    def run() -> None:
        try:
            asyncio.run(watch())
        except BaseException as err:  # reported below, not lost in the thread
            errors.append(err)
            watching.set()

    watcher = threading.Thread(target=run)
    watcher.start()
    assert watching.wait(30), "the watching client never got its first snapshot"
    started = time.monotonic()
    put = httpx.put(f"{config_url}/v1/flags/{flag}", json={"value": True}, headers=admin_headers)
    assert put.status_code == 200
    watcher.join(30)
    assert not watcher.is_alive() and errors == [], errors
    assert seen == [True]
    assert time.monotonic() - started < 5  # woken by the change, not by the poll timeout


def test_long_poll_times_out_with_304(config_url: str, reader: httpx.Client) -> None:
    etag = reader.get(f"{config_url}/v1/config/gateway").headers["ETag"]
    started = time.monotonic()
    response = reader.get(
        f"{config_url}/v1/config/gateway",
        params={"wait": 1},
        headers={"If-None-Match": etag},
    )
    assert response.status_code == 304 and time.monotonic() - started >= 0.9


def test_gateway_reacts_to_maintenance_flag(
    config_url: str, admin_headers: dict[str, str], api: Api
) -> None:
    body = {"name": "maint", "steps": [{"type": "perceive"}], "input": {"text": "x."}}

    def create_status() -> int:
        return api.post("/api/v1/workflows", json=body).status_code

    try:
        put = httpx.put(
            f"{config_url}/v1/flags/maintenance", json={"value": True}, headers=admin_headers
        )
        assert put.status_code == 200
        deadline = time.monotonic() + 10
        while create_status() != 503 and time.monotonic() < deadline:
            time.sleep(0.1)
        refused = api.post("/api/v1/workflows", json=body)
        assert refused.status_code == 503 and "maintenance" in refused.json()["detail"]
        assert api.get("/api/v1/workflows").status_code == 200  # reads still work
    finally:
        httpx.delete(f"{config_url}/v1/config/flags/maintenance", headers=admin_headers)
    deadline = time.monotonic() + 10
    while create_status() != 201 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert create_status() == 201


def test_mounted_file_change_is_picked_up(
    config_url: str, config_file, reader: httpx.Client
) -> None:
    """A ConfigMap update rewrites the mounted file: watchers see it without a restart."""
    import yaml

    original = config_file.read_text()
    etag = reader.get(f"{config_url}/v1/config/worker").headers["ETag"]
    try:
        data = yaml.safe_load(original)
        data["components"]["worker"]["max_steps"] = 7
        config_file.write_text(yaml.safe_dump(data))
        changed = reader.get(
            f"{config_url}/v1/config/worker",
            params={"wait": 10},
            headers={"If-None-Match": etag},
            timeout=15,
        )
        assert changed.status_code == 200 and changed.json()["config"]["max_steps"] == 7
        assert changed.headers["ETag"] != etag
    finally:
        config_file.write_text(original)
    assert reader.get(f"{config_url}/v1/config/worker").json()["config"]["max_steps"] == 50


def test_flags_through_the_gateway(api: Api, stack: Stack, db, config_url: str) -> None:
    """The web UI's flag page: list with sources, admins set flags, others may only read."""
    from aiwfe.core.auth import hash_password

    listed = api.get("/api/v1/flags")
    assert listed.status_code == 200
    flags = {f["key"]: f for f in listed.json()["flags"]}
    assert flags["fast_recall"] == {"key": "fast_recall", "value": True, "source": "file"}

    name = f"ui_flag_{uuid.uuid4().hex[:6]}"
    try:
        put = api.put(f"/api/v1/flags/{name}", json={"value": True})
        assert put.status_code == 200 and put.json()["value"] is True
        after = {f["key"]: f for f in api.get("/api/v1/flags").json()["flags"]}
        assert after[name] == {"key": name, "value": True, "source": "override"}
        refused = api.put("/api/v1/flags/api_token", json={"value": "x"})
        assert refused.status_code == 400 and "secret" in refused.json()["detail"]
        assert api.put(f"/api/v1/flags/{name}", json={"nope": 1}).status_code == 422

        username = f"viewer-{uuid.uuid4().hex[:6]}"
        db.execute(
            "INSERT INTO users (id, username, password_hash, role, is_active) "
            "VALUES ($1, $2, $3, 'member', true)",
            uuid.uuid4(),
            username,
            hash_password("viewer password"),
        )
        with Api(base_url=stack.gateway, timeout=30) as viewer:
            viewer.login(username, "viewer password")
            assert viewer.get("/api/v1/flags").status_code == 200
            forbidden = viewer.put(f"/api/v1/flags/{name}", json={"value": False})
            assert forbidden.status_code == 403 and "admin" in forbidden.json()["detail"]
            # and a viewer sees only their own runs
            assert viewer.get("/api/v1/workflows").json()["total"] == 0
    finally:
        headers = {"Authorization": api.headers["Authorization"]}
        httpx.delete(f"{config_url}/v1/config/flags/{name}", headers=headers)

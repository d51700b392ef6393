"""End to end: login, create a workflow, a real Celery worker process runs it through the
cognitive engine, SSE shows progress, the result is stored. Same suite in both modes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.services.support import Api, Stacks, api_for, wait_for_run

TEXT = (
    "Acme Corp signed a contract with Globex on 2026-03-14 worth $120,000. "
    "The Berlin office handles the rollout. Contact ops@acme.example for details."
)
STEPS = [
    {"type": "perceive", "params": {"chunk_size": 80, "overlap": 0}},
    {"type": "remember", "params": {"namespace": "wf-e2e", "tags": ["contracts"]}},
    {"type": "recall", "params": {"query": "Who handles the rollout?", "namespace": "wf-e2e"}},
    {
        "type": "decide",
        "params": {
            "question": "Which vendor should run the rollout?",
            "namespace": "wf-e2e",
            "options": [
                {"name": "Globex", "scores": {"cost": 120, "quality": 8}},
                {"name": "Initech", "scores": {"cost": 90, "quality": 5}},
            ],
            "criteria": [
                {"name": "cost", "weight": 1, "goal": "min"},
                {"name": "quality", "weight": 3},
            ],
        },
    },
]


@pytest.fixture(scope="module", params=["consolidated", "split"])
def mode_api(request: pytest.FixtureRequest, stacks: Stacks) -> Iterator[tuple[str, Api]]:
    stack = stacks.get(request.param)
    client = api_for(stack)
    yield request.param, client
    client.close()


def sse_events(api: Api, run_id: str) -> list[dict[str, Any]]:
    events = []
    current: dict[str, Any] = {}
    with api.stream("GET", f"/api/v1/workflows/{run_id}/events", timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if current.get("event"):
                    events.append(current)
                current = {}
                continue
            field, _, value = line.partition(":")
            current[field] = value.strip()
    return events


def test_workflow_runs_end_to_end(mode_api: tuple[str, Api], db) -> None:
    mode, api = mode_api
    created = api.post(
        "/api/v1/workflows", json={"name": f"e2e-{mode}", "steps": STEPS, "input": {"text": TEXT}}
    )
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["status"] == "queued"

    events = sse_events(api, run["id"])
    kinds = [e["event"] for e in events]
    assert kinds[0] == "queued" and kinds[1] == "started"
    assert kinds.count("step_started") == len(STEPS)
    assert kinds.count("step_completed") == len(STEPS)
    assert kinds[-1] == "completed"
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    assert json.loads(events[-1]["data"])["run_id"] == run["id"]

    detail = api.get(f"/api/v1/workflows/{run['id']}").json()
    assert detail["status"] == "succeeded"
    assert detail["current_step"] == len(STEPS)
    assert [s["status"] for s in detail["step_results"]] == ["succeeded"] * len(STEPS)
    perceived, remembered, recalled, decided = (s["output"] for s in detail["step_results"])
    assert len(perceived["chunks"]) >= 2  # 80-character chunks of a ~180-character text
    assert {"type": "email", "value": "ops@acme.example", "count": 1} in perceived["entities"]
    assert remembered["namespace"] == "wf-e2e" and len(remembered["facts"]) == 3
    assert "Berlin office handles the rollout" in recalled["items"][0]["text"]
    assert decided["best"] == "Globex"  # quality weighs 3x cost
    assert detail["result"]["output"]["best"] == "Globex"
    # stored in Postgres, not only reported
    stored = db.value("SELECT status FROM workflow_runs WHERE id = $1", uuid.UUID(run["id"]))
    assert stored == "succeeded"


def test_replay_after_last_event_id(mode_api: tuple[str, Api]) -> None:
    _, api = mode_api
    run = api.post(
        "/api/v1/workflows",
        json={
            "name": "replay",
            "steps": [{"type": "perceive"}],
            "input": {"text": "One short sentence here."},
        },
    )
    assert run.status_code == 201
    events = sse_events(api, run.json()["id"])
    later = api.get(
        f"/api/v1/workflows/{run.json()['id']}/events",
        headers={"Last-Event-ID": events[1]["id"]},
    )
    replayed = [line for line in later.text.splitlines() if line.startswith("event:")]
    assert len(replayed) == len(events) - 2


def test_list_paginates_and_filters(mode_api: tuple[str, Api]) -> None:
    _, api = mode_api
    names = [f"page-{i}" for i in range(3)]
    for name in names:
        assert (
            api.post(
                "/api/v1/workflows",
                json={
                    "name": name,
                    "steps": [{"type": "perceive"}],
                    "input": {"text": "Page test text."},
                },
            ).status_code
            == 201
        )
    first = api.get("/api/v1/workflows", params={"limit": 2, "offset": 0}).json()
    second = api.get("/api/v1/workflows", params={"limit": 2, "offset": 2}).json()
    assert first["limit"] == 2 and len(first["items"]) == 2 and first["total"] >= 3
    assert [r["name"] for r in first["items"]] == ["page-2", "page-1"]  # newest first
    assert second["items"][0]["name"] == "page-0"
    assert not {r["id"] for r in first["items"]} & {r["id"] for r in second["items"]}
    failed = api.get("/api/v1/workflows", params={"status": "failed"}).json()
    assert all(r["status"] == "failed" for r in failed["items"])


def test_cancel_stops_a_running_workflow(mode_api: tuple[str, Api]) -> None:
    _, api = mode_api
    run = api.post(
        "/api/v1/workflows",
        json={
            "name": "to-cancel",
            "steps": [{"type": "wait", "params": {"seconds": 1}}, {"type": "perceive"}],
            "input": {"text": "Never analysed."},
        },
    ).json()
    cancelled = api.post(f"/api/v1/workflows/{run['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    final = wait_for_run(api, run["id"])
    assert final["status"] == "cancelled"
    assert all(s["type"] != "perceive" for s in final["step_results"])
    again = api.post(f"/api/v1/workflows/{run['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_failing_step_fails_the_run_with_a_reason(mode_api: tuple[str, Api]) -> None:
    _, api = mode_api
    # `decide` needs at least two options: the module refuses, the run fails cleanly.
    run = api.post(
        "/api/v1/workflows",
        json={
            "name": "bad-step",
            "steps": [{"type": "decide", "params": {"question": "x?"}}],
        },
    ).json()
    final = wait_for_run(api, run["id"])
    assert final["status"] == "failed"
    assert "step 0 (decide)" in final["error"] and "options" in final["error"]


def test_sse_accepts_token_in_query_only_on_the_event_stream(mode_api: tuple[str, Api]) -> None:
    _, api = mode_api
    token = api.headers["Authorization"].removeprefix("Bearer ")
    run = api.post(
        "/api/v1/workflows",
        json={"name": "es", "steps": [{"type": "perceive"}], "input": {"text": "Browser."}},
    ).json()
    with httpx.Client(base_url=str(api.base_url)) as browser:
        stream = browser.get(
            f"/api/v1/workflows/{run['id']}/events", params={"access_token": token}, timeout=60
        )
        assert stream.status_code == 200 and "event: completed" in stream.text
        other = browser.get(f"/api/v1/workflows/{run['id']}", params={"access_token": token})
        assert other.status_code == 401

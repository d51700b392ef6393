"""Probe paths and metrics of every first-party process, per docs/contracts.md."""

from __future__ import annotations

import httpx

from tests.services.support import Api, Stack, wait_for_run, wait_until


def test_probes_answer_on_every_component(stack: Stack) -> None:
    probes = {
        "gateway": ("/api/health", "/api/ready"),
        "cognitive": ("/health", "/ready"),
        "config": ("/health", "/ready"),
        "worker": ("/health", "/ready"),
    }
    for name, paths in probes.items():
        for path in paths:
            response = httpx.get(stack[name].url + path, timeout=10)
            assert response.status_code == 200, (name, path, response.text)
        metrics = httpx.get(stack[name].url + "/metrics", timeout=10)
        assert metrics.status_code == 200 and "# TYPE" in metrics.text, name
    ready = httpx.get(stack.gateway + "/api/ready").json()
    assert ready["checks"] == {"database": "ok", "redis": "ok", "cognitive": "ok"}


def test_worker_metrics_count_runs_and_queue_depth(api: Api, stack: Stack) -> None:
    run = api.post(
        "/api/v1/workflows",
        json={"name": "metrics", "steps": [{"type": "perceive"}], "input": {"text": "Count me."}},
    ).json()
    assert wait_for_run(api, run["id"])["status"] == "succeeded"
    text = httpx.get(stack["worker"].url + "/metrics").text
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['aiwfe_worker_runs_total{outcome="succeeded"}'] >= 1
    assert samples['aiwfe_worker_steps_total{status="succeeded",type="perceive"}'] >= 1
    assert samples['aiwfe_worker_queue_depth{queue="aiwfe.workflows"}'] >= 0


def test_request_id_flows_from_gateway_through_worker_to_cognitive(api: Api, stack: Stack) -> None:
    import json
    import uuid

    request_id = f"wf-{uuid.uuid4().hex}"
    created = api.post(
        "/api/v1/workflows",
        json={"name": "traced", "steps": [{"type": "perceive"}], "input": {"text": "Traced."}},
        headers={"X-Request-ID": request_id},
    )
    assert wait_for_run(api, created.json()["id"])["status"] == "succeeded"

    def records(name: str) -> list[dict]:
        lines = stack[name].log.read_text().splitlines()
        parsed = [json.loads(line) for line in lines if line.startswith("{")]
        return [r for r in parsed if r.get("request_id") == request_id]

    worker = records("worker")
    assert any(r["message"] == "run started" for r in worker)
    assert all(r.get("run_id") == created.json()["id"] for r in worker)
    cognitive = wait_until(
        lambda: [r for r in records("cognitive") if r["message"] == "request"], 10, "access log"
    )
    assert [r["path"] for r in cognitive] == ["/v1/coordination/execute_step"]

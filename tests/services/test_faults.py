"""Faults: a worker killed mid-run, and PostgreSQL restarted under the gateway."""

from __future__ import annotations

import signal
import time
import uuid

import httpx

from tests.services.support import ADMIN_PASSWORD, Api, Stack, wait_for_run, wait_until


def test_worker_killed_mid_run_completes_exactly_once(api: Api, stack: Stack, db) -> None:
    ns = f"fault-{uuid.uuid4().hex[:8]}"
    steps = [
        {"type": "remember", "params": {"namespace": ns}},
        {"type": "wait", "params": {"seconds": 4}},
        {"type": "perceive"},
    ]
    text = "The primary database is in Dublin. Backups run every hour."
    run = api.post(
        "/api/v1/workflows", json={"name": "fault-kill", "steps": steps, "input": {"text": text}}
    ).json()
    run_id = uuid.UUID(run["id"])
    # Let the first step finish and the worker enter the 4-second wait step, then crash it.
    wait_until(
        lambda: db.value(
            "SELECT count(*) FROM workflow_steps WHERE run_id = $1 AND idx = 1", run_id
        ),
        30,
        "the wait step to start",
    )
    killed_at = time.monotonic()
    stack["worker"].kill()
    assert db.value("SELECT status FROM workflow_runs WHERE id = $1", run_id) == "running"
    # The broker redelivers an unacked message once it is older than the visibility timeout
    # (5 s here); a worker starting after that picks it up.
    time.sleep(max(0.0, 5.5 - (time.monotonic() - killed_at)))
    stack.restart_worker()

    final = wait_for_run(api, run["id"], timeout=90)
    assert final["status"] == "succeeded", final
    events = db.fetch("SELECT type, data FROM run_events WHERE run_id = $1 ORDER BY id", run_id)
    kinds = [e["type"] for e in events]
    assert kinds.count("completed") == 1
    assert kinds.count("started") == 1 and kinds.count("resumed") == 1
    assert kinds.count("step_completed") == len(steps)
    rows = db.fetch(
        "SELECT idx, status, executions FROM workflow_steps WHERE run_id = $1 ORDER BY idx",
        run_id,
    )
    assert [(r["idx"], r["status"]) for r in rows] == [(i, "succeeded") for i in range(3)]
    assert rows[0]["executions"] == 1  # finished before the crash: not run again
    assert rows[1]["executions"] == 2  # interrupted: run again by the new worker
    assert db.value("SELECT attempts FROM workflow_runs WHERE id = $1", run_id) == 2
    assert db.value("SELECT count(*) FROM memories WHERE namespace = $1", ns) == 2


def test_postgres_restart_gives_503_then_recovers(api: Api, stack: Stack, backing) -> None:
    assert api.get("/api/v1/workflows").status_code == 200
    backing.postgres.stop()
    try:
        listed = api.get("/api/v1/workflows")
        assert listed.status_code == 503, listed.text
        assert "database" in listed.json()["detail"]
        assert listed.headers["Retry-After"]
        created = api.post(
            "/api/v1/workflows", json={"name": "while-down", "steps": [{"type": "perceive"}]}
        )
        assert created.status_code == 503
        ready = httpx.get(f"{stack.gateway}/api/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unavailable")
        assert ready.json()["checks"]["redis"] == "ok"
        assert httpx.get(f"{stack.gateway}/api/health").status_code == 200  # liveness: no I/O
        cognitive = httpx.get(f"{stack['cognitive'].url}/ready")
        assert cognitive.status_code == 503
    finally:
        backing.postgres.start()
    wait_until(lambda: api.get("/api/v1/workflows").status_code == 200, 30, "recovery")
    assert httpx.get(f"{stack.gateway}/api/ready").status_code == 200
    # and the whole path works again, worker included
    run = api.post(
        "/api/v1/workflows",
        json={"name": "after-restart", "steps": [{"type": "perceive"}], "input": {"text": "Ok."}},
    ).json()
    assert wait_for_run(api, run["id"])["status"] == "succeeded"


def test_redis_restart_enqueue_fails_cleanly_then_recovers(
    api: Api, stack: Stack, backing, db
) -> None:
    before = db.value("SELECT count(*) FROM workflow_runs")
    backing.redis.stop()
    try:
        started = time.monotonic()
        created = api.post(
            "/api/v1/workflows",
            json={"name": "redis-down", "steps": [{"type": "perceive"}], "input": {"text": "x."}},
        )
        assert created.status_code == 503, created.text
        assert "queue unreachable" in created.json()["detail"]
        assert time.monotonic() - started < 15
        assert db.value("SELECT count(*) FROM workflow_runs") == before  # nothing half-made
        # The pod stays ready (it needs only Postgres); the detail names what is degraded.
        ready = httpx.get(f"{stack.gateway}/api/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"].startswith("unavailable")
        assert "redis" in ready.json()["detail"]
        login = f"{stack.gateway}/api/v1/auth/login"
        wrong = httpx.post(login, json={"username": "admin", "password": "x"}, timeout=30)
        assert wrong.status_code == 401, wrong.text
        right = httpx.post(
            login, json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30
        )
        assert right.status_code == 200 and right.json()["access_token"]
        # Reads that need only Postgres keep working.
        assert api.get("/api/v1/workflows").status_code == 200
    finally:
        backing.redis.start()
    wait_until(
        lambda: httpx.get(f"{stack.gateway}/api/ready").json()["status"] == "ready",
        30,
        "gateway ready with redis",
    )
    # the worker reconnects to the restarted broker and runs new work
    run = api.post(
        "/api/v1/workflows",
        json={"name": "after-redis", "steps": [{"type": "perceive"}], "input": {"text": "Ok."}},
    ).json()
    assert wait_for_run(api, run["id"], timeout=90)["status"] == "succeeded"


def test_request_id_reaches_cognitive_and_logs_are_json(api: Api, stack: Stack) -> None:
    import json

    request_id = f"trace-{uuid.uuid4().hex}"
    response = api.post(
        "/api/v1/perception/analyze",
        json={"text": "Request ids travel."},
        headers={"X-Request-ID": request_id},
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == request_id

    def logged(proc_name: str) -> list[dict]:
        lines = stack[proc_name].log.read_text().splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return [
            r for r in records if r.get("request_id") == request_id and r["message"] == "request"
        ]

    seen = wait_until(lambda: logged("cognitive"), 10, "the cognitive access log line")
    assert seen[0]["path"] == "/v1/perception/analyze" and seen[0]["component"] == "cognitive"
    # the access line is written after the response went out: wait for it too
    gateway = wait_until(lambda: logged("gateway"), 10, "the gateway access log line")
    assert gateway[0]["path"] == "/api/v1/perception/analyze"


def test_sigterm_shuts_down_gracefully(stack: Stack) -> None:
    from ci.env.services import free_port
    from tests.services.support import Proc, script

    # uvicorn re-raises SIGTERM after its orderly shutdown (exit -15); celery exits 0.
    procs = []
    for name, argv, health, done in (
        ("gateway-term", [script("aiwfe-gateway")], "/api/health", "Application shutdown complete"),
        ("worker-term", [script("aiwfe-worker")], "/health", "Warm shutdown"),
    ):
        port = free_port()
        keys = stack.keys.env(name.split("-")[0])
        env = {**stack.env, **stack.cognitive_env, **keys, "AIWFE_PORT": str(port)}
        proc = Proc(name, argv, env, stack.logdir / f"{name}.log", port, health)
        procs.append((proc.start(wait=False), done))
    for proc, _ in procs:
        proc.wait_healthy(120)
    for proc, done in procs:
        assert proc.process is not None
        proc.process.terminate()
        assert proc.process.wait(30) in (0, -signal.SIGTERM), proc.tail()
        assert done in proc.log.read_text(), proc.tail()


def test_duplicate_delivery_runs_once(api: Api, stack: Stack, db) -> None:
    """At-least-once delivery: the same run delivered twice at the same time executes once."""
    import os
    from unittest import mock

    import redis

    from aiwfe.core.settings import Settings
    from aiwfe.worker.celery_app import QUEUE, RUN_TASK, create_celery

    run = api.post(
        "/api/v1/workflows",
        json={
            "name": "duplicate",
            "steps": [{"type": "wait", "params": {"seconds": 1}}, {"type": "perceive"}],
            "input": {"text": "Exactly once."},
        },
    ).json()
    with mock.patch.dict(os.environ, stack.env, clear=True):
        settings = Settings()
    celery = create_celery(settings)
    celery.send_task(RUN_TASK, args=[run["id"]])  # a second message for the same run
    final = wait_for_run(api, run["id"])
    assert final["status"] == "succeeded"
    run_id = uuid.UUID(run["id"])
    # Both deliveries are done once the queue is empty and nothing is left unacked (the
    # Redis transport keeps a delivered message in its `unacked` hash until the task acks).
    broker = redis.Redis.from_url(settings.redis_url())
    try:
        wait_until(
            lambda: broker.llen(QUEUE) == 0 and broker.hlen("unacked") == 0,
            60,
            "both deliveries of the run to be acked",
        )
    finally:
        broker.close()
    kinds = [r["type"] for r in db.fetch("SELECT type FROM run_events WHERE run_id = $1", run_id)]
    assert kinds.count("completed") == 1 and kinds.count("resumed") == 0
    executions = db.fetch("SELECT executions FROM workflow_steps WHERE run_id = $1", run_id)
    assert [r["executions"] for r in executions] == [1, 1]
    assert db.value("SELECT attempts FROM workflow_runs WHERE id = $1", run_id) == 1


def test_lost_lease_stops_the_worker_until_it_owns_the_run_again(
    api: Api, stack: Stack, db
) -> None:
    """Fencing: a worker whose run lease vanished (a long GC pause, a Redis failover) does not
    start another step; the run is picked up again under a fresh lease, nothing runs twice."""
    import redis

    run = api.post(
        "/api/v1/workflows",
        json={
            "name": "fenced",
            "steps": [{"type": "wait", "params": {"seconds": 2}}, {"type": "perceive"}],
            "input": {"text": "Fenced."},
        },
    ).json()
    run_id = uuid.UUID(run["id"])
    wait_until(
        lambda: db.value("SELECT count(*) FROM workflow_steps WHERE run_id = $1", run_id),
        30,
        "the first step to start",
    )
    env = stack.env
    client = redis.Redis(
        host=env["AIWFE_REDIS_HOST"],
        port=int(env["AIWFE_REDIS_PORT"]),
        password=env["AIWFE_REDIS_PASSWORD"],
        db=int(env["AIWFE_REDIS_DB"]),
    )
    assert client.delete(f"aiwfe:lease:run:{run_id}") == 1
    final = wait_for_run(api, run["id"], timeout=60)
    assert final["status"] == "succeeded"
    kinds = [r["type"] for r in db.fetch("SELECT type FROM run_events WHERE run_id = $1", run_id)]
    assert kinds.count("resumed") == 1 and kinds.count("completed") == 1
    rows = db.fetch("SELECT executions FROM workflow_steps WHERE run_id = $1 ORDER BY idx", run_id)
    assert [r["executions"] for r in rows] == [1, 1]


def test_cognitive_outage_is_retried_with_backoff(api: Api, stack: Stack, db) -> None:
    """cognitive-services down when a step starts: the worker retries the run with backoff
    (the run stays `running`), and finishes it once the engine is back."""
    stack["cognitive"].stop()
    try:
        run = api.post(
            "/api/v1/workflows",
            json={"name": "outage", "steps": [{"type": "perceive"}], "input": {"text": "Back."}},
        ).json()
        run_id = uuid.UUID(run["id"])
        wait_until(
            lambda: db.value(
                "SELECT executions FROM workflow_steps WHERE run_id = $1 AND idx = 0", run_id
            ),
            30,
            "the first attempt",
        )
        assert db.value("SELECT status FROM workflow_runs WHERE id = $1", run_id) == "running"
    finally:
        stack.restart("cognitive")
    final = wait_for_run(api, run["id"], timeout=90)
    assert final["status"] == "succeeded"
    step = db.fetch("SELECT status, executions FROM workflow_steps WHERE run_id = $1", run_id)[0]
    assert step["status"] == "succeeded" and step["executions"] >= 2
    kinds = [r["type"] for r in db.fetch("SELECT type FROM run_events WHERE run_id = $1", run_id)]
    assert kinds.count("completed") == 1 and "failed" not in kinds

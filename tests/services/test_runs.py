"""Every run reaches a terminal state: a non-transient error fails it, the database down
longer than the retries leaves it to the sweeper (which resumes it once the database is
back), and a worker told to stop (SIGTERM) finishes the step in flight, hands the run back
and exits within its grace period.

The suite's worker is swapped for one with short retry, sweep and grace settings; the
assertions wait for states (rows, log lines, exits) with deadlines, never for fixed times."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.env.services import free_port
from tests.services.support import Api, Proc, Stack, wait_for_run, wait_until

FAST = {
    "AIWFE_WORKER_MAX_RETRIES": "1",
    "AIWFE_WORKER_RETRY_BACKOFF_MAX_SECONDS": "1",
    "AIWFE_WORKER_REQUEUE_AFTER_SECONDS": "3",
    "AIWFE_WORKER_SWEEP_INTERVAL_SECONDS": "1",
    "AIWFE_WORKER_SHUTDOWN_GRACE_SECONDS": "30",
}


class Workers:
    """Starts workers like the suite's, with other settings, one at a time."""

    def __init__(self, stack: Stack, workdir: Path) -> None:
        self.template = stack["worker"]
        self.workdir = workdir
        self.current: Proc | None = None

    def start(self, **settings: str) -> Proc:
        self.stop()
        port = free_port()
        env = {**self.template.env, **FAST, **settings, "AIWFE_PORT": str(port)}
        log = self.workdir / f"runs-worker-{uuid.uuid4().hex[:6]}.log"
        proc = Proc("runs-worker", self.template.argv, env, log, port, "/health")
        self.current = proc.start()
        return proc

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture(scope="module")
def workers(stack: Stack, workdir: Path) -> Iterator[Workers]:
    stack["worker"].stop()  # the only consumer of the queue is ours
    pool = Workers(stack, workdir)
    try:
        yield pool
    finally:
        pool.stop()
        stack.restart_worker()


def submit(api: Api, name: str, steps: list[dict]) -> uuid.UUID:
    created = api.post(
        "/api/v1/workflows", json={"name": name, "steps": steps, "input": {"text": "Ok."}}
    )
    assert created.status_code == 201, created.text
    return uuid.UUID(created.json()["id"])


def step_started(db, run_id: uuid.UUID, idx: int) -> bool:
    return bool(
        db.value("SELECT count(*) FROM workflow_steps WHERE run_id = $1 AND idx = $2", run_id, idx)
    )


def logged(proc: Proc, event: str, run_id: uuid.UUID) -> bool:
    for line in proc.log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("message") == event and record.get("run_id") == str(run_id):
            return True
    return False


def test_a_non_transient_error_fails_the_run(workers: Workers, db) -> None:
    """A run the worker cannot execute (a step without a type, written straight to the
    database) fails with a message instead of staying `running`."""
    workers.start()
    run_id = uuid.uuid4()
    owner = db.value("SELECT id FROM users WHERE username = 'admin'")
    db.execute(
        "INSERT INTO workflow_runs (id, owner_id, name, status, steps, input) "
        "VALUES ($1, $2, 'broken', 'queued', '[{\"params\": {}}]', '{}')",
        run_id,
        owner,
    )
    # No broker message: the sweeper sends it; the worker fails it.
    status = wait_until(
        lambda: (
            (s := db.value("SELECT status FROM workflow_runs WHERE id = $1", run_id))
            in ("failed", "succeeded", "cancelled")
            and s
        ),
        60,
        "the broken run to end",
    )
    assert status == "failed"
    error = db.value("SELECT error FROM workflow_runs WHERE id = $1", run_id)
    assert error == "internal error in the worker (KeyError)"


def test_database_down_longer_than_the_retries(api: Api, workers: Workers, db, backing) -> None:
    worker = workers.start()
    run_id = submit(
        api, "db-down", [{"type": "wait", "params": {"seconds": 2}}, {"type": "perceive"}]
    )
    wait_until(lambda: step_started(db, run_id, 0), 30, "the first step to start")
    backing.postgres.stop()
    try:
        # The step ends, its result cannot be written, the retries run out, and even the
        # failure cannot be recorded: the run is left `running`, without a lease.
        wait_until(
            lambda: logged(
                worker,
                "run left running: its failure could not be recorded, the sweeper resumes it",
                run_id,
            ),
            60,
            "the worker to give up on the run",
        )
    finally:
        backing.postgres.start()
    final = wait_for_run(api, str(run_id), timeout=90)
    assert final["status"] == "succeeded", final
    kinds = [r["type"] for r in db.fetch("SELECT type FROM run_events WHERE run_id = $1", run_id)]
    assert "resumed" in kinds and kinds.count("completed") == 1


def sigterm_and_wait(proc: Proc, within: float) -> None:
    assert proc.process is not None
    os.kill(proc.process.pid, signal.SIGTERM)  # the main process only, as the kubelet does
    try:
        proc.process.wait(within)
    except subprocess.TimeoutExpired:
        pytest.fail(f"worker still running {within}s after SIGTERM:\n{proc.tail()}")


def test_sigterm_finishes_the_step_in_flight_then_hands_the_run_back(
    api: Api, workers: Workers, db
) -> None:
    worker = workers.start(AIWFE_WORKER_SHUTDOWN_GRACE_SECONDS="30")
    steps = [{"type": "wait", "params": {"seconds": 3}}, {"type": "perceive"}]
    run_id = submit(api, "drain", steps)
    wait_until(lambda: step_started(db, run_id, 0), 30, "the first step to start")
    sigterm_and_wait(worker, within=30)
    rows = db.fetch(
        "SELECT idx, status, executions FROM workflow_steps WHERE run_id = $1 ORDER BY idx",
        run_id,
    )
    # The step in flight finished; the next one was not started by the stopping worker.
    assert [(r["idx"], r["status"], r["executions"]) for r in rows] == [(0, "succeeded", 1)]
    assert db.value("SELECT status FROM workflow_runs WHERE id = $1", run_id) == "running"
    workers.current = None
    workers.start()
    final = wait_for_run(api, str(run_id), timeout=90)
    assert final["status"] == "succeeded", final
    first = db.value("SELECT executions FROM workflow_steps WHERE run_id = $1 AND idx = 0", run_id)
    assert first == 1  # not run again


def test_sigterm_past_the_grace_period_requeues_the_run(api: Api, workers: Workers, db) -> None:
    worker = workers.start(AIWFE_WORKER_SHUTDOWN_GRACE_SECONDS="2")
    steps = [{"type": "wait", "params": {"seconds": 25}, "timeout_s": 60}, {"type": "perceive"}]
    run_id = submit(api, "drain-late", steps)
    wait_until(lambda: step_started(db, run_id, 0), 30, "the long step to start")
    sigterm_and_wait(worker, within=15)  # well before the 25 s step could have ended
    assert db.value("SELECT status FROM workflow_runs WHERE id = $1", run_id) == "running"
    workers.current = None
    workers.start()
    final = wait_for_run(api, str(run_id), timeout=120)
    assert final["status"] == "succeeded", final
    again = db.value("SELECT executions FROM workflow_steps WHERE run_id = $1 AND idx = 0", run_id)
    assert again == 2  # cut off by the shutdown, run again by the next worker

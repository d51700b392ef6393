"""Runs one workflow run step by step through the cognitive interface.

Delivery is at least once (Celery acks late, rejects on worker loss, Redis redelivers after
the visibility timeout). Exactly-once *effects* come from here:
- a run lease in Redis (renewed while running) keeps two deliveries from executing at once;
- every step is keyed by (run_id, idx): a step already `succeeded` is never run again, and
  its completion is recorded with a conditional UPDATE, so a late duplicate changes nothing;
- the run's terminal transition is a conditional UPDATE from `running`, and the terminal
  event is written in the same transaction, so it happens once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio.lock import Lock
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aiwfe.cognitive.base import CognitiveError, Transport
from aiwfe.cognitive.transport import HttpTransport
from aiwfe.core import auth, runs
from aiwfe.core.db import create_engine, session_factory
from aiwfe.core.metrics import RUN_SECONDS, RUNS, STEP_SECONDS, STEPS
from aiwfe.core.models import RunEvent, WorkflowRun, WorkflowStep
from aiwfe.core.redis import async_client, run_channel, run_lease
from aiwfe.core.runs import RunStatus
from aiwfe.core.settings import Settings

log = structlog.get_logger("aiwfe.worker")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class Busy(Exception):
    """Another delivery of this run holds the lease: try again later."""


class LeaseLost(Busy):
    """The lease expired under us (a long pause): stop, another delivery may own the run."""


class Draining(Exception):
    """The worker got SIGTERM: no new step starts here; the run goes back to the queue."""


# Set in the worker's main process on SIGTERM (aiwfe.worker.__main__); created before the
# pool forks, so every pool process sees it between two steps.
DRAINING = multiprocessing.Event()


class Transient(Exception):
    """A dependency is down; the run is intact and the task should be retried."""


@dataclass
class Outcome:
    status: str  # succeeded, failed, cancelled, missing, already-<status>


async def _event(session: AsyncSession, run_id: uuid.UUID, kind: str, **data: Any) -> None:
    session.add(RunEvent(run_id=run_id, type=kind, data=data))


class RunExecutor:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        redis: Any,
        cognitive: Transport,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.redis = redis
        self.cognitive = cognitive
        self.owner: str | None = None  # the run's owner, set when the run starts

    async def publish(self, run_id: uuid.UUID, kind: str) -> None:
        try:
            await self.redis.publish(run_channel(run_id), kind)
        except Exception:  # listeners also poll the database
            log.warning("publish failed", run_id=str(run_id))

    async def execute(self, run_id: uuid.UUID) -> Outcome:
        lease = Lock(
            self.redis,
            run_lease(run_id),
            timeout=self.settings.worker_lease_seconds,
            blocking=False,
        )
        if not await lease.acquire():
            async with self.sessions() as session:
                status = await session.scalar(
                    select(WorkflowRun.status).where(WorkflowRun.id == run_id)
                )
            if status is None or runs.is_terminal(status):
                return Outcome(f"already-{status}" if status else "missing")
            raise Busy(str(run_id))
        renew = asyncio.create_task(self._renew(lease))
        started = time.perf_counter()
        try:
            outcome = await self._run(run_id, lease)
            RUNS.labels(outcome.status).inc()
            RUN_SECONDS.labels(outcome.status).observe(time.perf_counter() - started)
            return outcome
        except Transient:
            RUNS.labels("retry").inc()
            RUN_SECONDS.labels("retry").observe(time.perf_counter() - started)
            raise
        finally:
            renew.cancel()
            try:
                await lease.release()
            except Exception:  # expired or lost: nothing to release
                log.warning("lease already gone", run_id=str(run_id))

    async def _renew(self, lease: Lock) -> None:
        interval = max(1.0, self.settings.worker_lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await lease.reacquire()
            except Exception:
                log.warning("lease renewal failed", lease=lease.name)

    async def _start(self, run_id: uuid.UUID) -> Outcome | tuple[list[dict], dict[str, Any]]:
        """Claim the run (queued -> running, or resume a running one): its steps and input
        (with its owner, whose data the steps use), or the Outcome when there is nothing to run."""
        async with self.sessions() as session, session.begin():
            run = await session.scalar(
                select(WorkflowRun).where(WorkflowRun.id == run_id).with_for_update()
            )
            if run is None:
                return Outcome("missing")
            if runs.is_terminal(run.status):
                return Outcome(f"already-{run.status}")
            resumed = run.status == RunStatus.RUNNING
            run.attempts += 1
            event = "resumed" if resumed else "started"
            runs.apply(
                session, run, RunStatus.RUNNING, event, attempt=run.attempts, worker=WORKER_ID
            )
            steps, run_input = list(run.steps), dict(run.input)
            self.owner = str(run.owner_id)
        await self.publish(run_id, "started")
        log.info("run started", run_id=str(run_id), steps=len(steps), resumed=resumed)
        return steps, run_input

    async def _run(self, run_id: uuid.UUID, lease: Lock) -> Outcome:
        started = await self._start(run_id)
        if isinstance(started, Outcome):
            return started
        steps, run_input = started
        outputs: list[dict[str, Any]] = []
        for idx, step in enumerate(steps):
            if not await lease.owned():  # fencing: never start a step without the lease
                raise LeaseLost(str(run_id))
            if DRAINING.is_set():
                raise Draining(str(run_id))
            async with self.sessions() as session:
                status = await session.scalar(
                    select(WorkflowRun.status).where(WorkflowRun.id == run_id)
                )
                done = await session.scalar(
                    select(WorkflowStep).where(
                        WorkflowStep.run_id == run_id, WorkflowStep.idx == idx
                    )
                )
            if status != RunStatus.RUNNING:
                log.info("run stopped", run_id=str(run_id), status=status)
                return Outcome(status or "missing")
            if done is not None and done.status == "succeeded":
                outputs.append(done.output or {})
                continue  # idempotent: this step already happened
            output = await self._step(run_id, idx, step, run_input)
            if isinstance(output, Outcome):
                return output
            outputs.append(output)

        async with self.sessions() as session, session.begin():
            changed = await runs.move(
                session,
                run_id,
                RunStatus.SUCCEEDED,
                event="completed",
                data={"status": RunStatus.SUCCEEDED.value},
                result={"output": outputs[-1] if outputs else {}, "steps": len(outputs)},
            )
        await self.publish(run_id, "completed")
        log.info("run finished", run_id=str(run_id))
        return Outcome("succeeded" if changed else "already-finished")

    async def _begin_step(self, run_id: uuid.UUID, idx: int, step_type: str) -> None:
        """The step's row says `running` (again, after a redelivery), with its event."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                insert(WorkflowStep)
                .values(
                    run_id=run_id,
                    idx=idx,
                    type=step_type,
                    status="running",
                    executions=1,
                    attempts=1,
                )
                .on_conflict_do_update(
                    index_elements=["run_id", "idx"],
                    set_={
                        "status": "running",
                        "executions": WorkflowStep.executions + 1,
                        "started_at": func.now(),
                        "error": None,
                    },
                )
            )
            await _event(session, run_id, "step_started", idx=idx, type=step_type)

    async def _step(
        self, run_id: uuid.UUID, idx: int, step: dict[str, Any], run_input: dict[str, Any]
    ) -> dict[str, Any] | Outcome:
        """Execute one step through coordination: its output, or the run's failed Outcome."""
        await self._begin_step(run_id, idx, step["type"])
        await self.publish(run_id, "step_started")
        timeout_s = float(step.get("timeout_s", 60.0))
        retries = int(step.get("retries", 2))
        try:
            result = await self.cognitive.call(
                "coordination",
                "execute_step",
                {
                    "type": step["type"],
                    "params": step.get("params", {}),
                    "input": run_input,
                    "timeout_s": timeout_s,
                    "retries": retries,
                    "owner": self.owner,
                },
                # every attempt, the backoffs between them (0.5 s doubling), and a margin
                http_timeout=timeout_s * (retries + 1) + 0.5 * (2**retries - 1) + 10,
            )
        except CognitiveError as exc:
            STEPS.labels(step["type"], "error").inc()
            if exc.transient:
                raise Transient(f"step {idx} ({step['type']}): {exc.detail}") from exc
            return await self._fail(run_id, idx, f"step {idx} ({step['type']}): {exc.detail}")
        STEPS.labels(step["type"], "succeeded").inc()
        STEP_SECONDS.labels(step["type"]).observe(float(result.get("duration_s") or 0))
        output = result.get("output", {})
        async with self.sessions() as session, session.begin():
            changed = await session.execute(
                update(WorkflowStep)
                .where(
                    WorkflowStep.run_id == run_id,
                    WorkflowStep.idx == idx,
                    WorkflowStep.status == "running",
                )
                .values(
                    status="succeeded",
                    output=output,
                    attempts=result.get("attempts", 1),
                    finished_at=func.now(),
                )
            )
            if changed.rowcount == 1:
                await session.execute(
                    update(WorkflowRun).where(WorkflowRun.id == run_id).values(current_step=idx + 1)
                )
                await _event(
                    session,
                    run_id,
                    "step_completed",
                    idx=idx,
                    type=step["type"],
                    attempts=result.get("attempts", 1),
                    duration_s=result.get("duration_s"),
                )
        await self.publish(run_id, "step_completed")
        return output

    async def _fail(self, run_id: uuid.UUID, idx: int, error: str) -> Outcome:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(WorkflowStep)
                .where(WorkflowStep.run_id == run_id, WorkflowStep.idx == idx)
                .values(status="failed", error=error, finished_at=func.now())
            )
            await runs.move(
                session,
                run_id,
                RunStatus.FAILED,
                event="failed",
                data={"status": RunStatus.FAILED.value, "error": error},
                only_from=[RunStatus.RUNNING],
                error=error,
            )
        await self.publish(run_id, "failed")
        log.warning("run failed", run_id=str(run_id), error=error)
        return Outcome("failed")

    async def fail_permanently(self, run_id: uuid.UUID, error: str) -> None:
        """Retries exhausted: the run is marked failed so it does not hang in `running`."""
        async with self.sessions() as session, session.begin():
            await runs.move(
                session,
                run_id,
                RunStatus.FAILED,  # from queued or running: whatever did not finish
                event="failed",
                data={"status": RunStatus.FAILED.value, "error": error},
                error=error,
            )
        await self.publish(run_id, "failed")


async def run_once(settings: Settings, run_id: uuid.UUID, *, give_up: str | None = None) -> Outcome:
    """One task execution with its own short-lived engine, Redis and HTTP clients."""
    engine = create_engine(settings, null_pool=True)
    redis = async_client(settings)
    # The worker's own service key (never the gateway's): cognitive-services trusts its
    # public half for service tokens naming task-processor, and for nothing else.
    key = settings.signing_key()
    cognitive = HttpTransport.from_settings(
        settings, lambda: auth.issue_service_token("task-processor", key, settings.jwt_issuer)
    )
    try:
        executor = RunExecutor(settings, session_factory(engine), redis, cognitive)
        if give_up is not None:
            await executor.fail_permanently(run_id, give_up)
            return Outcome("failed")
        return await executor.execute(run_id)
    finally:
        await cognitive.close()
        await redis.aclose()
        await engine.dispose()

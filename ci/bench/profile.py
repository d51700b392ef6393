"""Where the time goes: py-spy samples every service process of each topology while the
mixed workload runs, and the samples are folded into a per-process, per-package summary.

py-spy attaches from outside (ptrace), so the services run unmodified. The raw collapsed
stacks are kept in build/bench/profiles/ for flame graphs (e.g. speedscope or inferno).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ci import proc

RATE_HZ = 250

# frame "function (path/to/file.py:line)" -> a coarse bucket of what the process is doing
BUCKETS = [
    ("http client (httpx/httpcore/h11)", re.compile(r"[(/](httpx|httpcore|h11|anyio)/")),
    ("http server (uvicorn/starlette)", re.compile(r"[(/](uvicorn|starlette|httptools)/")),
    (
        "fastapi + pydantic (routing, validation, serialisation)",
        re.compile(r"[(/](fastapi|pydantic|pydantic_core)/"),
    ),
    ("database (sqlalchemy/asyncpg)", re.compile(r"[(/](sqlalchemy|asyncpg|pgvector)/")),
    ("redis/celery/kombu", re.compile(r"[(/](redis|celery|kombu|billiard)/")),
    ("json", re.compile(r"[(/]json/")),
    (
        "logging + telemetry",
        re.compile(r"[(/](structlog|logging|prometheus_client|opentelemetry)/"),
    ),
    ("aiwfe code", re.compile(r"[(/]aiwfe/")),
    ("asyncio / event loop", re.compile(r"[(/](asyncio|uvloop)/")),
]


def py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy")
        if (Path(sys.executable).parent / "py-spy").exists()
        else None
    )


# Leaf frames of a process that is waiting, not working (py-spy's idle heuristic misses them
# when uvloop or a thread pool blocks in C).
IDLE_LEAVES = re.compile(r"^(Runner\.run \(asyncio/runners\.py|Condition\.wait \(threading\.py)")


def bucket(stack: str) -> str:
    """The bucket of the innermost (leaf) frame that falls into one; "other" if none."""
    for frame in reversed(stack.split(";")):
        for name, pattern in BUCKETS:
            if pattern.search(frame):
                return name
    return "other"


def fold(collapsed: str) -> dict[str, Any]:
    """Summarise py-spy's collapsed stacks ("frame;frame;... count" per line)."""
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        if IDLE_LEAVES.match(stack.split(";")[-1]):
            continue
        total += n
        buckets[bucket(stack)] += n
        leaves[stack.split(";")[-1]] += n
    share = {k: round(v / total, 3) for k, v in buckets.most_common()} if total else {}
    top = [{"frame": f, "share": round(n / total, 3)} for f, n in leaves.most_common(12)]
    return {
        "samples": total,
        "gil_seconds": round(total / RATE_HZ, 2),
        "buckets": share,
        "top_leaf_frames": top,
    }


def spy_on(binary: str, pid: int, path: Path) -> proc.Popen:
    """py-spy recording the GIL-holding (= running Python) samples of one process."""
    return proc.spawn(
        [
            binary,
            "record",
            "--format",
            "raw",
            "--rate",
            str(RATE_HZ),
            "--gil",
            "--nonblocking",
            "-o",
            str(path),
            "-p",
            str(pid),
        ],
        stdout=proc.DEVNULL,
        stderr=proc.DEVNULL,
    )


def profiled(
    binary: str, services: list[Any], out: Path, load: Callable[[], Any], tag: str = ""
) -> tuple:
    """Run `load()` while py-spy samples every service; returns (load result, folded)."""
    spies: list[tuple[str, proc.Popen, Path]] = []
    try:
        for service in services:
            path = out / f"{service.name}{tag}.collapsed"
            spies.append((service.name, spy_on(binary, service.process.pid, path), path))
        time.sleep(1.0)  # attach
        result = load()
    finally:
        for _, spy, _ in spies:
            with contextlib.suppress(ProcessLookupError):
                spy.send_signal(signal.SIGINT)
        for _, spy, _ in spies:
            try:
                spy.wait(30)
            except proc.TimeoutExpired:
                spy.kill()
    folded = {name: fold(path.read_text()) for name, _, path in spies if path.exists()}
    return result, folded


def run(plan: Any, backing: Any, token: str, out: Path, log: Any = print) -> dict[str, Any]:
    """Profile each topology under the mixed workload (after a warm-up), and the gateway and
    the bare app under `ab` on /api/health."""
    from ci.bench import gateway
    from ci.bench.load import health_load, run_closed_loop
    from ci.bench.topology import TOPOLOGIES, build, wait_ready
    from ci.bench.workload import check_mixed, mixed_calls, step_calls

    binary = py_spy()
    if binary is None:
        return {"skipped": "py-spy is not installed (bench dependency group)"}
    out.mkdir(parents=True, exist_ok=True)
    auth = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {}
    for name in TOPOLOGIES:
        log(f"profiling {name} with py-spy")
        topo = build(name, backing)
        topo.start()
        try:
            port = topo.gateway.port
            check_mixed(port, token)
            run_closed_loop(port, mixed_calls(), plan.warmup_requests, plan.mixed_concurrency, auth)
            load, folded = profiled(
                binary,
                topo.services,
                out,
                lambda port=port: run_closed_loop(
                    port, mixed_calls(), plan.mixed_requests, plan.mixed_concurrency, auth
                ),
            )
            results[name] = {"load": load.summary(), "processes": folded}
            step_port = topo.coordination_port
            if step_port is not None and plan.step_requests:
                log(f"profiling {name} workflow steps with py-spy")
                run_closed_loop(step_port, step_calls(), 30, plan.mixed_concurrency)
                load, folded = profiled(
                    binary,
                    topo.cognitive,
                    out,
                    lambda step_port=step_port: run_closed_loop(
                        step_port, step_calls(), plan.step_requests, plan.mixed_concurrency
                    ),
                    tag="-steps",
                )
                results[f"{name} steps"] = {"load": load.summary(), "processes": folded}
        finally:
            topo.stop()
    for name in gateway.APPS:
        log(f"profiling /api/health of the {name} app with py-spy")
        service = gateway.build(name, backing)
        service.start()
        try:
            service.wait_listening()
            wait_ready(service, "/api/health", 60)
            health_load(service.port, 500, plan.health_concurrency)
            load, folded = profiled(
                binary,
                [service],
                out,
                lambda service=service: health_load(
                    service.port, 8 * plan.health_requests, plan.health_concurrency
                ),
            )
        finally:
            service.stop()
        results[f"health-{name}"] = {"load": load, "processes": folded}
    return results

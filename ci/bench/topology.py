"""Consolidated vs split cognitive services behind the gateway, on loopback, against the same
real PostgreSQL (pgvector) and Redis, with the local LLM and embedding fallbacks.

- consolidated: aiwfe-gateway + ONE aiwfe-cognitive process hosting all five modules.
- split:        aiwfe-gateway + one `aiwfe-cognitive --module NAME` process per module; a
                module reaches another one over HTTP (e.g. reasoning -> memory).

Each repetition starts the topology afresh, warms it up, runs `ab` on /api/health and the
mixed authenticated workload, samples RSS and CPU of the process trees, and stops it.
Repetitions alternate between the topologies so that host noise hits both alike.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from ci import proc
from ci.bench.load import Call, fetch, health_load, run_closed_loop
from ci.bench.procs import Group, Sampler, Service, free_port, python_module
from ci.bench.workload import ADMIN, NAMESPACE, check_mixed, login, mixed_calls, seed, step_calls
from ci.env import services as services_env

MODULES = ("coordination", "memory", "perception", "reasoning", "learning")
TOPOLOGIES = ("consolidated", "split")
# Not shipped modes: the proposed fix, prototyped (see ci/bench/embedded.py), as one process
# and as two replicas of it (connections balanced between them, like a Service).
WHAT_IF = ("embedded", "embedded-x2")


@dataclass
class Backing:
    """PostgreSQL + Redis from ci/env/services/, migrated, with an admin user."""

    env_vars: dict[str, str]
    services: services_env.ServicesEnv
    admin_password: str
    group: Group = field(default_factory=Group)


def clean_environ() -> dict[str, str]:
    """The parent's environment without AIWFE_* / OTEL_* settings that could skew a run."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIWFE_", "OTEL_")) and k != "WORKER_CONCURRENCY"
    }


def start_backing() -> Backing:
    started = services_env.start()
    admin_password = "bench-" + secrets.token_hex(12)
    # Token keys as the chart lays them out; every bench process reads the same environment,
    # so each gets the verifier settings and the gateway's key (a measurement, not a
    # least-privilege setup).
    from aiwfe.core.keyfiles import KeyFiles

    keys = KeyFiles.create(tempfile.mkdtemp(prefix="aiwfe-bench-keys-"))
    env = {
        **clean_environ(),
        **started.env(),
        "AIWFE_HOST": "127.0.0.1",
        "AIWFE_LOG_LEVEL": "warning",
        **keys.env("cognitive"),
        **keys.env("gateway"),
        "AIWFE_LLM_PROVIDER": "local",
        "AIWFE_EMBEDDING_PROVIDER": "local",
        "AIWFE_VECTOR_STORE": "pgvector",
        "AIWFE_ADMIN_USERNAME": ADMIN,
        "AIWFE_ADMIN_PASSWORD": admin_password,
        "PYTHONUNBUFFERED": "1",
    }
    try:
        done = proc.run(
            python_module("aiwfe.migrate", "upgrade"),
            env=env,
            capture=True,
            timeout=300,
            check=False,
            quiet=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"aiwfe-migrate upgrade failed:\n{done.stdout}\n{done.stderr}")
    except BaseException:
        started.stop()
        raise
    backing = Backing(env_vars=env, services=started, admin_password=admin_password)
    pids = [p.process.pid for p in (started.postgres, started.redis) if p.process]
    backing.group = Group(extra_pids=pids)
    return backing


@dataclass
class Topology:
    name: str
    gateway: Service
    cognitive: list[Service]
    ready_path: str = "/api/ready"
    replicas: list[Service] = field(default_factory=list)  # more gateways, same role

    @property
    def ports(self) -> int | list[int]:
        """Where the load goes: the gateway, or every gateway replica."""
        if not self.replicas:
            return self.gateway.port
        return [self.gateway.port, *(r.port for r in self.replicas)]

    @property
    def services(self) -> list[Service]:
        return [*self.cognitive, self.gateway, *self.replicas]

    @property
    def coordination_port(self) -> int | None:
        """Where the worker sends workflow steps (None: no cognitive HTTP service)."""
        for service in self.cognitive:
            if service.name.endswith(("-cognitive", "-coordination")):
                return service.port
        return None

    def group(self) -> Group:
        return Group(services=self.services)

    def start(self, timeout: float = 120) -> None:
        try:
            for service in self.cognitive:
                service.start()
            for service in self.cognitive:
                service.wait_listening(timeout)
            for gateway in (self.gateway, *self.replicas):
                gateway.start()
            for gateway in (self.gateway, *self.replicas):
                gateway.wait_listening(timeout)
                wait_ready(gateway, self.ready_path, timeout)
            for service in self.cognitive:
                wait_ready(service, "/ready", timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


def wait_ready(service: Service, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            status, last = asyncio.run(fetch(service.port, Call("ready", "GET", path)))
            if status == 200:
                return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} not ready at {path}: {last}\n{service.log_tail()}")


def build(name: str, backing: Backing) -> Topology:
    env = dict(backing.env_vars)
    gateway_port = free_port()
    if name == "consolidated":
        port = free_port()
        env.update(
            AIWFE_COGNITIVE_MODE="consolidated", AIWFE_COGNITIVE_URL=f"http://127.0.0.1:{port}"
        )
        cognitive = [
            Service(
                "consolidated-cognitive",
                port,
                python_module("aiwfe.cognitive"),
                {**env, "AIWFE_PORT": str(port)},
            )
        ]
    elif name == "split":
        ports = {m: free_port() for m in MODULES}
        env["AIWFE_COGNITIVE_MODE"] = "split"
        env["AIWFE_COGNITIVE_URL"] = f"http://127.0.0.1:{ports['coordination']}"
        for module, port in ports.items():
            env[f"AIWFE_COGNITIVE_{module.upper()}_URL"] = f"http://127.0.0.1:{port}"
        cognitive = [
            Service(
                f"split-{m}",
                p,
                python_module("aiwfe.cognitive", "--module", m),
                {**env, "AIWFE_PORT": str(p)},
            )
            for m, p in ports.items()
        ]
    elif name in WHAT_IF:
        # The gateway's /api/ready probes cognitive-services over HTTP, which this variant
        # does not run: it is ready when it answers and the mixed workload's check passes.
        gateways = [
            Service(
                f"{name}-gateway-{i}",
                port,
                python_module("ci.bench.embedded"),
                {**env, "AIWFE_COGNITIVE_MODE": "consolidated", "AIWFE_PORT": str(port)},
            )
            for i, port in enumerate(
                [gateway_port] + ([free_port()] if name.endswith("x2") else [])
            )
        ]
        return Topology(name, gateways[0], [], ready_path="/api/health", replicas=gateways[1:])
    else:
        raise ValueError(f"unknown topology {name!r}")
    gateway = Service(
        f"{name}-gateway",
        gateway_port,
        python_module("aiwfe.gateway"),
        {**env, "AIWFE_PORT": str(gateway_port)},
    )
    return Topology(name, gateway, cognitive)


@dataclass
class Plan:
    reps: int = 3
    health_requests: int = 1000
    health_concurrency: int = 10
    mixed_requests: int = 600
    mixed_concurrency: int = 10
    warmup_requests: int = 150
    deadline_s: float = 180.0
    what_if: bool = True  # also measure the embedded prototype (reported apart)
    # A diagnostic pass at concurrency 1: service time without queueing (reported apart).
    serial_requests: int = 150
    # Workflow steps as the worker sends them, straight to coordination (reported apart).
    step_requests: int = 300


@dataclass
class Running:
    """A started, warmed-up variant."""

    topology: Topology
    startup_s: float
    idle: dict[str, float]


def prepare(
    topology: Topology, backing: Backing, token: str | None, plan: Plan, log: Any = print
) -> tuple[Running, str]:
    """Start one variant, log in and seed (once), check every call, warm up."""
    began = time.monotonic()
    topology.start()
    startup = time.monotonic() - began
    try:
        port = topology.gateway.port
        if token is None:
            token = login(port, backing.admin_password)
            log(f"  seeded {seed(port, token)} memory facts in namespace {NAMESPACE!r}")
        check_mixed(port, token)
        auth = {"Authorization": f"Bearer {token}"}
        idle = topology.group().totals()
        # Warm-up: imports, connection pools, caches in every process.
        run_closed_loop(
            topology.ports,
            mixed_calls(),
            plan.warmup_requests,
            plan.mixed_concurrency,
            auth,
            plan.deadline_s,
        )
        health_load(port, min(plan.health_requests, 200), plan.health_concurrency)
        step_port = topology.coordination_port
        if step_port is not None and plan.step_requests:
            run_closed_loop(step_port, step_calls(), 30, plan.mixed_concurrency)
    except BaseException:
        topology.stop()
        raise
    return Running(topology, startup, idle), token


def measure(running: Running, backing: Backing, token: str, plan: Plan) -> dict[str, Any]:
    """One repetition on a running variant: ab on /api/health, the mixed workload (with RSS
    and CPU sampled), the mixed workload at concurrency 1, and workflow steps."""
    topology = running.topology
    port = topology.gateway.port
    auth = {"Authorization": f"Bearer {token}"}
    calls = mixed_calls()
    groups = {"services": topology.group(), "backing": backing.group}

    sampler = Sampler(groups)
    sampler.start()
    health = health_load(port, plan.health_requests, plan.health_concurrency)
    health_usage = sampler.stop()

    sampler = Sampler(groups)
    sampler.start()
    mixed = run_closed_loop(
        topology.ports, calls, plan.mixed_requests, plan.mixed_concurrency, auth, plan.deadline_s
    )
    mixed_usage = sampler.stop()
    serial = run_closed_loop(port, calls, plan.serial_requests, 1, auth, plan.deadline_s)
    steps: dict[str, Any] = {}
    step_port = topology.coordination_port
    if step_port is not None and plan.step_requests:
        sampler = Sampler(groups)
        sampler.start()
        step_load = run_closed_loop(
            step_port,
            step_calls(),
            plan.step_requests,
            plan.mixed_concurrency,
            deadline_s=plan.deadline_s,
        )
        steps = {"steps": {**step_load.summary(), "usage": sampler.stop()}}
    dead = [s.name for s in topology.services if s.process is None or s.process.poll() is not None]
    if dead:
        raise RuntimeError(f"processes died during the run: {dead}")
    summary = mixed.summary()
    for label, result, expected in (
        ("mixed", summary, plan.mixed_requests),
        ("steps", steps.get("steps"), plan.step_requests),
    ):
        if result is None:
            continue
        if result["failed"] > 0.01 * expected:
            raise RuntimeError(f"{topology.name} {label}: too many failures: {result['errors']}")
        if result["completed"] < 0.99 * expected:
            raise RuntimeError(f"{topology.name} {label}: deadline ({result['completed']} done)")
    return {
        "topology": topology.name,
        "startup_s": round(running.startup_s, 3),
        "idle_rss_bytes": int(running.idle["rss_bytes"]),
        "processes": int(running.idle["processes"]),
        "health": {**health, "usage": health_usage},
        "mixed": {**summary, "usage": mixed_usage},
        "serial": serial.summary(),
        **steps,
    }


def run(plan: Plan, backing: Backing, log: Any = print) -> dict[str, Any]:
    """Start every variant once (each warmed up), then measure them in alternating order,
    `plan.reps` times; idle variants wait while another is measured. Raw figures per rep."""
    variants = (*TOPOLOGIES, *WHAT_IF) if plan.what_if else TOPOLOGIES
    reps: dict[str, list[dict[str, Any]]] = {t: [] for t in variants}
    token: str | None = None
    running: dict[str, Running] = {}
    try:
        for name in variants:
            log(f"starting and warming up {name}")
            try:
                running[name], token = prepare(build(name, backing), backing, token, plan, log)
            except Exception as exc:
                if name not in WHAT_IF:
                    raise
                # A prototype that no longer fits the services must not cost the headline.
                log(f"  {name} skipped: {str(exc)[:300]}")
                reps.pop(name)
                continue
            log(
                f"  {name}: {running[name].idle['processes']:.0f} processes, started in "
                f"{running[name].startup_s:.1f} s"
            )
        assert token is not None
        for rep in range(plan.reps):
            order = variants if rep % 2 == 0 else tuple(reversed(variants))
            for name in order:
                if name not in running:
                    continue
                figures = measure(running[name], backing, token, plan)
                m = figures["mixed"]
                log(
                    f"rep {rep + 1}/{plan.reps} {name}: mixed p50 {m['p50_ms']:.1f} ms "
                    f"p99 {m['p99_ms']:.1f} ms {m['throughput_rps']:.0f} rps; rss "
                    f"{m['usage']['services']['rss_peak_bytes'] / 2**20:.0f} MiB; cpu "
                    f"{m['usage']['services']['cpu_seconds']:.2f} s; health "
                    f"{figures['health']['throughput_rps']:.0f} rps"
                )
                reps[name].append(figures)
    finally:
        for item in running.values():
            item.topology.stop()
    return {
        "plan": dict(plan.__dict__),
        "python": sys.version.split()[0],
        "reps": reps,
        "token": token,
    }

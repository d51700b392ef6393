"""Gateway efficiency: /api/health throughput of aiwfe-gateway versus a bare FastAPI app with
one route, both served by aiwfe.core.web.serve (same uvicorn workers, loop and HTTP
implementation), measured with the same `ab` run, alternating, fresh processes each time."""

from __future__ import annotations

from typing import Any

from ci.bench.load import health_load
from ci.bench.procs import Group, Sampler, Service, free_port, python_module
from ci.bench.topology import Backing, wait_ready

APPS = ("gateway", "bare")


def build(name: str, backing: Backing) -> Service:
    port = free_port()
    env = {**backing.env_vars, "AIWFE_PORT": str(port)}
    module = "aiwfe.gateway" if name == "gateway" else "ci.bench.bare_app"
    return Service(f"health-{name}", port, python_module(module), env)


def run(
    backing: Backing, reps: int, requests: int, concurrency: int, log: Any = print
) -> dict[str, Any]:
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in APPS}
    for rep in range(reps):
        order = APPS if rep % 2 == 0 else tuple(reversed(APPS))
        for name in order:
            service = build(name, backing)
            service.start()
            try:
                service.wait_listening()
                wait_ready(service, "/api/health", 60)
                health_load(service.port, min(requests, 500), concurrency)  # warm-up
                sampler = Sampler({"app": Group(services=[service])})
                sampler.start()
                result = health_load(service.port, requests, concurrency)
                usage = sampler.stop()["app"]
            finally:
                service.stop()
            if result.get("failed") or result.get("non_2xx"):
                raise RuntimeError(f"{name}: /api/health failed: {result}")
            result["usage"] = usage
            raw[name].append(result)
            log(
                f"  health rep {rep + 1}/{reps} {name}: {result['throughput_rps']:.0f} rps, "
                f"p50 {result.get('p50_ms', 0):.2f} ms"
            )
    return {"requests": requests, "concurrency": concurrency, "reps": raw}

"""A what-if, not a shipped mode: the gateway hosting the five cognitive modules in its own
process (the engine's in-process LocalTransport instead of HTTP to aiwfe-cognitive).

It prototypes the fix the bench proposes when consolidation misses its targets: the
gateway -> cognitive hop stays in BOTH shipped topologies, so only removing it can show what
"no network hops" is worth. The gateway app and the engine are the services' own code; only
the transport the gateway's forwarders use is swapped, after the gateway's own lifespan has
started. Run as `python -m ci.bench.embedded` with the gateway's settings.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any


def create_app() -> Any:
    from aiwfe.cognitive.engine import Engine
    from aiwfe.core.settings import get_settings
    from aiwfe.gateway.app import create_app as create_gateway

    settings = get_settings()
    app = create_gateway(settings)
    engine = Engine(settings)  # all five modules, in this process
    gateway_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(instance: Any):
        async with gateway_lifespan(instance) as value:
            runtime = instance.state.runtime  # aiwfe.gateway.deps.Runtime
            remote, runtime.cognitive = runtime.cognitive, engine.transport
            try:
                yield value
            finally:
                runtime.cognitive = remote  # the gateway's shutdown closes its own client
                await engine.close()

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    from aiwfe.core.settings import get_settings
    from aiwfe.core.web import serve

    serve(create_app(), get_settings(), "gateway")


if __name__ == "__main__":
    main()

"""The component table: the eight components of the chart, their ports, images and roles.

The one Python home of these facts; the harness (ci.images, ci.chart, ci.bench) and the
tests import it. Its twin for templates is `common.ports` in
charts/aiwfe/charts/common/templates/_ports.tpl (Go templates cannot import Python);
tests/chart/test_contracts.py renders that helper and fails when the two disagree, and checks
the services' own defaults (aiwfe.core.settings.DEFAULT_PORTS) against it too.

It lives in ci/ (stdlib only) so that ci/ and tests/ import it without installing the
project; the services do not need it (each knows only its own port, from settings).
"""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "aiwfe"


@dataclass(frozen=True)
class Component:
    name: str  # subchart directory, image name under images/, app.kubernetes.io/component
    first_party: bool  # built from src/aiwfe (True) or packaging third-party programs
    role: str
    ports: tuple[tuple[str, int], ...] = ()  # (port name, number) the component listens on
    service: str = ""  # the aiwfe program it runs (key of aiwfe.core.settings.DEFAULT_PORTS)

    @property
    def image(self) -> str:
        """Image repository (charts/<name>/values.yaml image.repository, images/<name>)."""
        return f"{REPOSITORY}/{self.name}"

    @property
    def port(self) -> int:
        """The first (for first-party services: the only, `http`) port."""
        if not self.ports:
            raise LookupError(f"{self.name} listens on no port")
        return self.ports[0][1]

    def port_of(self, name: str) -> int:
        for port_name, number in self.ports:
            if port_name == name:
                return number
        raise LookupError(f"{self.name} has no port named {name!r}")


# Order: the umbrella's dependency order (Chart.yaml, docs/values.md).
COMPONENTS: tuple[Component, ...] = (
    Component(
        "api-gateway",
        first_party=True,
        role="API, JWT auth, web UI",
        ports=(("http", 8080),),
        service="gateway",
    ),
    Component(
        "cognitive-services",
        first_party=True,
        role="the five cognitive modules in one process",
        ports=(("http", 8081),),
        service="cognitive",
    ),
    Component(
        "data-platform",
        first_party=False,
        role="postgres, pgbouncer, redis, qdrant (bundled stateful services)",
        ports=(
            ("postgres", 5432),
            ("pgbouncer", 6432),
            ("redis", 6379),
            ("qdrant-http", 6333),
            ("qdrant-grpc", 6334),
        ),
    ),
    Component(
        "task-processor",
        first_party=True,
        role="Celery worker (health + metrics port)",
        ports=(("http", 8083),),
        service="worker",
    ),
    Component(
        "ai-inference",
        first_party=False,
        role="Ollama model server",
        ports=(("http", 11434),),
    ),
    Component(
        "observability",
        first_party=False,
        role="prometheus, alertmanager, grafana, loki, jaeger",
        ports=(
            ("prometheus", 9090),
            ("alertmanager", 9093),
            ("grafana", 3000),
            ("loki", 3100),
            ("jaeger-ui", 16686),
            ("otlp-grpc", 4317),
            ("otlp-http", 4318),
        ),
    ),
    Component(
        "config-manager",
        first_party=True,
        role="config and feature flags",
        ports=(("http", 8082),),
        service="config",
    ),
    Component(
        "migration-operator",
        first_party=True,
        role="a Job: database migrations, then the admin user",
    ),
)

BY_NAME: dict[str, Component] = {c.name: c for c in COMPONENTS}
SUBCHARTS: tuple[str, ...] = tuple(c.name for c in COMPONENTS)
FIRST_PARTY: tuple[str, ...] = tuple(c.name for c in COMPONENTS if c.first_party)
THIRD_PARTY: tuple[str, ...] = tuple(c.name for c in COMPONENTS if not c.first_party)
# First-party services with an HTTP port (migration-operator is a Job).
SERVICES: tuple[str, ...] = tuple(c.name for c in COMPONENTS if c.first_party and c.ports)


def port(component: str, name: str | None = None) -> int:
    """`port("api-gateway")` -> 8080; `port("data-platform", "pgbouncer")` -> 6432."""
    try:
        entry = BY_NAME[component]
    except KeyError:
        raise LookupError(f"unknown component {component!r}; known: {', '.join(BY_NAME)}") from None
    return entry.port if name is None else entry.port_of(name)


def ports() -> dict[str, dict[str, int]]:
    """component -> {port name: number}: the shape `common.ports` renders."""
    return {c.name: dict(c.ports) for c in COMPONENTS}

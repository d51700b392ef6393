"""Liveness is not readiness: a container that is merely unready (Prometheus replaying its
WAL, Grafana waiting for its database, a service whose dependency is down) leaves the
Service's endpoints but is not restarted."""

from __future__ import annotations

import pytest

from tests.chart.chart_support import PROFILES, SERVICES, containers, deployment, render

TIMING = {
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
    "terminationGracePeriodSeconds",
}
# What each observability role's liveness asks (the process answers) against its readiness
# (the role can serve): (liveness handler, readiness handler).
OBSERVABILITY = {
    "prometheus": (
        {"httpGet": {"path": "/-/healthy", "port": "prometheus"}},
        {"httpGet": {"path": "/-/ready", "port": "prometheus"}},
    ),
    "alertmanager": (
        {"httpGet": {"path": "/-/healthy", "port": "alertmanager"}},
        {"httpGet": {"path": "/-/ready", "port": "alertmanager"}},
    ),
    "grafana": (
        {"httpGet": {"path": "/healthz", "port": "grafana"}},
        {"httpGet": {"path": "/api/health", "port": "grafana"}},
    ),
    "loki": ({"tcpSocket": {"port": "loki"}}, {"httpGet": {"path": "/ready", "port": "loki"}}),
    "jaeger": (
        {"tcpSocket": {"port": "otlp-http"}},
        {"httpGet": {"path": "/", "port": "jaeger-ui"}},
    ),
}


def handler(probe: dict) -> dict:
    return {k: v for k, v in probe.items() if k not in TIMING}


@pytest.mark.parametrize("profile", PROFILES)
def test_observability_liveness_is_not_readiness(profile):
    objects = render(profile)
    seen = set()
    for c in containers(deployment(objects, "observability"), init=False):
        live, ready = OBSERVABILITY[c["name"]]
        assert handler(c["livenessProbe"]) == live, c["name"]
        assert handler(c["readinessProbe"]) == ready, c["name"]
        # the startup probe gates on readiness once; liveness takes over after it
        assert handler(c["startupProbe"]) == ready, c["name"]
        seen.add(c["name"])
    assert seen  # every profile runs at least Prometheus


@pytest.mark.parametrize("profile", PROFILES)
def test_first_party_liveness_is_not_readiness(profile):
    objects = render(profile)
    for component in SERVICES:
        main = next(containers(deployment(objects, component), init=False))
        assert handler(main["livenessProbe"]) != handler(main["readinessProbe"]), component

"""aiwfe/observability: each role starts with the shipped config and answers its readiness
endpoint; a program the image was built without fails clearly and nothing stands in for it."""

from __future__ import annotations

import json

import pytest
from image_helpers import image_of, run, wait_http

# role -> (port, readiness path, seconds to wait)
ROLES = {
    "prometheus": (9090, "/-/ready", 90),
    "alertmanager": (9093, "/-/ready", 60),
    "grafana": (3000, "/api/health", 120),
    "loki": (3100, "/ready", 180),
    "jaeger": (16686, "/", 90),
}
# Debian packages in both modes: never missing.
ALWAYS_PRESENT = {"prometheus", "alertmanager"}


@pytest.mark.slow
@pytest.mark.parametrize("role", sorted(ROLES))
def test_role_starts_and_answers_or_is_reported_missing(docker, images, containers, role):
    image = image_of(images, "observability")
    if role in image.missing:
        assert role not in ALWAYS_PRESENT
        proc = run(docker, "run", "--rm", "--read-only", "--tmpfs", "/tmp", image.tag, role)
        assert proc.returncode == 78, proc.stdout + proc.stderr
        assert f"role '{role}' is not available in this image" in proc.stderr
        assert "is not part of this image" in proc.stderr  # the reason, from the marker file
        return
    port, path, timeout = ROLES[role]
    data = containers.volume(role)
    containers.start(role, image.tag, role, opts=("-v", f"{data}:/var/lib/aiwfe/{role}"))
    status, body = wait_http(
        f"http://{containers.ip(role)}:{port}{path}", timeout, containers=containers, name=role
    )
    assert status == 200
    if role == "prometheus":
        # AIWFE's rules are loaded from the baked-in config.
        _, rules = wait_http(f"http://{containers.ip(role)}:9090/api/v1/rules", 30)
        groups = {g["name"] for g in json.loads(rules)["data"]["groups"]}
        assert {"aiwfe.availability", "aiwfe.latency"} <= groups
    if role == "grafana":
        assert json.loads(body)["database"] == "ok"


def test_shipped_configs_are_where_the_contract_says(docker, images):
    image = image_of(images, "observability")
    paths = [
        "/etc/aiwfe/prometheus/prometheus.yml",
        "/etc/aiwfe/prometheus/rules/aiwfe.yml",
        "/etc/aiwfe/alertmanager/alertmanager.yml",
        "/etc/aiwfe/loki/config.yaml",
        "/etc/aiwfe/grafana/grafana.ini",
        "/etc/aiwfe/grafana/provisioning/datasources/aiwfe.yaml",
        "/etc/aiwfe/grafana/dashboards/aiwfe-overview.json",
    ]
    proc = run(docker, "run", "--rm", "--entrypoint", "ls", image.tag, *paths)
    assert proc.returncode == 0, proc.stderr
    check = run(
        docker, "run", "--rm", "--entrypoint", "promtool", image.tag,
        "check", "config", "/etc/aiwfe/prometheus/prometheus.yml",
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_missing_programs_leave_only_their_reason(docker, images):
    image = image_of(images, "observability")
    where = {
        "loki": "/opt/loki",
        "jaeger": "/opt/jaeger",
        "grafana": "/opt/grafana",
    }
    for part, directory in where.items():
        listing = run(docker, "run", "--rm", "--entrypoint", "ls", image.tag, directory).stdout
        if part in image.missing:
            assert all(name.endswith("UNAVAILABLE") for name in listing.split()), listing
        else:
            assert not any(name.endswith("UNAVAILABLE") for name in listing.split()), listing

"""The chart keeps docs/contracts.md: settings names, ports, probe paths and image roles."""

from __future__ import annotations

import ast
import json
import re

import pytest
import yaml

from ci import components
from ci.chart import chart
from ci.paths import REPO
from tests.chart.chart_support import PROFILES, by_name, containers, of_kind, pod_spec, render

CONTRACTS = (REPO / "docs" / "contracts.md").read_text()
FIRST_PARTY = {name: components.port(name) for name in components.SERVICES}
# Standard OpenTelemetry variables the SDK reads besides the contract's endpoint.
OTEL_STANDARD = {"OTEL_SERVICE_NAME"}


def contract_settings() -> set[str]:
    section = CONTRACTS.split("## First-party settings", 1)[1]
    names = set()
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| variable"):
            names |= set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", line.split("|")[1]))
    return names


def contract_probes() -> dict[str, tuple[int, set[str]]]:
    """component -> (port, probe paths) from the 'Ports and probes' table."""
    section = CONTRACTS.split("## Ports and probes", 1)[1].split("##", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) != 3 or not cells[1][:1].isdigit():
            continue
        port = int(cells[1].split()[0])
        out[cells[0]] = (port, set(re.findall(r"GET (/[^\s,]*)", cells[2])))
    return out


def env_of(objects, container) -> dict[str, dict]:
    env = {e["name"]: e for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            cm = by_name(objects, "ConfigMap", source["configMapRef"]["name"])
            env |= {k: {"name": k, "value": v} for k, v in cm["data"].items()}
    return env


def test_contract_tables_parse():
    assert {"AIWFE_DB_HOST", "AIWFE_TOKEN_PUBLIC_KEYS_DIR", "WORKER_CONCURRENCY"} <= (
        contract_settings()
    )
    assert contract_probes()["api-gateway"][1] == {"/api/health", "/api/ready"}


@pytest.mark.parametrize("profile", PROFILES)
def test_first_party_env_uses_only_contract_names(profile):
    allowed = contract_settings() | OTEL_STANDARD
    objects = render(profile)
    for obj in objects:
        owner = obj["metadata"]["labels"]["app.kubernetes.io/name"]
        if owner not in {*FIRST_PARTY, "migration-operator"} and obj["kind"] != "Pod":
            continue
        for c in containers(obj):
            unknown = {n for n in env_of(objects, c) if n not in allowed}
            assert not unknown, (obj["metadata"]["name"], c["name"], unknown)


@pytest.mark.parametrize("profile", PROFILES)
def test_first_party_ports_probes_and_required_settings(profile):
    probes = contract_probes()
    objects = render(profile)
    for component, port in FIRST_PARTY.items():
        dep = by_name(objects, "Deployment", f"aiwfe-{component}")
        main = pod_spec(dep)["containers"][0]
        assert probes[component][0] == port
        assert main["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        paths = {
            main[p]["httpGet"]["path"]
            for p in ("startupProbe", "readinessProbe", "livenessProbe")
            if p in main
        }
        assert paths == probes[component][1], component
        env = env_of(objects, main)
        assert env["AIWFE_PORT"]["value"] == str(port)
        for name in ("AIWFE_DB_PASSWORD", "AIWFE_REDIS_PASSWORD"):
            assert "secretKeyRef" in env[name]["valueFrom"], (component, name)
        for name in ("AIWFE_DB_HOST", "AIWFE_DB_PORT", "AIWFE_REDIS_HOST", "AIWFE_LLM_PROVIDER"):
            assert env[name]["value"], (component, name)
    worker = pod_spec(by_name(objects, "Deployment", "aiwfe-task-processor"))["containers"][0]
    assert "WORKER_CONCURRENCY" in env_of(objects, worker)
    manager = pod_spec(by_name(objects, "Deployment", "aiwfe-config-manager"))["containers"][0]
    assert env_of(objects, manager)["AIWFE_CONFIG_FILE"]["value"] == "/etc/aiwfe/config/config.yaml"
    mounts = {m["mountPath"] for m in manager["volumeMounts"]}
    assert "/etc/aiwfe/config" in mounts


def test_third_party_roles_ports_and_environment():
    probes = contract_probes()
    objects = render()
    dp = pod_spec(by_name(objects, "StatefulSet", "aiwfe-data-platform"))
    roles = {c["name"]: c for c in dp["containers"]}
    assert {c["args"][0] for c in dp["containers"]} == {"postgres", "pgbouncer", "redis", "qdrant"}
    for role, container in roles.items():
        assert container["ports"][0]["containerPort"] == probes[role][0], role
    pg_env = {e["name"]: e for e in roles["postgres"]["env"]}
    assert pg_env["PGDATA"]["value"] == "/var/lib/postgresql/data/pgdata"
    assert {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"} <= set(pg_env)
    bouncer = {e["name"] for e in roles["pgbouncer"]["env"]}
    assert {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"} <= bouncer
    assert {e["name"] for e in roles["redis"]["env"]} == {"REDIS_PASSWORD"}
    assert {m["mountPath"] for m in roles["redis"]["volumeMounts"]} >= {"/data"}
    assert {m["mountPath"] for m in roles["qdrant"]["volumeMounts"]} >= {"/qdrant/storage"}
    assert roles["qdrant"]["readinessProbe"]["httpGet"]["path"] == "/readyz"

    ai = pod_spec(by_name(objects, "StatefulSet", "aiwfe-ai-inference"))
    server = ai["containers"][0]
    ollama = components.port("ai-inference")
    assert server["args"] == ["serve"] and server["ports"][0]["containerPort"] == ollama
    env = {e["name"]: e["value"] for e in server["env"]}
    assert env["OLLAMA_MODELS"] == "/models" and env["OLLAMA_HOST"] == f"0.0.0.0:{ollama}"

    obs = pod_spec(by_name(objects, "Deployment", "aiwfe-observability"))
    for c in obs["containers"]:
        role = c["args"][0]
        assert role == c["name"]
        port, paths = probes[role]
        assert c["ports"][0]["containerPort"] == port, role
        assert c["readinessProbe"]["httpGet"]["path"] in paths, role
        if "httpGet" in c["livenessProbe"]:
            assert c["livenessProbe"]["httpGet"]["path"] in paths, role
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert f"/var/lib/aiwfe/{role}" in mounts, role


def test_services_expose_the_contract_ports():
    objects = render()
    ports = {
        s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]}
        for s in of_kind(objects, "Service")
    }
    for component in components.COMPONENTS:
        if component.ports:
            assert ports[f"aiwfe-{component.name}"] == set(dict(component.ports).values())
        else:
            assert f"aiwfe-{component.name}" not in ports


def test_contract_ports_table_is_the_component_table():
    """docs/contracts.md's "Ports and probes" rows name the ports of ci/components.py."""
    documented = {name: port for name, (port, _) in contract_probes().items()}
    for name in components.SERVICES:
        assert documented[name] == components.port(name), name
    assert documented["ollama (`serve`)"] == components.port("ai-inference")
    for role in ("postgres", "pgbouncer", "redis"):
        assert documented[role] == components.port("data-platform", role), role
    assert documented["qdrant"] == components.port("data-platform", "qdrant-http")
    for role in ("prometheus", "alertmanager", "grafana", "loki"):
        assert documented[role] == components.port("observability", role), role
    assert documented["jaeger"] == components.port("observability", "jaeger-ui")


# Renders the chart's port table (common.ports, common.port, common.components) into a
# ConfigMap through extraObjects.
PORT_TABLE_PROBE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: port-table
data:
  ports: {{ include "common.ports" . | fromYaml | toJson | quote }}
  gateway: {{ include "common.port" (list "api-gateway") | quote }}
  pgbouncer: {{ include "common.port" (list "data-platform" "pgbouncer") | quote }}
  components: {{ include "common.components" . | quote }}
"""


def test_chart_port_helper_agrees_with_the_component_table(tmp_path):
    values = tmp_path / "port-table.yaml"
    values.write_text(yaml.safe_dump({"extraObjects": [PORT_TABLE_PROBE]}))
    table = by_name(render(extra_values=(values,)), "ConfigMap", "port-table")["data"]
    assert json.loads(table["ports"]) == components.ports()
    assert json.loads(table["components"]) == sorted(components.SUBCHARTS)
    assert table["gateway"] == str(components.port("api-gateway"))
    assert table["pgbouncer"] == str(components.port("data-platform", "pgbouncer"))


def test_services_default_ports_are_the_component_table():
    """aiwfe.core.settings.DEFAULT_PORTS (read without importing the services)."""
    tree = ast.parse((REPO / "src" / "aiwfe" / "core" / "settings.py").read_text())
    defaults = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(target, "id", "") == "DEFAULT_PORTS" for target in node.targets)
    )
    expected = {c.service: c.port for c in components.COMPONENTS if c.service}
    assert defaults == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('(list "data-platform" "http")', 'common.port: data-platform has no port "http"'),
        ('(list "api-gatway")', 'common.port: unknown component "api-gatway"'),
    ],
)
def test_chart_port_helper_refuses_unknown_names(tmp_path, call, message):
    """A template asking for a port the table lacks fails the render, naming what to fix."""
    values = tmp_path / "bad-port.yaml"
    obj = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    obj += 'data: {p: \'{{ include "common.port" ' + call + " }}'}"
    values.write_text(yaml.safe_dump({"extraObjects": [obj]}))
    with pytest.raises(chart.RenderError) as error:
        chart.render_text(extra_values=(values,))
    assert message in str(error.value)

"""Objects find each other: selectors match pod labels, Service targetPorts exist on the
containers, ConfigMap references resolve, and the NetworkPolicy graph is exactly the set of
flows the components use."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from ci import components
from tests.chart.chart_support import (
    MONITORING_API,
    PROFILES,
    containers,
    of_kind,
    pod_labels,
    pod_spec,
    render,
)

VARIANTS = [(p, (), ()) for p in PROFILES] + [
    ("prod", (), MONITORING_API),
    ("staging", (), MONITORING_API),
]


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def workload_pods(objects):
    return [o for o in objects if pod_spec(o) is not None]


@pytest.mark.parametrize(("profile", "sets", "apis"), VARIANTS)
def test_services_select_exactly_one_workload_and_ports_exist(profile, sets, apis):
    objects = render(profile, sets, apis)
    pods = [o for o in workload_pods(objects) if o["kind"] != "Pod"]
    for svc in of_kind(objects, "Service"):
        selector = svc["spec"]["selector"]
        selected = [p for p in pods if matches(selector, pod_labels(p))]
        assert len(selected) == 1, (
            svc["metadata"]["name"],
            [p["metadata"]["name"] for p in selected],
        )
        ports = {}
        for c in containers(selected[0], init=False):
            for port in c.get("ports", []):
                ports[port["name"]] = port["containerPort"]
        for port in svc["spec"]["ports"]:
            target = port["targetPort"]
            if isinstance(target, str):
                assert target in ports, (svc["metadata"]["name"], target, ports)
                assert ports[target] == port["port"], (svc["metadata"]["name"], port)
            else:
                assert target in ports.values(), (svc["metadata"]["name"], target)


@pytest.mark.parametrize(("profile", "sets", "apis"), VARIANTS)
def test_workload_selectors_pdbs_and_spread_match_pod_labels(profile, sets, apis):
    objects = render(profile, sets, apis)
    pods = workload_pods(objects)
    for obj in of_kind(objects, "Deployment", "StatefulSet"):
        labels = pod_labels(obj)
        assert matches(obj["spec"]["selector"]["matchLabels"], labels)
        for tsc in pod_spec(obj).get("topologySpreadConstraints", []):
            assert matches(tsc["labelSelector"]["matchLabels"], labels), obj["metadata"]["name"]
        if obj["kind"] == "StatefulSet":
            services = {s["metadata"]["name"] for s in of_kind(objects, "Service")}
            assert obj["spec"]["serviceName"] in services
    for pdb in of_kind(objects, "PodDisruptionBudget"):
        selected = [
            p for p in pods if matches(pdb["spec"]["selector"]["matchLabels"], pod_labels(p))
        ]
        assert len(selected) == 1, pdb["metadata"]["name"]
        assert selected[0]["kind"] != "Job"
    for monitor in of_kind(objects, "ServiceMonitor"):
        services = [
            s
            for s in of_kind(objects, "Service")
            if matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert services, monitor["metadata"]["name"]
        for svc in services:
            names = {p["name"] for p in svc["spec"]["ports"]}
            assert all(e["port"] in names for e in monitor["spec"]["endpoints"])


@pytest.mark.parametrize(("profile", "sets", "apis"), VARIANTS)
def test_scale_targets_exist(profile, sets, apis):
    objects = render(profile, sets, apis)
    deployments = {o["metadata"]["name"]: o for o in of_kind(objects, "Deployment")}
    for scaler in of_kind(objects, "HorizontalPodAutoscaler", "ScaledObject"):
        target = scaler["spec"]["scaleTargetRef"]
        assert target["name"] in deployments
        # the autoscaler owns the replica count: the Deployment must not fight it
        assert "replicas" not in deployments[target["name"]]["spec"]


@pytest.mark.parametrize(("profile", "sets", "apis"), VARIANTS)
def test_configmap_and_claim_references_resolve(profile, sets, apis):
    objects = render(profile, sets, apis)
    configmaps = {o["metadata"]["name"] for o in of_kind(objects, "ConfigMap")}
    claims = {o["metadata"]["name"] for o in of_kind(objects, "PersistentVolumeClaim")}
    for obj in workload_pods(objects):
        for volume in pod_spec(obj).get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        for c in containers(obj):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps


# --- NetworkPolicy graph ----------------------------------------------------------------


def _peer(peer: dict) -> str:
    if "ipBlock" in peer:
        return "cidr:" + peer["ipBlock"]["cidr"]
    labels = peer.get("podSelector", {}).get("matchLabels", {})
    if labels.get("app.kubernetes.io/component") == "smoke-test":
        return "smoke-test"
    return labels.get("app.kubernetes.io/name", "?")


def _owner(policy: dict) -> str:
    labels = policy["spec"]["podSelector"].get("matchLabels", {})
    if labels.get("app.kubernetes.io/component") == "smoke-test":
        return "smoke-test"
    return labels["app.kubernetes.io/name"]


def graph(objects) -> tuple[set, set]:
    """(ingress edges, egress edges) as (from, to, port); DNS egress left out."""
    ingress, egress = set(), set()
    for policy in of_kind(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if not spec["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name"):
            continue
        if policy["metadata"]["name"].endswith("default-deny"):
            continue
        me = _owner(policy)
        for rule in spec.get("ingress", []):
            sources = [_peer(p) for p in rule.get("from", [])] or ["world"]
            for port in rule["ports"]:
                ingress |= {(src, me, port["port"]) for src in sources}
        for rule in spec.get("egress", []):
            ports = [p["port"] for p in rule["ports"]]
            if 53 in ports:
                continue
            targets = [_peer(p) for p in rule.get("to", [])] or ["any"]
            for port in ports:
                for dst in targets:
                    egress.add((me, dst, port))
    return ingress, egress


# The in-chart ports of the flows (ci/components.py).
_port = components.port
GATEWAY, COGNITIVE, CONFIG, WORKER = (
    _port(c) for c in ("api-gateway", "cognitive-services", "config-manager", "task-processor")
)
POSTGRES, PGBOUNCER = _port("data-platform", "postgres"), _port("data-platform", "pgbouncer")
REDIS, QDRANT = _port("data-platform", "redis"), _port("data-platform", "qdrant-http")
LLM, OTLP = _port("ai-inference"), _port("observability", "otlp-http")

DEFAULT_EDGES = {
    ("world", "api-gateway", GATEWAY),
    ("smoke-test", "api-gateway", GATEWAY),
    ("api-gateway", "cognitive-services", COGNITIVE),
    ("api-gateway", "config-manager", CONFIG),
    ("api-gateway", "data-platform", PGBOUNCER),
    ("api-gateway", "data-platform", REDIS),
    ("api-gateway", "observability", OTLP),
    ("cognitive-services", "config-manager", CONFIG),
    ("cognitive-services", "data-platform", PGBOUNCER),
    ("cognitive-services", "data-platform", REDIS),
    ("cognitive-services", "data-platform", QDRANT),
    ("cognitive-services", "ai-inference", LLM),
    ("cognitive-services", "observability", OTLP),
    ("task-processor", "cognitive-services", COGNITIVE),
    ("task-processor", "config-manager", CONFIG),
    ("task-processor", "data-platform", PGBOUNCER),
    ("task-processor", "data-platform", REDIS),
    ("task-processor", "data-platform", QDRANT),
    ("task-processor", "ai-inference", LLM),
    ("task-processor", "observability", OTLP),
    ("config-manager", "data-platform", PGBOUNCER),
    ("config-manager", "observability", OTLP),
    ("migration-operator", "data-platform", POSTGRES),
    ("observability", "api-gateway", GATEWAY),
    ("observability", "cognitive-services", COGNITIVE),
    ("observability", "config-manager", CONFIG),
    ("observability", "task-processor", WORKER),
}
LLM_EGRESS = {("ai-inference", "cidr:0.0.0.0/0", 443)}


def test_default_network_graph_is_exactly_the_used_flows():
    ingress, egress = graph(render())
    internal = {e for e in egress if not e[1].startswith("cidr:")}
    # every allowed egress has the matching ingress on the other side, and vice versa
    assert internal == {e for e in ingress if e[0] != "world"}
    assert ingress == DEFAULT_EDGES
    assert egress == (DEFAULT_EDGES - {("world", "api-gateway", GATEWAY)}) | LLM_EGRESS


def test_kind_network_graph_drops_what_is_not_deployed():
    ingress, egress = graph(render("kind"))
    gone = {"ai-inference", "cidr:0.0.0.0/0"}
    expected = {
        e
        for e in DEFAULT_EDGES
        if e[1] not in gone and e[2] not in (QDRANT, OTLP)  # pgvector, no tracing
    }
    assert ingress == expected
    assert {e for e in egress} == expected - {("world", "api-gateway", GATEWAY)}


def test_prod_network_graph_uses_external_cidrs_and_llm_egress():
    ingress, egress = graph(render("prod"))
    assert not any("data-platform" in (e[0], e[1]) for e in ingress | egress)
    external = {e for e in egress if e[1] == "cidr:10.20.0.0/16"}
    assert external == {
        (app, "cidr:10.20.0.0/16", port)
        for app in ("api-gateway", "cognitive-services", "task-processor")
        for port in (5432, 6379)
    } | {
        ("cognitive-services", "cidr:10.20.0.0/16", 6333),
        ("task-processor", "cidr:10.20.0.0/16", 6333),
        ("config-manager", "cidr:10.20.0.0/16", 5432),
        ("migration-operator", "cidr:10.20.0.0/16", 5432),
    }


def test_airgap_has_no_internet_egress():
    _, egress = graph(render("airgap"))
    assert not [e for e in egress if e[1].startswith("cidr:0.0.0.0")]


@pytest.mark.parametrize("profile", PROFILES)
def test_default_deny_covers_every_pod_and_dns_is_allowed(profile):
    objects = render(profile)
    deny = next(
        o
        for o in of_kind(objects, "NetworkPolicy")
        if o["metadata"]["name"].endswith("default-deny")
    )
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    policies = [p for p in of_kind(objects, "NetworkPolicy") if p is not deny]
    for obj in workload_pods(objects):
        labels = pod_labels(obj)
        assert matches(deny["spec"]["podSelector"]["matchLabels"], labels)
        own = [p for p in policies if matches(p["spec"]["podSelector"]["matchLabels"], labels)]
        assert len(own) == 1, obj["metadata"]["name"]
        dns = [r for r in own[0]["spec"]["egress"] if {"port": 53, "protocol": "UDP"} in r["ports"]]
        assert dns, obj["metadata"]["name"]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_configured_endpoint_has_an_allowed_flow(profile):
    """The settings each app receives (DB, Redis, Qdrant, LLM, peers, OTLP) are reachable."""
    objects = render(profile)
    ingress, egress = graph(objects)
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service")}

    def allowed(src: str, host: str, port: int) -> bool:
        if host in services:
            dst = services[host]["spec"]["selector"]["app.kubernetes.io/name"]
            return (src, dst, port) in egress and (src, dst, port) in ingress
        return any(e[0] == src and e[1].startswith("cidr:") and e[2] == port for e in egress)

    for cm in of_kind(objects, "ConfigMap"):
        data = cm.get("data") or {}
        if "AIWFE_DB_HOST" not in data:
            continue
        src = cm["metadata"]["labels"]["app.kubernetes.io/name"]
        wanted = [
            (data["AIWFE_DB_HOST"], int(data["AIWFE_DB_PORT"])),
            (data["AIWFE_REDIS_HOST"], int(data["AIWFE_REDIS_PORT"])),
        ]
        for key in ("AIWFE_QDRANT_URL", "AIWFE_LLM_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            if key in data:
                url = urlparse(data[key])
                wanted.append((url.hostname, url.port or 443))
        if src in ("api-gateway", "task-processor"):
            url = urlparse(data["AIWFE_COGNITIVE_URL"])
            wanted.append((url.hostname, url.port))
        if src != "config-manager":
            url = urlparse(data["AIWFE_CONFIG_URL"])
            wanted.append((url.hostname, url.port))
        if src == "api-gateway":  # the gateway does not talk to the vector store or LLM
            wanted = [w for w in wanted if w[1] not in (QDRANT, LLM)]
        if src == "config-manager":
            wanted = [w for w in wanted if w[1] not in (QDRANT, LLM, REDIS, COGNITIVE)]
        for host, port in wanted:
            assert allowed(src, host, port), (profile, src, host, port)


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (
            ("ai-inference.enabled=false", "global.llm.url=http://ollama.gpu.internal:11434"),
            {("cognitive-services", 11434), ("task-processor", 11434)},
        ),
        (
            ("global.llm.provider=openai", "global.llm.url=https://api.openai.example/v1"),
            {("cognitive-services", 443), ("task-processor", 443)},
        ),
    ],
)
def test_remote_llm_egress_uses_the_url_port(sets, expected):
    _, egress = graph(render("default", sets))
    llm = {(e[0], e[2]) for e in egress if e[1] == "cidr:0.0.0.0/0" and e[0] != "ai-inference"}
    assert llm == expected
    assert not [e for e in egress if e[1] == "ai-inference"]


def test_external_otlp_endpoint_is_allowed():
    _, egress = graph(
        render(
            "default",
            (
                "global.tracing.otlpEndpoint=http://otel-collector.monitoring:4318",
                "networkPolicy.externalCidrs[0]=10.96.0.0/12",
            ),
        )
    )
    assert ("api-gateway", "cidr:10.96.0.0/12", 4318) in egress
    assert not [e for e in egress if e[1] == "observability"]


def metrics_port(component: str) -> int:
    """Where a component serves /metrics: its `metrics` port if the table names one, else
    `http` (the first-party services serve /metrics on their API port today)."""
    try:
        return components.port(component, "metrics")
    except LookupError:
        return components.port(component)


@pytest.mark.parametrize("profile", PROFILES)
def test_observability_reaches_only_metrics_ports(profile):
    """The observability pod (Prometheus, but also Grafana, Loki, Jaeger beside it) may open
    connections only to the metrics port of a first-party service: no data service, no model
    server, no external address, no other port."""
    objects = render(profile)
    ingress, egress = graph(objects)
    deployed = {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in workload_pods(objects)}
    scraped = {c for c in components.SERVICES if c in deployed}
    expected = {("observability", c, metrics_port(c)) for c in scraped}
    if "observability" not in deployed:
        expected = set()
    assert {e for e in egress if e[0] == "observability"} == expected
    assert {e for e in ingress if e[0] == "observability"} == expected

"""What the default render contains, and the invariants every object of every profile keeps."""

from __future__ import annotations

import re

import pytest
import yaml

from ci.chart import chart
from tests.chart.chart_support import (
    COMPONENTS,
    PROFILES,
    containers,
    of_kind,
    pod_labels,
    pod_spec,
    render,
)

APP_VERSION = yaml.safe_load((chart.CHART / "Chart.yaml").read_text())["appVersion"]


def workloads(objects):
    return of_kind(objects, "Deployment", "StatefulSet", "Job")


def test_default_render_has_exactly_the_eight_components():
    found = {
        (o["kind"], o["metadata"]["labels"]["app.kubernetes.io/name"]) for o in workloads(render())
    }
    assert found == {
        ("Deployment", "api-gateway"),
        ("Deployment", "cognitive-services"),
        ("Deployment", "task-processor"),
        ("Deployment", "config-manager"),
        ("Deployment", "observability"),
        ("StatefulSet", "data-platform"),
        ("StatefulSet", "ai-inference"),
        ("Job", "migration-operator"),
    }


def test_default_observability_and_data_platform_roles():
    objects = render()
    obs = next(o for o in workloads(objects) if o["metadata"]["name"] == "aiwfe-observability")
    assert [c["name"] for c in containers(obs)] == [
        "prometheus",
        "alertmanager",
        "grafana",
        "loki",
        "jaeger",
    ]
    dp = next(o for o in workloads(objects) if o["metadata"]["name"] == "aiwfe-data-platform")
    assert [c["name"] for c in containers(dp)] == ["postgres", "pgbouncer", "redis", "qdrant"]
    claims = {t["metadata"]["name"] for t in dp["spec"]["volumeClaimTemplates"]}
    assert claims == {"postgres-data", "redis-data", "qdrant-data"}
    # each container role is the image's role argument (docs/contracts.md)
    assert all(c["args"] == [c["name"]] for c in containers(dp))


@pytest.mark.parametrize("profile", PROFILES)
def test_every_object_is_labelled_with_its_component(profile):
    allowed = {*COMPONENTS, "aiwfe"}
    for obj in render(profile):
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/name") in allowed, obj["metadata"]["name"]
        assert labels.get("app.kubernetes.io/instance") == chart.RELEASE
        assert labels.get("app.kubernetes.io/part-of") == "aiwfe"
        if obj["kind"] in ("Deployment", "StatefulSet", "Job", "Pod"):
            assert pod_labels(obj)["app.kubernetes.io/name"] == labels["app.kubernetes.io/name"]


@pytest.mark.parametrize("profile", PROFILES)
def test_images_are_the_projects_own_and_pinned(profile):
    registry = "registry.airgap.internal:5000/" if "airgap" in profile else ""
    pattern = re.compile(
        rf"^{re.escape(registry)}aiwfe/(?P<component>[a-z-]+):(?P<tag>[^@:]+)(@sha256:[a-f0-9]{{64}})?$"
    )
    for obj in render(profile):
        for container in containers(obj):
            match = pattern.match(container["image"])
            assert match, container["image"]
            assert match["tag"] == APP_VERSION != "latest"
            owner = obj["metadata"]["labels"]["app.kubernetes.io/name"]
            expected = "api-gateway" if owner == "aiwfe" else owner  # the helm test pod
            assert match["component"] == expected, (obj["metadata"]["name"], container["image"])


def test_subcharts_share_the_umbrella_version():
    versions = {
        name: yaml.safe_load((chart.CHART / "charts" / name / "Chart.yaml").read_text())
        for name in (*COMPONENTS, "common")
    }
    umbrella = yaml.safe_load((chart.CHART / "Chart.yaml").read_text())
    deps = {d["name"]: d for d in umbrella["dependencies"]}
    assert set(deps) == {*COMPONENTS, "common"}
    for name, meta in versions.items():
        assert meta["appVersion"] == umbrella["appVersion"], name
        assert deps[name]["version"] == meta["version"], name
        assert deps[name]["repository"] == f"file://charts/{name}"
        if name != "common":
            assert deps[name]["condition"] == f"{name}.enabled"
    assert versions["common"]["type"] == "library"


# Components others call (validate.yaml refuses switching them off alone; test_negative.py):
# they go off together with their callers.
CALLERS = {
    "cognitive-services": ("api-gateway", "task-processor"),
    "config-manager": ("api-gateway", "cognitive-services", "task-processor"),
}


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_component_can_be_switched_off(component):
    off = {component, *CALLERS.get(component, ())}
    sets = [f"{name}.enabled=false" for name in sorted(off)]
    if component == "data-platform":
        sets += [
            "global.postgres.external=true",
            "global.postgres.host=db.example",
            "global.postgres.existingSecret=db",
            "global.redis.external=true",
            "global.redis.host=redis.example",
            "global.redis.existingSecret=redis",
            "global.vectorStore=pgvector",
        ]
    if component == "ai-inference":
        sets += ["global.llm.provider=local"]
    if component == "observability":
        sets += ["global.tracing.enabled=false"]
    if component == "migration-operator":
        # With the bundled database nothing else would create the schema (refused).
        sets += [
            "global.postgres.external=true",
            "global.postgres.host=db.example",
            "global.postgres.existingSecret=db",
        ]
    objects = render("default", tuple(sets))
    names = {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in workloads(objects)}
    assert component not in names
    assert names == set(COMPONENTS) - off


def test_external_data_services_replace_every_bundled_part():
    sets = (
        "global.postgres.external=true",
        "global.postgres.host=pg.example.com",
        "global.postgres.existingSecret=pg",
        "global.redis.external=true",
        "global.redis.host=redis.example.com",
        "global.redis.existingSecret=redis",
        "global.qdrant.external=true",
        "global.qdrant.url=https://qdrant.example.com:6333",
        "global.qdrant.existingSecret=qdrant",
    )
    objects = render("default", sets)
    assert not [o for o in workloads(objects) if o["metadata"]["name"] == "aiwfe-data-platform"]
    settings = next(
        o["data"]
        for o in objects
        if o["metadata"]["name"] == "aiwfe-cognitive-services" and o["kind"] == "ConfigMap"
    )
    assert settings["AIWFE_DB_HOST"] == "pg.example.com"
    assert settings["AIWFE_REDIS_HOST"] == "redis.example.com"
    assert settings["AIWFE_QDRANT_URL"] == "https://qdrant.example.com:6333"
    # no generated credential for an external service
    secrets = {o["metadata"]["name"] for o in of_kind(objects, "Secret")}
    assert not secrets & {"aiwfe-postgres", "aiwfe-redis", "aiwfe-qdrant"}


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        ((), {"postgres", "pgbouncer", "redis", "qdrant"}),
        (("global.vectorStore=pgvector",), {"postgres", "pgbouncer", "redis"}),
        (
            (
                "global.postgres.external=true",
                "global.postgres.host=pg",
                "global.postgres.existingSecret=pg",
            ),
            {"redis", "qdrant"},
        ),
        (
            (
                "global.redis.external=true",
                "global.redis.host=r",
                "global.redis.existingSecret=r",
                "global.qdrant.external=true",
                "global.qdrant.url=http://q:6333",
            ),
            {"postgres", "pgbouncer"},
        ),
    ],
)
def test_each_data_platform_part_is_independently_external(sets, expected):
    objects = render("default", sets)
    dp = next(o for o in workloads(objects) if o["metadata"]["name"] == "aiwfe-data-platform")
    assert {c["name"] for c in containers(dp)} == expected
    service = next(
        o for o in of_kind(objects, "Service") if o["metadata"]["name"] == "aiwfe-data-platform"
    )
    ports = {p["name"] for p in service["spec"]["ports"]}
    expected_ports = {
        "postgres": {"postgres"},
        "pgbouncer": {"pgbouncer"},
        "redis": {"redis"},
        "qdrant": {"qdrant-http", "qdrant-grpc"},
    }
    assert ports == set().union(*(expected_ports[c] for c in expected))


def test_pgvector_profile_settings():
    objects = render("kind")
    for cm in of_kind(objects, "ConfigMap"):
        if "AIWFE_VECTOR_STORE" in cm.get("data", {}):
            assert cm["data"]["AIWFE_VECTOR_STORE"] == "pgvector"
            assert "AIWFE_QDRANT_URL" not in cm["data"]
            assert cm["data"]["AIWFE_LLM_PROVIDER"] == "local"
            assert "AIWFE_LLM_URL" not in cm["data"]


@pytest.mark.parametrize("profile", PROFILES)
def test_pods_have_their_pull_secrets_and_service_accounts(profile):
    objects = render(profile)
    accounts = {o["metadata"]["name"] for o in of_kind(objects, "ServiceAccount")}
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        assert spec.get("automountServiceAccountToken") is False, obj["metadata"]["name"]
        if obj["kind"] != "Pod":
            assert spec["serviceAccountName"] in accounts
        if "airgap" in profile:
            assert spec["imagePullSecrets"] == [{"name": "airgap-registry"}]
        else:
            assert "imagePullSecrets" not in spec


@pytest.mark.parametrize("profile", PROFILES)
def test_helm3_and_helm4_render_the_same_objects(profile):
    """Both supported Helm majors produce the same manifests (random secret values aside)."""

    def normal(objects):
        out = []
        for obj in objects:
            if obj["kind"] == "Secret" or obj["metadata"]["name"].startswith("aiwfe-token-"):
                # generated credentials, and the generated token keys' public halves
                obj = {**obj, "data": sorted(obj.get("data", {}))}
            out.append(obj)
        return sorted(out, key=lambda o: (o["kind"], o["metadata"]["name"]))

    assert normal(render(profile)) == normal(render(profile, helm="helm4"))


def test_data_platform_with_every_part_external_renders_nothing():
    objects = render(
        "default",
        (
            "global.postgres.external=true",
            "global.postgres.host=pg",
            "global.postgres.existingSecret=pg",
            "global.redis.external=true",
            "global.redis.host=r",
            "global.redis.existingSecret=r",
            "global.vectorStore=pgvector",
        ),
    )
    owners = {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in objects}
    assert "data-platform" not in owners

"""Production guardrails are a choice: each override, set explicitly, renders what was asked
(the refusals themselves are in test_negative.py, GUARDRAILS)."""

from __future__ import annotations

import pytest

from tests.chart.chart_support import (
    RELEASE,
    by_name,
    containers,
    deployment,
    of_kind,
    pod_spec,
    render,
)


def allow(override: str, *sets: str) -> tuple[dict, ...]:
    return render("prod", (*sets, f"global.guardrails.{override}=true"))


def settings(objects, component: str) -> dict:
    return by_name(objects, "ConfigMap", f"{RELEASE}-{component}")["data"]


def test_prod_renders_with_every_guardrail_on():
    """values/prod.yaml itself passes every guardrail (no override set)."""
    objects = render("prod")
    assert of_kind(objects, "NetworkPolicy")
    assert settings(objects, "api-gateway")["AIWFE_DB_SSLMODE"] == "verify-full"


def test_allow_network_policy_disabled():
    objects = allow("allowNetworkPolicyDisabled", "networkPolicy.enabled=false")
    assert not of_kind(objects, "NetworkPolicy")


def test_allow_postgres_without_tls():
    objects = allow("allowPostgresWithoutTLS", "global.postgres.sslMode=disable")
    for component in ("api-gateway", "cognitive-services", "task-processor", "config-manager"):
        assert settings(objects, component)["AIWFE_DB_SSLMODE"] == "disable"


def test_allow_ingress_without_tls():
    objects = allow("allowIngressWithoutTLS", "api-gateway.ingress.tls.enabled=false")
    ingress = by_name(objects, "Ingress", f"{RELEASE}-api-gateway")
    assert "tls" not in ingress["spec"]


def test_allow_privileged_containers():
    objects = allow(
        "allowPrivilegedContainers", "cognitive-services.containerSecurityContext.privileged=true"
    )
    main = next(c for c in containers(deployment(objects, "cognitive-services"), init=False))
    assert main["securityContext"]["privileged"] is True
    # only the component that asked for it
    gateway = next(c for c in containers(deployment(objects, "api-gateway"), init=False))
    assert gateway["securityContext"]["privileged"] is False


@pytest.mark.parametrize(
    ("sets", "key", "url"),
    [
        (
            ("global.qdrant.url=http://qdrant.example.com:6333",),
            "AIWFE_QDRANT_URL",
            "http://qdrant.example.com:6333",
        ),
        (
            ("ai-inference.enabled=false", "global.llm.url=http://llm.example.com:11434"),
            "AIWFE_LLM_URL",
            "http://llm.example.com:11434",
        ),
    ],
)
def test_allow_plaintext_external_urls(sets, key, url):
    objects = allow("allowPlaintextExternalUrls", *sets)
    assert settings(objects, "cognitive-services")[key] == url


@pytest.mark.parametrize(
    "url",
    [
        "http://qdrant:6333",
        "http://qdrant.vectors.svc:6333",
        "http://qdrant.vectors.svc.cluster.local:6333",
        "https://qdrant.example.com:6333",
    ],
)
def test_cluster_local_or_tls_urls_need_no_override(url):
    objects = render("prod", (f"global.qdrant.url={url}",))
    assert settings(objects, "task-processor")["AIWFE_QDRANT_URL"] == url


def test_allow_single_replica():
    objects = allow("allowSingleReplica", "config-manager.replicaCount=1")
    assert deployment(objects, "config-manager")["spec"]["replicas"] == 1
    pdb = by_name(objects, "PodDisruptionBudget", f"{RELEASE}-config-manager")
    assert pdb["spec"]["maxUnavailable"] == 1  # never blocks the drain of that one pod


def test_allow_scale_to_zero_worker():
    objects = allow("allowSingleReplica", "task-processor.autoscaling.keda.minReplicas=0")
    scaled = by_name(objects, "ScaledObject", f"{RELEASE}-task-processor")
    assert scaled["spec"]["minReplicaCount"] == 0


def test_allow_no_pod_disruption_budget():
    objects = allow("allowNoPodDisruptionBudget", "cognitive-services.pdb.enabled=false")
    names = {p["metadata"]["name"] for p in of_kind(objects, "PodDisruptionBudget")}
    assert f"{RELEASE}-cognitive-services" not in names
    assert f"{RELEASE}-api-gateway" in names


def test_an_override_allows_only_its_own_refusal():
    """allowPrivilegedContainers does not also let networkPolicy off through."""
    from tests.chart.chart_support import render_error

    error = render_error(
        "prod",
        (
            "global.guardrails.allowPrivilegedContainers=true",
            "networkPolicy.enabled=false",
        ),
    )
    assert "global.guardrails.allowNetworkPolicyDisabled=true" in error


def test_migrations_off_with_an_external_database_render():
    """Migrations run elsewhere (the database is external): the app pods start without
    waiting on a Job that is not there."""
    objects = render(
        "default",
        (
            "migration-operator.enabled=false",
            "global.postgres.external=true",
            "global.postgres.host=db.example.com",
            "global.postgres.existingSecret=db",
        ),
    )
    assert not of_kind(objects, "Job")
    for component in ("api-gateway", "cognitive-services", "task-processor", "config-manager"):
        init = pod_spec(deployment(objects, component)).get("initContainers", [])
        assert not [c for c in init if c["name"] == "wait-for-migrations"], component

"""Bad values are refused, and the error names the key to fix (schema errors: the chart
and the value's path; template `fail`s: the dotted key)."""

from __future__ import annotations

import pytest

from tests.chart.chart_support import render_error

EXTERNAL_PG = (
    "global.postgres.external=true",
    "global.postgres.host=db",
    "global.postgres.existingSecret=db",
)

# (id, profile, --set values, text the error must contain)
CASES = [
    (
        "unknown-top-level-key",
        "default",
        ("replicas=3",),
        ("aiwfe:", "additional properties 'replicas'"),
    ),
    (
        "unknown-subchart-key",
        "default",
        ("api-gateway.replica=3",),
        ("api-gateway:", "'replica' not allowed"),
    ),
    (
        "unknown-global-key",
        "default",
        ("global.imageRegistryy=r",),
        ("'/global'", "'imageRegistryy'"),
    ),
    (
        "wrong-type-replicas",
        "default",
        ("api-gateway.replicaCount=three",),
        ("api-gateway:", "'/replicaCount'"),
    ),
    (
        "wrong-type-enabled",
        "default",
        ("observability.grafana.enabled=maybe",),
        ("observability:", "'/grafana/enabled'"),
    ),
    (
        "invalid-digest",
        "default",
        ("api-gateway.image.digest=sha256:abc",),
        ("api-gateway:", "'/image/digest'"),
    ),
    (
        "latest-tag",
        "default",
        ("cognitive-services.image.tag=latest",),
        ("cognitive-services:", "'/image/tag'"),
    ),
    (
        "invalid-pull-policy",
        "default",
        ("global.imagePullPolicy=Sometimes",),
        "'/global/imagePullPolicy'",
    ),
    ("invalid-vector-store", "default", ("global.vectorStore=milvus",), "'/global/vectorStore'"),
    ("invalid-llm-provider", "default", ("global.llm.provider=gpt",), "'/global/llm/provider'"),
    (
        "invalid-resources-preset",
        "default",
        ("task-processor.resourcesPreset=huge",),
        ("task-processor:", "'/resourcesPreset'"),
    ),
    ("gpu-count-zero", "gpu", ("ai-inference.gpu.count=0",), ("ai-inference:", "'/gpu/count'")),
    (
        "gpu-without-ai-inference",
        "default",
        (
            "ai-inference.enabled=false",
            "ai-inference.gpu.enabled=true",
            "global.llm.provider=local",
        ),
        "ai-inference.gpu.enabled",
    ),
    (
        "prod-generated-token-key",
        "prod",
        ("global.auth.tokenKeys.existingSecret=",),
        "global.auth.tokenKeys.existingSecret",
    ),
    (
        "prod-generated-admin",
        "prod",
        ("global.auth.admin.existingSecret=",),
        "global.auth.admin.existingSecret",
    ),
    (
        "prod-bundled-postgres",
        "prod",
        ("data-platform.enabled=true", "global.postgres.external=false"),
        "global.postgres.external",
    ),
    (
        "prod-bundled-qdrant",
        "prod",
        ("data-platform.enabled=true", "global.qdrant.external=false"),
        "global.qdrant.external",
    ),
    (
        "external-postgres-without-secret",
        "default",
        ("global.postgres.external=true", "global.postgres.host=db"),
        "global.postgres.existingSecret",
    ),
    (
        "external-postgres-without-host",
        "default",
        ("global.postgres.external=true", "global.postgres.existingSecret=db"),
        "global.postgres.host",
    ),
    (
        "external-redis-without-secret",
        "default",
        ("global.redis.external=true", "global.redis.host=r"),
        "global.redis.existingSecret",
    ),
    (
        "no-data-platform-nor-external-db",
        "default",
        ("data-platform.enabled=false",),
        "global.postgres.external",
    ),
    (
        "no-data-platform-qdrant-bundled",
        "default",
        (
            "data-platform.enabled=false",
            *EXTERNAL_PG,
            "global.redis.external=true",
            "global.redis.host=r",
            "global.redis.existingSecret=r",
        ),
        "global.qdrant.external",
    ),
    ("openai-without-url", "default", ("global.llm.provider=openai",), "global.llm.url"),
    (
        "ollama-without-server",
        "default",
        ("ai-inference.enabled=false",),
        "global.llm.url",
    ),
    (
        "tracing-without-jaeger",
        "default",
        ("observability.jaeger.enabled=false",),
        "global.tracing.otlpEndpoint",
    ),
    (
        "hpa-min-above-max",
        "default",
        (
            "api-gateway.autoscaling.enabled=true",
            "api-gateway.autoscaling.minReplicas=5",
            "api-gateway.autoscaling.maxReplicas=2",
        ),
        "api-gateway.autoscaling.minReplicas",
    ),
    (
        "ingress-without-hosts",
        "default",
        ("api-gateway.ingress.enabled=true",),
        "api-gateway.ingress.hosts",
    ),
    (
        "httproute-without-gateway",
        "default",
        ("api-gateway.httpRoute.enabled=true",),
        "api-gateway.httpRoute.parentRefs",
    ),
    (
        "certificate-without-issuer",
        "default",
        ("api-gateway.certificate.enabled=true", "api-gateway.ingress.hosts[0]=a.example.com"),
        "api-gateway.certificate.issuerRef.name",
    ),
    (
        "bad-external-cidr",
        "default",
        ("networkPolicy.externalCidrs[0]=10.0.0.0",),
        "'/networkPolicy/externalCidrs/0'",
    ),
    (
        "bad-volume-size",
        "default",
        ("data-platform.postgres.persistence.size=big",),
        ("data-platform:", "'/postgres/persistence/size'"),
    ),
    (
        "keda-without-worker",
        "default",
        ("task-processor.enabled=false", "task-processor.autoscaling.keda.enabled=true"),
        "task-processor.autoscaling.keda.enabled",
    ),
    # Components others call cannot go alone: their URLs would name no Service.
    (
        "cognitive-off-with-callers",
        "default",
        ("cognitive-services.enabled=false",),
        ("cognitive-services.enabled=false", "api-gateway", "task-processor"),
    ),
    (
        "config-manager-off-with-callers",
        "default",
        ("config-manager.enabled=false",),
        ("config-manager.enabled=false", "api-gateway", "cognitive-services", "task-processor"),
    ),
    (
        "config-manager-off-with-one-caller",
        "default",
        (
            "config-manager.enabled=false",
            "api-gateway.enabled=false",
            "task-processor.enabled=false",
        ),
        ("config-manager.enabled=false, but cognitive-services call it", "AIWFE_CONFIG_URL"),
    ),
    # With the bundled database only the migration Job creates the schema the pods wait for.
    (
        "migrations-off-with-bundled-db",
        "default",
        ("migration-operator.enabled=false",),
        ("migration-operator.enabled=false", "global.postgres.external=false"),
    ),
    # PodDisruptionBudgets a node drain could never get past.
    (
        "pdb-min-available-at-floor",
        "prod",
        ("api-gateway.pdb.minAvailable=3",),
        ("api-gateway.pdb.minAvailable=3", "api-gateway.autoscaling.minReplicas"),
    ),
    (
        "pdb-min-available-percent-at-floor",
        "staging",
        ("task-processor.pdb.minAvailable=100%",),
        ("task-processor.pdb.minAvailable=100%", "task-processor.autoscaling.minReplicas"),
    ),
    (
        "pdb-min-available-at-keda-floor",
        "prod",
        ("task-processor.pdb.minAvailable=2",),
        ("task-processor.pdb.minAvailable=2", "task-processor.autoscaling.keda.minReplicas"),
    ),
    (
        "pdb-min-available-at-replica-count",
        "default",
        ("config-manager.pdb.enabled=true", "config-manager.pdb.minAvailable=1"),
        ("config-manager.pdb.minAvailable=1", "config-manager.replicaCount"),
    ),
    (
        "pdb-max-unavailable-zero",
        "prod",
        ("cognitive-services.pdb.maxUnavailable=0",),
        "cognitive-services.pdb.maxUnavailable=0",
    ),
    (
        "pdb-both-budgets",
        "prod",
        ("cognitive-services.pdb.maxUnavailable=1", "cognitive-services.pdb.minAvailable=1"),
        ("cognitive-services.pdb", "not both"),
    ),
    (
        "pdb-budget-not-a-number",
        "prod",
        ("cognitive-services.pdb.maxUnavailable=one",),
        ("cognitive-services:", "'/pdb/maxUnavailable'"),
    ),
]

# Production guardrails (values/prod.yaml): (id, --set values, key named in the error,
# override that accepts it). Every refusal names the key and `global.guardrails.<override>=true`.
GUARDRAILS = [
    (
        "generated-token-key",
        ("global.auth.tokenKeys.existingSecret=",),
        'global.auth.tokenKeys.existingSecret=""',
        "allowGeneratedSecrets",
    ),
    (
        "bundled-postgres",
        ("data-platform.enabled=true", "global.postgres.external=false"),
        "global.postgres.external=false",
        "allowBundledStatefulServices",
    ),
    (
        "networkpolicy-off",
        ("networkPolicy.enabled=false",),
        "networkPolicy.enabled=false",
        "allowNetworkPolicyDisabled",
    ),
    (
        "postgres-sslmode-disable",
        ("global.postgres.sslMode=disable",),
        "global.postgres.sslMode=disable",
        "allowPostgresWithoutTLS",
    ),
    (
        "ingress-without-tls",
        ("api-gateway.ingress.tls.enabled=false",),
        "api-gateway.ingress.tls.enabled=false",
        "allowIngressWithoutTLS",
    ),
    (
        "privileged-container",
        ("cognitive-services.containerSecurityContext.privileged=true",),
        "cognitive-services.containerSecurityContext.privileged=true",
        "allowPrivilegedContainers",
    ),
    (
        "privilege-escalation",
        ("task-processor.containerSecurityContext.allowPrivilegeEscalation=true",),
        "task-processor.containerSecurityContext.allowPrivilegeEscalation=true",
        "allowPrivilegedContainers",
    ),
    (
        "added-capability",
        ("observability.containerSecurityContext.capabilities.add[0]=NET_ADMIN",),
        'observability.containerSecurityContext.capabilities.add=["NET_ADMIN"]',
        "allowPrivilegedContainers",
    ),
    (
        "root-pod",
        ("migration-operator.podSecurityContext.runAsUser=0",),
        "migration-operator.podSecurityContext.runAsUser=0",
        "allowPrivilegedContainers",
    ),
    (
        "non-root-off",
        ("ai-inference.containerSecurityContext.runAsNonRoot=false",),
        "ai-inference.containerSecurityContext.runAsNonRoot=false",
        "allowPrivilegedContainers",
    ),
    (
        "http-vector-store",
        ("global.qdrant.url=http://qdrant.example.com:6333",),
        "global.qdrant.url=http://qdrant.example.com:6333",
        "allowPlaintextExternalUrls",
    ),
    (
        "http-llm",
        ("ai-inference.enabled=false", "global.llm.url=http://llm.example.com:11434"),
        "global.llm.url=http://llm.example.com:11434",
        "allowPlaintextExternalUrls",
    ),
    (
        "http-llm-name-dot-namespace",
        ("ai-inference.enabled=false", "global.llm.url=http://ollama.models:11434"),
        "global.llm.url=http://ollama.models:11434",
        "allowPlaintextExternalUrls",
    ),
    (
        "single-replica",
        ("config-manager.replicaCount=1",),
        "config-manager.replicaCount=1",
        "allowSingleReplica",
    ),
    (
        "single-replica-hpa",
        ("api-gateway.autoscaling.minReplicas=1",),
        "api-gateway.autoscaling.minReplicas=1",
        "allowSingleReplica",
    ),
    (
        "scale-to-zero-keda",
        ("task-processor.autoscaling.keda.minReplicas=0",),
        "task-processor.autoscaling.keda.minReplicas=0",
        "allowSingleReplica",
    ),
    (
        "single-replica-model-server",
        ("ai-inference.replicaCount=1",),
        "ai-inference.replicaCount=1",
        "allowSingleReplica",
    ),
    (
        "no-pdb",
        ("cognitive-services.pdb.enabled=false",),
        "cognitive-services.pdb.enabled=false",
        "allowNoPodDisruptionBudget",
    ),
]


@pytest.mark.parametrize(
    ("profile", "sets", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_values_fail_naming_the_key(profile, sets, needle):
    error = render_error(profile, sets)
    for text in (needle,) if isinstance(needle, str) else needle:
        assert text in error, error


@pytest.mark.parametrize(
    ("sets", "key", "override"), [g[1:] for g in GUARDRAILS], ids=[g[0] for g in GUARDRAILS]
)
def test_production_guardrails_refuse_naming_key_and_override(sets, key, override):
    error = render_error("prod", sets)
    assert "global.guardrails.production" in error, error
    assert key in error, error
    assert f"global.guardrails.{override}=true" in error, error


@pytest.mark.parametrize(
    ("sets", "key", "override"), [g[1:] for g in GUARDRAILS], ids=[g[0] for g in GUARDRAILS]
)
def test_the_same_values_render_outside_production(sets, key, override):
    """The guardrails are production's: the same values are a legitimate dev choice."""
    from tests.chart.chart_support import render

    assert render("prod", (*sets, "global.guardrails.production=false"))


@pytest.mark.parametrize(
    ("profile", "sets", "needle"),
    [
        c[1:]
        for c in CASES
        if c[0]
        in {
            "unknown-subchart-key",
            "invalid-digest",
            "prod-generated-token-key",
            "pdb-both-budgets",
        }
    ],
)
def test_helm4_refuses_the_same_values(profile, sets, needle):
    error = render_error(profile, sets, helm="helm4")
    for text in (needle,) if isinstance(needle, str) else needle:
        assert text in error, error


def test_guardrails_can_be_relaxed_explicitly():
    """The prod guardrails are a choice: the allow flags let a bundled, generated setup render."""
    from tests.chart.chart_support import render

    objects = render(
        "prod",
        (
            "global.guardrails.allowGeneratedSecrets=true",
            "global.guardrails.allowBundledStatefulServices=true",
            "global.auth.tokenKeys.existingSecret=",
            "data-platform.enabled=true",
            "global.postgres.external=false",
            "global.postgres.existingSecret=",
        ),
    )
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}
    assert {"aiwfe-token-signing-key", "aiwfe-postgres"} <= names

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
]


@pytest.mark.parametrize(
    ("profile", "sets", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_values_fail_naming_the_key(profile, sets, needle):
    error = render_error(profile, sets)
    for text in (needle,) if isinstance(needle, str) else needle:
        assert text in error, error


@pytest.mark.parametrize(
    ("profile", "sets", "needle"),
    [
        c[1:]
        for c in CASES
        if c[0] in {"unknown-subchart-key", "invalid-digest", "prod-generated-token-key"}
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

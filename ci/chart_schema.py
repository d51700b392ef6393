"""values.schema.json of the umbrella chart and of every subchart, generated from one place.

The fragments below are shared by the subcharts so that the same key means the same thing
everywhere; `python -m ci.chart schema` writes the files and tests/chart checks they do not
drift. Draft-07 (Helm 3 and 4 both validate it); patterns are RE2 (no look-ahead).
"""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]

DRAFT = "http://json-schema.org/draft-07/schema#"
DIGEST = r"^(sha256:[a-f0-9]{64})?$"
PRESETS = ["nano", "micro", "small", "medium", "large", "xlarge"]


def obj(properties: dict[str, Schema], *, required: list[str] | None = None, **extra) -> Schema:
    """A closed object: unknown keys are errors (additionalProperties false)."""
    schema: Schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def s(description: str = "", **extra) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def b(description: str = "") -> Schema:
    return {"type": "boolean", **({"description": description} if description else {})}


def i(minimum: int | None = None, maximum: int | None = None) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def open_obj(description: str = "") -> Schema:
    """A Kubernetes pass-through object (validated by the API server, not here)."""
    return {"type": "object", **({"description": description} if description else {})}


def str_map() -> Schema:
    return {"type": "object", "additionalProperties": {"type": "string"}}


def arr(items: Schema | None = None) -> Schema:
    return {"type": "array", "items": items or {"type": "object"}}


INT_OR_STRING = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]}
QUANTITY = {"anyOf": [{"type": "string"}, {"type": "number"}]}
SIZE = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T)?$"}

IMAGE = obj(
    {
        "registry": s("image registry; global.imageRegistry wins"),
        "repository": s("image repository", minLength=1),
        "tag": {
            "type": "string",
            "not": {"const": "latest"},
            "description": "tag; empty means appVersion; never latest",
        },
        "digest": s("sha256:<64 hex>", pattern=DIGEST),
        "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    },
    required=["repository"],
)

RESOURCES = obj(
    {
        "requests": {"type": "object", "additionalProperties": QUANTITY},
        "limits": {"type": "object", "additionalProperties": QUANTITY},
        "claims": arr(),
    }
)

ENV_VAR = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]*$"}},
}

PROBE = open_obj("a Kubernetes probe")

SCHEDULING: dict[str, Schema] = {
    "podSecurityContext": open_obj("merged over the hardened pod securityContext"),
    "containerSecurityContext": open_obj("merged over the hardened container securityContext"),
    "podAnnotations": str_map(),
    "podLabels": str_map(),
    "nodeSelector": str_map(),
    "tolerations": arr(),
    "affinity": open_obj(),
    "topologySpreadConstraints": arr(),
    "priorityClassName": s(),
    "terminationGracePeriodSeconds": i(0),
}

COMMON: dict[str, Schema] = {
    "enabled": b("deploy this component"),
    "global": {"type": "object", "description": "validated by the umbrella's schema"},
    "image": IMAGE,
    "imagePullSecrets": arr({"anyOf": [{"type": "string"}, {"type": "object"}]}),
    "extraObjects": arr({"anyOf": [{"type": "object"}, {"type": "string"}]}),
}

SERVICE = obj(
    {"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "annotations": str_map()}
)
SERVICE_ACCOUNT = obj({"create": b(), "name": s(), "annotations": str_map()})
PDB = obj({"enabled": b(), "minAvailable": INT_OR_STRING, "maxUnavailable": INT_OR_STRING})
PERSISTENCE = obj({"enabled": b(), "size": SIZE, "storageClass": s()})


def resources_of(preset_default: str | None = None) -> dict[str, Schema]:
    return {"resourcesPreset": {"enum": PRESETS}, "resources": RESOURCES}


def autoscaling(keda: bool = False) -> Schema:
    props: dict[str, Schema] = {
        "enabled": b(),
        "minReplicas": i(1),
        "maxReplicas": i(1),
        "targetCPUUtilizationPercentage": i(1, 100),
        "targetMemoryUtilizationPercentage": i(0, 100),
    }
    if keda:
        props["keda"] = obj(
            {
                "enabled": b(),
                "minReplicas": i(0),
                "maxReplicas": i(1),
                "queueName": s(minLength=1),
                "listLength": i(1),
                "pollingInterval": i(1),
                "cooldownPeriod": i(0),
            }
        )
    return obj(props)


METRICS = obj(
    {
        "serviceMonitor": obj(
            {
                "enabled": b(),
                "interval": s(pattern=r"^[0-9]+(ms|s|m|h)$"),
                "scrapeTimeout": s(pattern=r"^[0-9]+(ms|s|m|h)$"),
                "labels": str_map(),
            }
        ),
        "prometheusRule": obj({"enabled": b(), "labels": str_map()}),
    }
)


def first_party(extra: dict[str, Schema] | None = None, *, keda: bool = False) -> Schema:
    props: dict[str, Schema] = {
        **COMMON,
        **SCHEDULING,
        **resources_of(),
        "replicaCount": i(0),
        "preStopSleepSeconds": i(0, 120),
        "logLevel": {"enum": ["", "debug", "info", "warning", "error", "critical"]},
        "probes": obj({"startup": PROBE, "readiness": PROBE, "liveness": PROBE}),
        "service": SERVICE,
        "serviceAccount": SERVICE_ACCOUNT,
        "pdb": PDB,
        "autoscaling": autoscaling(keda),
        "metrics": METRICS,
        "extraEnv": arr(ENV_VAR),
        "extraEnvFrom": arr(),
        "extraVolumes": arr(),
        "extraVolumeMounts": arr(),
    }
    props.update(extra or {})
    return obj(props)


GATEWAY_EXTRA: dict[str, Schema] = {
    "ingress": obj(
        {
            "enabled": b(),
            "className": s(),
            "annotations": str_map(),
            "hosts": arr({"type": "string", "minLength": 1}),
            "path": s(pattern="^/"),
            "pathType": {"enum": ["Prefix", "Exact", "ImplementationSpecific"]},
            "tls": obj({"enabled": b(), "secretName": s()}),
            "certManager": obj({"clusterIssuer": s(), "issuer": s()}),
        }
    ),
    "httpRoute": obj(
        {
            "enabled": b(),
            "parentRefs": arr({"type": "object", "required": ["name"]}),
            "hostnames": arr({"type": "string"}),
            "annotations": str_map(),
        }
    ),
    "certificate": obj(
        {
            "enabled": b(),
            "secretName": s(),
            "dnsNames": arr({"type": "string"}),
            "issuerRef": obj({"name": s(), "kind": {"enum": ["ClusterIssuer", "Issuer"]}}),
        }
    ),
}


def data_platform() -> Schema:
    return obj(
        {
            **COMMON,
            **SCHEDULING,
            "service": SERVICE,
            "serviceAccount": SERVICE_ACCOUNT,
            "pdb": PDB,
            "postgres": obj(
                {**resources_of(), "persistence": PERSISTENCE, "extraEnv": arr(ENV_VAR)}
            ),
            "pgbouncer": obj(
                {
                    **resources_of(),
                    "poolMode": {"enum": ["session", "transaction", "statement"]},
                    "maxClientConn": i(1),
                    "defaultPoolSize": i(1),
                }
            ),
            "redis": obj({**resources_of(), "persistence": PERSISTENCE}),
            "qdrant": obj({**resources_of(), "persistence": PERSISTENCE}),
            "extraVolumes": arr(),
        }
    )


def ai_inference() -> Schema:
    return obj(
        {
            **COMMON,
            **SCHEDULING,
            **resources_of(),
            "replicaCount": i(0),
            "models": arr({"type": "string", "minLength": 1}),
            "modelPull": obj({"enabled": b(), **resources_of()}),
            "persistence": PERSISTENCE,
            "gpu": obj(
                {
                    "enabled": b(),
                    "count": i(1),
                    "resourceName": s(pattern=r"^[a-z0-9.-]+/[a-z0-9.-]+$"),
                    "runtimeClassName": s(),
                    "nodeSelector": str_map(),
                    "tolerations": arr(),
                    "preflight": obj({"enabled": b()}),
                }
            ),
            "probes": obj({"startup": PROBE, "readiness": PROBE, "liveness": PROBE}),
            "service": SERVICE,
            "serviceAccount": SERVICE_ACCOUNT,
            "pdb": PDB,
            "extraEnv": arr(ENV_VAR),
            "extraVolumes": arr(),
            "extraVolumeMounts": arr(),
        }
    )


def observability() -> Schema:
    def role(**extra: Schema) -> Schema:
        return obj({"enabled": b(), **resources_of(), **extra})

    return obj(
        {
            **COMMON,
            **SCHEDULING,
            "persistence": PERSISTENCE,
            "prometheus": role(
                scrapeInterval=s(pattern=r"^[0-9]+(s|m)$"), extraScrapeConfigs=arr()
            ),
            "alertmanager": role(config=open_obj("alertmanager.yml")),
            "grafana": role(adminUser=s(minLength=1), extraDashboards=str_map()),
            "loki": role(),
            "jaeger": role(),
            "service": SERVICE,
            "serviceAccount": SERVICE_ACCOUNT,
            "pdb": PDB,
            "extraVolumes": arr(),
        }
    )


def migration_operator() -> Schema:
    return obj(
        {
            **COMMON,
            **{k: v for k, v in SCHEDULING.items() if k != "topologySpreadConstraints"},
            **resources_of(),
            "createAdmin": b(),
            "downgradeTo": s("Alembic revision to downgrade to"),
            "backoffLimit": i(0),
            "activeDeadlineSeconds": i(1),
            "failedHookTTLSeconds": i(0),
            "serviceAccount": SERVICE_ACCOUNT,
            "extraEnv": arr(ENV_VAR),
            "extraVolumes": arr(),
            "extraVolumeMounts": arr(),
        }
    )


def secret_ref(key_name: str) -> dict[str, Schema]:
    return {"existingSecret": s(), key_name: s(minLength=1)}


def global_schema() -> Schema:
    return obj(
        {
            "imageRegistry": s(),
            "imagePullSecrets": arr({"anyOf": [{"type": "string"}, {"type": "object"}]}),
            "imagePullPolicy": {"enum": ["", "Always", "IfNotPresent", "Never"]},
            "commonLabels": str_map(),
            "logLevel": {"enum": ["debug", "info", "warning", "error", "critical"]},
            # split mode (one process per module) is the benchmark's shape, run outside the chart.
            "cognitiveMode": {"enum": ["consolidated"]},
            "guardrails": obj(
                {
                    "production": b(),
                    "allowGeneratedSecrets": b(),
                    "allowBundledStatefulServices": b(),
                }
            ),
            "migrations": obj({"useHelmHooks": b()}),
            "postgres": obj(
                {
                    "external": b(),
                    "host": s(),
                    "port": i(1, 65535),
                    "database": s(minLength=1),
                    "username": s(minLength=1),
                    "sslMode": {"enum": ["disable", "require", "verify-ca", "verify-full"]},
                    **secret_ref("passwordKey"),
                }
            ),
            "redis": obj(
                {
                    "external": b(),
                    "host": s(),
                    "port": i(1, 65535),
                    "db": i(0, 15),
                    **secret_ref("passwordKey"),
                }
            ),
            "vectorStore": {"enum": ["qdrant", "pgvector"]},
            "qdrant": obj(
                {
                    "external": b(),
                    "url": s(pattern=r"^(https?://.+)?$"),
                    **secret_ref("apiKeyKey"),
                }
            ),
            "llm": obj(
                {
                    "provider": {"enum": ["ollama", "openai", "local"]},
                    "url": s(pattern=r"^(https?://.+)?$"),
                    "model": s(minLength=1),
                    **secret_ref("apiKeyKey"),
                }
            ),
            "embeddings": obj(
                {
                    "provider": {"enum": ["local", "ollama", "openai"]},
                    "model": s(minLength=1),
                    "dim": i(1),
                }
            ),
            "tracing": obj({"enabled": b(), "otlpEndpoint": s(pattern=r"^(https?://.+)?$")}),
            "auth": obj(
                {
                    "jwt": obj(secret_ref("key")),
                    "admin": obj({"username": s(minLength=1), **secret_ref("key")}),
                }
            ),
            "grafana": obj(secret_ref("passwordKey")),
        }
    )


SUBCHARTS = [
    "api-gateway",
    "cognitive-services",
    "data-platform",
    "task-processor",
    "ai-inference",
    "observability",
    "config-manager",
    "migration-operator",
]


def umbrella() -> Schema:
    peer_list = arr()
    props: dict[str, Schema] = {
        "global": global_schema(),
        "networkPolicy": obj(
            {
                "enabled": b(),
                "gatewayFrom": peer_list,
                "dns": obj({"namespaceSelector": open_obj(), "podSelector": open_obj()}),
                "externalCidrs": arr({"type": "string", "pattern": r"^[0-9a-fA-F:.]+/[0-9]+$"}),
                "llmEgress": obj(
                    {
                        "enabled": b(),
                        "cidrs": arr({"type": "string", "pattern": r"^[0-9a-fA-F:.]+/[0-9]+$"}),
                        "except": arr({"type": "string", "pattern": r"^[0-9a-fA-F:.]+/[0-9]+$"}),
                        "ports": arr(i(1, 65535)),
                    }
                ),
            }
        ),
        "tests": obj({"enabled": b()}),
        "extraObjects": arr({"anyOf": [{"type": "object"}, {"type": "string"}]}),
        "common": {"type": "object", "description": "library chart (no values)"},
    }
    for name in SUBCHARTS:
        props[name] = {
            "type": "object",
            "description": f"values of charts/{name} (validated by its own schema)",
            "properties": {"enabled": b(f"deploy {name}")},
        }
    return obj(props)


def all_schemas() -> dict[str, Schema]:
    """Path relative to charts/aiwfe -> schema."""
    schemas = {
        "values.schema.json": umbrella(),
        "charts/api-gateway/values.schema.json": first_party(GATEWAY_EXTRA),
        "charts/cognitive-services/values.schema.json": first_party(),
        "charts/task-processor/values.schema.json": first_party(
            {"concurrency": i(1), "redeliverAfterSeconds": i(10)}, keda=True
        ),
        "charts/config-manager/values.schema.json": first_party(
            {"config": open_obj("served config.yaml (no secrets)")}
        ),
        "charts/data-platform/values.schema.json": data_platform(),
        "charts/ai-inference/values.schema.json": ai_inference(),
        "charts/observability/values.schema.json": observability(),
        "charts/migration-operator/values.schema.json": migration_operator(),
    }
    return {
        path: {"$schema": DRAFT, "title": path.split("/")[-2] if "/" in path else "aiwfe", **sch}
        for path, sch in schemas.items()
    }


def dumps(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"

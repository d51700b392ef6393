"""The feature table of the chart, one behaviour per test."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.chart.chart_support import (
    MONITORING_API,
    by_name,
    containers,
    hook_events,
    is_hook,
    notes,
    of_kind,
    pod_spec,
    render,
)

DIGEST = "sha256:" + "ab" * 32
FIRST_PARTY = ("api-gateway", "cognitive-services", "task-processor", "config-manager")


def deployment(objects, component):
    return by_name(objects, "Deployment", f"aiwfe-{component}")


def annotations(obj):
    return obj["spec"]["template"]["metadata"].get("annotations", {})


# --- images ---------------------------------------------------------------------------


def test_global_registry_digest_and_pull_secrets():
    objects = render(
        "default",
        (
            "global.imageRegistry=registry.example.com:5000",
            f"api-gateway.image.digest={DIGEST}",
            "global.imagePullSecrets[0]=regcred",
            "api-gateway.imagePullSecrets[0].name=extra",
            "global.imagePullPolicy=Always",
        ),
    )
    gw = deployment(objects, "api-gateway")
    main = pod_spec(gw)["containers"][0]
    assert main["image"] == f"registry.example.com:5000/aiwfe/api-gateway:0.1.0@{DIGEST}"
    assert main["imagePullPolicy"] == "Always"
    assert pod_spec(gw)["imagePullSecrets"] == [{"name": "regcred"}, {"name": "extra"}]
    worker = deployment(objects, "task-processor")
    assert (
        pod_spec(worker)["containers"][0]["image"]
        == "registry.example.com:5000/aiwfe/task-processor:0.1.0"
    )
    assert pod_spec(worker)["imagePullSecrets"] == [{"name": "regcred"}]


# --- migrations and hooks -----------------------------------------------------------------


def test_default_bundled_db_runs_migrations_as_plain_job_and_apps_wait():
    objects = render()
    job = of_kind(objects, "Job")[0]
    assert not is_hook(job)
    assert job["metadata"]["name"].startswith("aiwfe-migration-operator-")
    spec = pod_spec(job)
    wait = spec["initContainers"][0]
    assert "until aiwfe-migrate current" in wait["command"][-1]
    migrate = spec["containers"][0]
    assert migrate["args"] == ["upgrade"]
    env = {e["name"]: e for e in migrate["env"]}
    assert env["AIWFE_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "aiwfe-admin"
    for component in FIRST_PARTY:
        init = pod_spec(deployment(objects, component))["initContainers"]
        assert [c["command"][-1] for c in init] == ["until aiwfe-migrate check; do sleep 3; done"]
    # nothing the Job needs is a hook (they are all release resources created together)
    assert not [o for o in objects if is_hook(o) and o["kind"] != "Pod"]


def test_external_db_runs_migrations_as_ordered_pre_install_hooks():
    objects = render(
        "prod",
        ("global.guardrails.allowGeneratedSecrets=true", "global.auth.admin.existingSecret="),
    )
    job = of_kind(objects, "Job")[0]
    assert job["metadata"]["name"] == "aiwfe-migration-operator-1"  # one per revision
    assert hook_events(job) == {"pre-install", "pre-upgrade"}
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    weight = int(ann["helm.sh/hook-weight"])
    # Everything the hook Job uses that the chart creates is itself an earlier hook.
    spec = pod_spec(job)
    sa = by_name(objects, "ServiceAccount", spec["serviceAccountName"])
    admin = by_name(objects, "Secret", "aiwfe-admin")
    for dependency in (sa, admin):
        assert hook_events(dependency) == {"pre-install", "pre-upgrade"}
        assert int(dependency["metadata"]["annotations"]["helm.sh/hook-weight"]) < weight
    assert int(admin["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        sa["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    # apps do not wait: the schema is at head before they roll
    for component in FIRST_PARTY:
        assert "initContainers" not in pod_spec(deployment(objects, component))
    # migrations talk to Postgres directly, the apps through the configured endpoint
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["AIWFE_DB_HOST"] == "aiwfe-db.prod.internal"
    assert spec["containers"][0]["args"] == ["upgrade"]


def test_bundled_db_upgrade_migrates_in_a_pre_upgrade_hook():
    """On upgrade the bundled database exists: migrate before the new pods roll."""
    objects = render("default", is_upgrade=True)
    job = of_kind(objects, "Job")[0]
    assert hook_events(job) == {"pre-upgrade"}
    assert job["metadata"]["name"] == "aiwfe-migration-operator-1"
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    # what it uses are ordinary release resources that exist since the install
    sa = by_name(objects, "ServiceAccount", pod_spec(job)["serviceAccountName"])
    assert not is_hook(sa)
    assert not [o for o in of_kind(objects, "Secret") if is_hook(o)]
    # the pod template of the apps does not depend on install vs upgrade (no spurious roll)
    install = render()
    for component in FIRST_PARTY:
        assert deployment(objects, component) == deployment(install, component)


def test_gitops_mode_has_no_hooks_and_apps_wait_for_the_schema():
    objects = render("prod", ("global.migrations.useHelmHooks=false",), is_upgrade=True)
    assert [o["metadata"]["name"] for o in objects if is_hook(o)] == ["aiwfe-smoke-test"]
    for component in FIRST_PARTY:
        init = pod_spec(deployment(objects, component))["initContainers"]
        assert "aiwfe-migrate check" in init[0]["command"][-1]


def test_migration_job_name_follows_its_inputs():
    """A plain Job's pod template is immutable: new image or settings -> new Job name."""
    base = of_kind(render(), "Job")[0]["metadata"]["name"]
    assert (
        of_kind(render("default", ("api-gateway.replicaCount=2",)), "Job")[0]["metadata"]["name"]
        == base
    )
    bumped = of_kind(render("default", ("migration-operator.image.tag=0.2.0",)), "Job")[0]
    assert bumped["metadata"]["name"] != base


def test_downgrade_path():
    job = of_kind(render("default", ("migration-operator.downgradeTo=0007",)), "Job")[0]
    migrate = pod_spec(job)["containers"][0]
    assert migrate["args"] == ["downgrade", "0007"]
    assert "AIWFE_ADMIN_PASSWORD" not in {e["name"] for e in migrate["env"]}


def test_helm_test_hook_logs_in_through_the_gateway():
    pod = by_name(render(), "Pod", "aiwfe-smoke-test")
    assert hook_events(pod) == {"test"}
    # kept after success so `helm test --logs` can read it; replaced by the next test run
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"
    c = pod["spec"]["containers"][0]
    assert c["command"] == ["aiwfe-smoke", "--url", "http://aiwfe-api-gateway:8080"]
    env = {e["name"]: e for e in c["env"]}
    assert env["AIWFE_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "aiwfe-admin",
        "key": "password",
    }
    by_name(render(), "Service", "aiwfe-api-gateway")


# --- checksums --------------------------------------------------------------------------


def test_checksums_roll_only_the_pods_whose_config_changed():
    before = render()
    after = render("default", ("config-manager.config.featureFlags.newFlag=true",))
    changed = {
        c
        for c in FIRST_PARTY
        if annotations(deployment(before, c)) != annotations(deployment(after, c))
    }
    assert changed == {"config-manager"}


def test_settings_change_rolls_every_first_party_pod():
    before = render()
    after = render("default", ("global.llm.model=qwen2.5:3b",))
    for c in FIRST_PARTY:
        a, b = annotations(deployment(before, c)), annotations(deployment(after, c))
        assert a["checksum/settings"] != b["checksum/settings"], c


def test_secret_reference_change_rolls_pods():
    before = render()
    after = render("default", ("global.auth.jwt.existingSecret=my-jwt",))
    gw_before, gw_after = deployment(before, "api-gateway"), deployment(after, "api-gateway")
    assert annotations(gw_before)["checksum/settings"] != annotations(gw_after)["checksum/settings"]
    # user-managed Secrets are tracked by resourceVersion (looked up at upgrade time)
    assert annotations(gw_before)["checksum/secrets"] != annotations(gw_after)["checksum/secrets"]
    env = {e["name"]: e for e in pod_spec(gw_after)["containers"][0]["env"]}
    assert env["AIWFE_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "my-jwt"
    assert "aiwfe-jwt" not in {o["metadata"]["name"] for o in of_kind(after, "Secret")}


def test_observability_config_change_rolls_observability():
    before = render()
    after = render("default", ("observability.prometheus.scrapeInterval=15s",))
    obs = "observability"
    assert annotations(deployment(before, obs)) != annotations(deployment(after, obs))


# --- GPU and models -----------------------------------------------------------------------


def test_gpu_scheduling():
    sts = by_name(render("gpu"), "StatefulSet", "aiwfe-ai-inference")
    spec = pod_spec(sts)
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    server = spec["containers"][0]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_no_gpu_by_default():
    spec = pod_spec(by_name(render(), "StatefulSet", "aiwfe-ai-inference"))
    assert "runtimeClassName" not in spec
    assert "nvidia.com/gpu" not in spec["containers"][0]["resources"]["limits"]


def test_gpu_preflight_is_skippable_and_offline_safe():
    """Offline renders cannot list nodes: the preflight must not fail them; it can be skipped."""
    assert render("gpu")
    assert render("gpu", ("ai-inference.gpu.preflight.enabled=false",))


def _node(name, allocatable):
    return {"metadata": {"name": name}, "status": {"allocatable": allocatable}}


@pytest.mark.parametrize(
    ("nodes", "verdict"),
    [
        ([_node("cpu-1", {"cpu": "8"}), _node("gpu-1", {"cpu": "8", "nvidia.com/gpu": "2"})], "ok"),
        ([_node("cpu-1", {"cpu": "8"}), _node("cpu-2", {"nvidia.com/gpu": "0"})], "fail"),
        ([], "ok"),  # empty lookup: helm template / client dry-run, no verdict
    ],
)
def test_gpu_preflight_decision(tmp_path, nodes, verdict):
    """The preflight's decision (common.gpu.preflight) against fake `lookup` node lists."""
    import shutil
    import subprocess

    from ci import chart

    probe = tmp_path / "probe"
    (probe / "templates").mkdir(parents=True)
    (probe / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (probe / "templates" / "check.yaml").write_text(
        '{{- include "common.gpu.preflight" (dict "nodes" .Values.nodes '
        '"resourceName" "nvidia.com/gpu") }}\n'
    )
    shutil.copytree(chart.CHART / "charts" / "common", probe / "charts" / "common")
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"nodes": {"items": nodes} if nodes else {}}))
    result = subprocess.run(
        [chart.helm_binary("helm3"), "template", "p", str(probe), "-f", str(values)],
        capture_output=True,
        text=True,
        env=chart.env_with_tools(),
        check=False,
    )
    if verdict == "ok":
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0
        assert "ai-inference.gpu.enabled: no node" in result.stderr
        assert "ai-inference.gpu.preflight.enabled=false" in result.stderr


def test_models_are_pulled_in_an_init_container_and_gate_readiness():
    sts = by_name(render("gpu"), "StatefulSet", "aiwfe-ai-inference")
    spec = pod_spec(sts)
    pull = spec["initContainers"][0]
    assert pull["args"] == ["pull"]
    env = {e["name"]: e["value"] for e in pull["env"]}
    assert env["AIWFE_MODELS"] == "llama3.1:8b,nomic-embed-text"
    assert {"name": "models", "mountPath": "/models"} in pull["volumeMounts"]
    server = spec["containers"][0]
    assert server["readinessProbe"]["exec"]["command"] == ["aiwfe-entrypoint", "check"]
    assert "lifecycle" not in server
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "models"
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"


# --- exposure -----------------------------------------------------------------------------


def test_ingress_tls_with_cert_manager():
    ingress = of_kind(render("staging"), "Ingress")[0]
    assert (
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        == "letsencrypt-staging"
    )
    assert ingress["spec"]["tls"] == [
        {"hosts": ["aiwfe.staging.example.com"], "secretName": "aiwfe-api-gateway-tls"}
    ]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "aiwfe-api-gateway", "port": {"name": "http"}}


def test_gateway_api_httproute_and_certificate():
    objects = render(
        "default",
        (
            "api-gateway.httpRoute.enabled=true",
            "api-gateway.httpRoute.parentRefs[0].name=public",
            "api-gateway.httpRoute.parentRefs[0].namespace=gateway-system",
            "api-gateway.httpRoute.hostnames[0]=aiwfe.example.com",
            "api-gateway.certificate.enabled=true",
            "api-gateway.certificate.issuerRef.name=letsencrypt",
        ),
    )
    route = of_kind(objects, "HTTPRoute")[0]
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system"}]
    assert route["spec"]["hostnames"] == ["aiwfe.example.com"]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "aiwfe-api-gateway", "port": 8080}]
    cert = of_kind(objects, "Certificate")[0]
    assert cert["spec"]["dnsNames"] == ["aiwfe.example.com"]
    assert cert["spec"]["issuerRef"]["name"] == "letsencrypt"
    assert "Gateway API HTTPRoute" in notes(
        "default",
        (
            "api-gateway.httpRoute.enabled=true",
            "api-gateway.httpRoute.parentRefs[0].name=public",
            "api-gateway.httpRoute.hostnames[0]=aiwfe.example.com",
        ),
    )


# --- scaling and availability -------------------------------------------------------------


def test_hpa_for_gateway_cognitive_and_worker():
    objects = render("staging")
    targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")
    }
    assert targets == {"aiwfe-api-gateway", "aiwfe-cognitive-services", "aiwfe-task-processor"}
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_keda_scales_the_worker_on_redis_queue_length():
    objects = render("prod")
    scaled = of_kind(objects, "ScaledObject")[0]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "aiwfe-task-processor"
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["address"] == "aiwfe-redis.prod.internal:6379"
    assert trigger["metadata"]["listName"] == "celery"
    auth = by_name(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "aiwfe-redis", "key": "password"}
    ]
    # the ScaledObject replaces the worker's HPA
    hpas = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")
    }
    assert "aiwfe-task-processor" not in hpas


def test_pdbs_in_prod():
    pdbs = {
        p["metadata"]["name"]: p["spec"] for p in of_kind(render("prod"), "PodDisruptionBudget")
    }
    assert pdbs["aiwfe-api-gateway"]["minAvailable"] == 2
    assert set(pdbs) == {
        "aiwfe-api-gateway",
        "aiwfe-cognitive-services",
        "aiwfe-task-processor",
        "aiwfe-config-manager",
        "aiwfe-ai-inference",
    }


def test_topology_spread_defaults_and_override():
    spec = pod_spec(deployment(render(), "api-gateway"))
    keys = [t["topologyKey"] for t in spec["topologySpreadConstraints"]]
    assert keys == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    custom = pod_spec(
        deployment(
            render(
                "default",
                (
                    "api-gateway.topologySpreadConstraints[0].maxSkew=2",
                    "api-gateway.topologySpreadConstraints[0].topologyKey=rack",
                    "api-gateway.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
                ),
            ),
            "api-gateway",
        )
    )
    assert [t["topologyKey"] for t in custom["topologySpreadConstraints"]] == ["rack"]


# --- monitoring ---------------------------------------------------------------------------


def test_monitoring_objects_only_with_the_crds():
    without = render()
    assert not of_kind(without, "ServiceMonitor", "PrometheusRule")
    with_crds = render("default", (), MONITORING_API)
    monitors = {m["metadata"]["name"] for m in of_kind(with_crds, "ServiceMonitor")}
    rules = {m["metadata"]["name"] for m in of_kind(with_crds, "PrometheusRule")}
    expected = {f"aiwfe-{c}" for c in FIRST_PARTY}
    assert monitors == expected and rules == expected


def test_bundled_prometheus_scrapes_and_alerts_without_the_crds():
    cm = by_name(render(), "ConfigMap", "aiwfe-observability-prometheus")
    config = yaml.safe_load(cm["data"]["prometheus.yml"])
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    for component, port in zip(FIRST_PARTY, (8080, 8081, 8083, 8082), strict=True):
        sd = jobs[f"aiwfe-{component}"]["dns_sd_configs"][0]
        assert sd["names"] == [f"aiwfe-{component}.aiwfe.svc"] and sd["port"] == port
    rules = yaml.safe_load(cm["data"]["rules.yml"])
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"AiwfeComponentDown", "AiwfeHighErrorRate"} <= alerts
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:9093"
    ]


def test_grafana_datasources_and_dashboards_are_configmaps():
    objects = render()
    ds = yaml.safe_load(
        by_name(objects, "ConfigMap", "aiwfe-observability-grafana-datasources")["data"][
            "datasources.yaml"
        ]
    )
    assert {d["type"] for d in ds["datasources"]} == {"prometheus", "loki", "jaeger"}
    dashboards = by_name(objects, "ConfigMap", "aiwfe-observability-grafana-dashboards")["data"]
    board = json.loads(dashboards["aiwfe-overview.json"])
    assert board["uid"] == "aiwfe-overview" and board["panels"]
    kind_ds = [o for o in render("kind") if o["metadata"]["name"].endswith("grafana-datasources")]
    assert not kind_ds


# --- escape hatches -----------------------------------------------------------------------


def test_extra_env_volumes_and_objects():
    objects = render(
        "default",
        (
            "cognitive-services.extraEnv[0].name=FEATURE_X",
            "cognitive-services.extraEnv[0].value=on",
            "cognitive-services.extraVolumes[0].name=cache",
            "cognitive-services.extraVolumes[0].emptyDir.medium=Memory",
            "cognitive-services.extraVolumeMounts[0].name=cache",
            "cognitive-services.extraVolumeMounts[0].mountPath=/var/cache/aiwfe",
            "extraObjects[0]=apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: {{ .Release.Name }}-extra\n"
            "  labels:\n    app.kubernetes.io/name: aiwfe\n    app.kubernetes.io/instance: aiwfe\n"
            "    app.kubernetes.io/part-of: aiwfe\ndata:\n  hello: world",
        ),
    )
    spec = pod_spec(deployment(objects, "cognitive-services"))
    main = spec["containers"][0]
    assert {"name": "FEATURE_X", "value": "on"} in main["env"]
    assert {"name": "cache", "mountPath": "/var/cache/aiwfe"} in main["volumeMounts"]
    assert {"name": "cache", "emptyDir": {"medium": "Memory"}} in spec["volumes"]
    assert by_name(objects, "ConfigMap", "aiwfe-extra")["data"] == {"hello": "world"}


# --- NOTES --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("default", "port-forward svc/aiwfe-api-gateway 8080:8080"),
        ("staging", "https://aiwfe.staging.example.com/"),
        ("prod", "get secret aiwfe-admin"),
    ],
)
def test_notes_say_how_to_reach_the_ui_and_get_the_password(profile, expected):
    text = notes(profile)
    assert expected in text
    assert "jsonpath='{.data.password}'" in text
    assert "helm test aiwfe" in text


# --- environment profiles -----------------------------------------------------------------


def _containers_by_workload(objects):
    return {
        o["metadata"]["labels"]["app.kubernetes.io/name"]: sorted(c["name"] for c in containers(o))
        for o in of_kind(objects, "Deployment", "StatefulSet")
    }


def test_airgap_disables_only_what_cannot_be_built_without_a_registry():
    objects = render("airgap")
    running = _containers_by_workload(objects)
    assert running["data-platform"] == ["pgbouncer", "postgres", "redis"]  # no qdrant
    assert running["observability"] == ["alertmanager", "jaeger", "loki", "prometheus"]
    assert running["ai-inference"] == ["ollama", "pull-models"]
    sts = by_name(objects, "StatefulSet", "aiwfe-ai-inference")
    pull_env = {e["name"]: e["value"] for e in pod_spec(sts)["initContainers"][0]["env"]}
    assert pull_env["AIWFE_MODELS"] == "aiwfe-tiny"


def test_kind_fits_two_cpus_and_runs_no_model_server():
    objects = render("kind")
    running = _containers_by_workload(objects)
    assert "ai-inference" not in running
    assert running["observability"] == ["alertmanager", "prometheus"]
    assert running["data-platform"] == ["pgbouncer", "postgres", "redis"]

    def millicores(value):
        text = str(value)
        return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)

    requested = sum(
        millicores(c["resources"]["requests"]["cpu"])
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet")
        for c in pod_spec(o)["containers"]
    )
    assert requested <= 250, requested  # leaves the node's 2 CPUs to kube-system and bursts
    for o in objects:
        for c in containers(o):
            assert c["imagePullPolicy"] == "IfNotPresent"


def test_worker_redelivery_delay_reaches_the_worker():
    """A killed worker's run is redelivered after redeliverAfterSeconds (Celery's visibility
    timeout); the kind profile shortens it so CI sees the recovery in minutes."""
    for profile, expected in (("default", "300"), ("kind", "60")):
        spec = pod_spec(deployment(render(profile), "task-processor"))
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        assert env["AIWFE_WORKER_VISIBILITY_TIMEOUT"] == expected, profile

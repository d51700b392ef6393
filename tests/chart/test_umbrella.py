"""The umbrella's global values and profiles: image settings for every component, settings
changes roll every first-party pod, HPAs/PDBs per profile, NOTES, airgap and kind."""

from __future__ import annotations

import pytest

from ci import components
from tests.chart.chart_support import (
    DIGEST,
    SERVICES,
    by_name,
    containers,
    deployment,
    notes,
    of_kind,
    pod_annotations,
    pod_spec,
    render,
)

GATEWAY = components.port("api-gateway")


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


def test_settings_change_rolls_every_first_party_pod():
    before = render()
    after = render("default", ("global.llm.model=qwen2.5:3b",))
    for c in SERVICES:
        a, b = pod_annotations(deployment(before, c)), pod_annotations(deployment(after, c))
        assert a["checksum/settings"] != b["checksum/settings"], c


def test_hpa_for_gateway_cognitive_and_worker():
    objects = render("staging")
    targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")
    }
    assert targets == {"aiwfe-api-gateway", "aiwfe-cognitive-services", "aiwfe-task-processor"}
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_pdbs_in_prod():
    pdbs = {
        p["metadata"]["name"]: p["spec"] for p in of_kind(render("prod"), "PodDisruptionBudget")
    }
    # maxUnavailable 1 everywhere: a drain always evicts one pod at a time (test_disruption.py)
    assert {name: spec.get("maxUnavailable") for name, spec in pdbs.items()} == dict.fromkeys(
        pdbs, 1
    )
    assert set(pdbs) == {
        "aiwfe-api-gateway",
        "aiwfe-cognitive-services",
        "aiwfe-task-processor",
        "aiwfe-config-manager",
        "aiwfe-ai-inference",
    }


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("default", f"port-forward svc/aiwfe-api-gateway {GATEWAY}:{GATEWAY}"),
        ("staging", "https://aiwfe.staging.example.com/"),
        ("prod", "get secret aiwfe-admin"),
    ],
)
def test_notes_say_how_to_reach_the_ui_and_get_the_password(profile, expected):
    text = notes(profile)
    assert expected in text
    assert "jsonpath='{.data.password}'" in text
    assert "helm test aiwfe" in text


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

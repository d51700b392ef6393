"""ai-inference: GPU scheduling, the GPU preflight and model pulls."""

from __future__ import annotations

import pytest
import yaml

from tests.chart.chart_support import (
    by_name,
    pod_spec,
    render,
)


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

    from ci.chart import chart

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

"""The local kind cluster works: nodes, core add-ons, local images, Services, DNS, volumes.

Runs against stock kind online and against the air-gapped node image offline (ci/cluster/kind.py
decides); nothing here pulls from a registry: the workload image is built locally and loaded
with `kind load docker-image`, and every pod uses imagePullPolicy: Never.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
from kubernetes import client
from pytest_helm_charts.k8s.daemon_set import wait_for_daemon_sets_to_run
from pytest_helm_charts.k8s.deployment import wait_for_deployments_to_run

from ci import pins
from ci.cluster import kind as cluster_mod
from ci.cluster import kind_docker_shim

READY_TIMEOUT = 300
POD_TIMEOUT = 180


def wait_for_pod_phase(
    core_v1: client.CoreV1Api, name: str, namespace: str, phases: set[str], timeout: float
) -> client.V1Pod:
    deadline = time.monotonic() + timeout
    pod = None
    while time.monotonic() < deadline:
        pod = core_v1.read_namespaced_pod(name, namespace)
        if pod.status.phase in phases:
            return pod
        if pod.status.phase == "Failed" and "Failed" not in phases:
            break
        time.sleep(2)
    events = core_v1.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    detail = "; ".join(f"{e.reason}: {e.message}" for e in events.items)
    phase = pod.status.phase if pod else "unknown"
    raise AssertionError(f"pod {namespace}/{name} is {phase}, wanted {phases}; events: {detail}")


def run_pod(
    core_v1: client.CoreV1Api,
    namespace: str,
    name: str,
    image: str,
    script: str,
    volumes: list[client.V1Volume] | None = None,
    mounts: list[client.V1VolumeMount] | None = None,
) -> str:
    """Run `sh -c script` to completion in a pod and return its log (asserting success)."""
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            restart_policy="Never",
            volumes=volumes,
            containers=[
                client.V1Container(
                    name="main",
                    image=image,
                    image_pull_policy="Never",
                    command=["sh", "-c", script],
                    volume_mounts=mounts,
                )
            ],
        ),
    )
    core_v1.create_namespaced_pod(namespace, pod)
    done = wait_for_pod_phase(core_v1, name, namespace, {"Succeeded", "Failed"}, POD_TIMEOUT)
    log = core_v1.read_namespaced_pod_log(name, namespace)
    assert done.status.phase == "Succeeded", f"pod {name} failed; log:\n{log}"
    return log


def test_cluster_is_created_with_the_pinned_node_image(kind_cluster):
    assert kind_cluster.kubeconfig.is_file()
    assert kind_cluster.nodes() == [f"{kind_cluster.name}-control-plane"]
    if kind_cluster.airgapped:
        assert kind_cluster.image.startswith("aiwfe.local/kind-node:")


def test_shim_is_used_exactly_when_privileged_is_refused(kind_cluster):
    real = str(cluster_mod.real_docker(kind_cluster.env))
    probe = [real, "run", "--rm", "--privileged", "--entrypoint", "true", kind_cluster.image]
    refused = subprocess.run(probe, capture_output=True).returncode != 0
    assert kind_cluster.shim == refused
    on_path = subprocess.run(
        ["sh", "-c", "command -v docker"], env=kind_cluster.env, capture_output=True, text=True
    ).stdout.strip()
    shim = str(kind_docker_shim.wrapper_path())
    assert (on_path == shim) == refused, f"kind's docker is {on_path}"


def test_airgapped_node_image_records_what_it_contains(kind_cluster):
    if not kind_cluster.airgapped:
        pytest.skip("online: stock kindest/node image")
    out = subprocess.run(
        [
            "docker",
            "exec",
            f"{kind_cluster.name}-control-plane",
            "cat",
            "/kind/aiwfe-node-image.json",
        ],
        env=kind_cluster.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    record = json.loads(out)
    assert record["image"] == kind_cluster.image
    assert record["kubernetes"] == pins.kind_node_version()
    assert record["kind"] == pins.tool("kind").version
    assert {"containerd", "runc", "containernetworking-plugins"} <= set(record["debian_packages"])


def test_every_node_is_ready(core_v1, kind_cluster):
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        nodes = core_v1.list_node().items
        not_ready = [
            n.metadata.name
            for n in nodes
            if not any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        ]
        if nodes and not not_ready:
            break
        assert time.monotonic() < deadline, f"nodes not Ready: {not_ready or 'none listed'}"
        time.sleep(3)
    versions = {n.status.node_info.kubelet_version for n in nodes}
    assert all(v.startswith("v1.34.") for v in versions), versions
    if kind_cluster.airgapped:
        assert versions == {pins.kind_node_version()}


@pytest.mark.parametrize(
    ("namespace_name", "label", "kind", "name"),
    [
        ("kube-system", "k8s-app=kube-dns", "deployment", "coredns"),
        ("kube-system", "app=kindnet", "daemonset", "kindnet"),
        ("kube-system", "k8s-app=kube-proxy", "daemonset", "kube-proxy"),
        (
            "local-path-storage",
            "app=local-path-provisioner",
            "deployment",
            "local-path-provisioner",
        ),
    ],
)
def test_core_pods_are_running(kube_cluster, core_v1, namespace_name, label, kind, name):
    pykube_client = kube_cluster.kube_client
    if kind == "deployment":
        wait_for_deployments_to_run(pykube_client, [name], namespace_name, READY_TIMEOUT)
    else:
        wait_for_daemon_sets_to_run(pykube_client, [name], namespace_name, READY_TIMEOUT)
    pods = core_v1.list_namespaced_pod(namespace_name, label_selector=label).items
    assert pods, f"no {label} pods in {namespace_name}"
    assert {p.status.phase for p in pods} == {"Running"}
    assert all(all(cs.ready for cs in p.status.container_statuses) for p in pods)


def test_loaded_image_runs_behind_a_service_reached_by_dns(
    kube_cluster, core_v1, apps_v1, namespace, local_image
):
    labels = {"app": "web"}
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web", labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="web",
                            image=local_image,
                            image_pull_policy="Never",
                            ports=[client.V1ContainerPort(container_port=8080)],
                            readiness_probe=client.V1Probe(
                                http_get=client.V1HTTPGetAction(path="/", port=8080),
                                period_seconds=2,
                            ),
                        )
                    ]
                ),
            ),
        ),
    )
    apps_v1.create_namespaced_deployment(namespace, deployment)
    service = client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(
            selector=labels,
            ports=[client.V1ServicePort(port=80, target_port=8080)],
        ),
    )
    core_v1.create_namespaced_service(namespace, service)
    wait_for_deployments_to_run(kube_cluster.kube_client, ["web"], namespace, POD_TIMEOUT)

    fqdn = f"web.{namespace}.svc.cluster.local"
    cluster_ip = core_v1.read_namespaced_service("web", namespace).spec.cluster_ip
    script = (
        f"set -e; busybox nslookup {fqdn}; "
        f"for i in 1 2 3 4 5; do busybox wget -q -T 5 -O - http://{fqdn}/ && exit 0; sleep 2; "
        "done; exit 1"
    )
    log = run_pod(core_v1, namespace, "client", local_image, script)
    assert cluster_ip in log, f"{fqdn} did not resolve to the Service IP {cluster_ip}:\n{log}"
    assert "aiwfe-kind-smoke" in log, f"the Service did not route to the Deployment:\n{log}"


def test_pvc_binds_and_keeps_data_across_pod_restarts(core_v1, namespace, local_image):
    claim = client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name="data"),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            resources=client.V1VolumeResourceRequirements(requests={"storage": "16Mi"}),
        ),
    )
    core_v1.create_namespaced_persistent_volume_claim(namespace, claim)
    volumes = [
        client.V1Volume(
            name="data",
            persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(claim_name="data"),
        )
    ]
    mounts = [client.V1VolumeMount(name="data", mount_path="/data")]
    token = uuid.uuid4().hex

    run_pod(
        core_v1, namespace, "writer", local_image, f"echo {token} > /data/token", volumes, mounts
    )
    bound = core_v1.read_namespaced_persistent_volume_claim("data", namespace)
    assert bound.status.phase == "Bound"
    assert bound.spec.storage_class_name == "standard"

    core_v1.delete_namespaced_pod("writer", namespace, grace_period_seconds=0)
    log = run_pod(core_v1, namespace, "reader", local_image, "cat /data/token", volumes, mounts)
    assert log.strip() == token

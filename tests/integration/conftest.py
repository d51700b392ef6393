"""Fixtures for tests that need the local kind cluster (stock online, air-gapped offline).

- `kind_cluster` (session): the cluster from ci.cluster.up(), created or reused; an object
  with `.name`, `.kubeconfig`, `.image`, `.airgapped`, `.shim` and `.load_image(tag)`.
- `kubeconfig` (session): its kubeconfig path; `kube_config` feeds it to pytest-helm-charts,
  whose `kube_cluster` fixture (pykube client, for its waiters) then works as documented.
- `k8s_api` (session): a `kubernetes` ApiClient; `core_v1`, `apps_v1` built on it.
- `namespace`: a fresh namespace per test, deleted afterwards.
- `local_image` (session): a tiny image built locally FROM the debootstrapped userland (no
  registry pull; online without debootstrap: the pinned Debian image), loaded into the cluster
  with `kind load docker-image`.

Set AIWFE_CLUSTER_TEARDOWN=1 to delete the cluster after the session (default: keep it for the
next run, which then reuses it in seconds).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from ci import pins
from ci.cluster import kind as cluster_mod
from ci.nodeimage import build as nodeimage

TEST_IMAGE_REPO = "aiwfe.local/kind-smoke"


_CLUSTERS: list[cluster_mod.Cluster] = []


def pytest_terminal_summary(terminalreporter) -> None:
    """One line per cluster the session used: mode, shim, image and creation time."""
    for cluster in _CLUSTERS:
        created = (
            f"created in {cluster.created_seconds:.0f}s"
            if cluster.created_seconds is not None
            else "reused"
        )
        mode = "air-gapped" if cluster.airgapped else "online"
        shim = "docker shim" if cluster.shim else "plain docker"
        terminalreporter.write_line(
            f"kind cluster {cluster.name}: {mode}, {shim}, {cluster.image}, {created}"
        )


@pytest.fixture(scope="session")
def kind_cluster() -> Iterator[cluster_mod.Cluster]:
    try:
        cluster = cluster_mod.up()
    except cluster_mod.ClusterError as exc:
        pytest.fail(f"kind cluster could not be brought up: {exc}", pytrace=False)
    _CLUSTERS.append(cluster)
    yield cluster
    if os.environ.get("AIWFE_CLUSTER_TEARDOWN") == "1":
        cluster_mod.down(cluster.name)


@pytest.fixture(scope="session")
def kubeconfig(kind_cluster: cluster_mod.Cluster) -> Path:
    return kind_cluster.kubeconfig


@pytest.fixture(scope="module")
def kube_config(kubeconfig: Path) -> str:
    """Overrides pytest-helm-charts' option-based fixture with our cluster's kubeconfig."""
    return str(kubeconfig)


@pytest.fixture(scope="session")
def k8s_api(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    yield api
    api.close()


@pytest.fixture(scope="session")
def core_v1(k8s_api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(k8s_api)


@pytest.fixture(scope="session")
def apps_v1(k8s_api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(k8s_api)


@pytest.fixture
def namespace(core_v1: client.CoreV1Api) -> Iterator[str]:
    name = f"aiwfe-it-{uuid.uuid4().hex[:8]}"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core_v1.delete_namespace(name, propagation_policy="Background")


def test_image_base(kind_cluster: cluster_mod.Cluster) -> tuple[str, str]:
    """(base image, extra Dockerfile lines) for the workload image: the debootstrapped userland
    wherever we can make it (always when air-gapped); online without debootstrap or root, the
    pinned Debian image plus busybox from apt."""
    if kind_cluster.airgapped or (os.geteuid() == 0 and shutil.which("debootstrap")):
        # the plain tools environment: the builder must never see the shim as its docker
        return nodeimage.ensure_userland_image(env=cluster_mod.base_env()), ""
    online = pins.load()["images"]["debian"]["online_image"]
    apt = (
        "RUN apt-get update && apt-get install -y --no-install-recommends busybox-static"
        " && rm -rf /var/lib/apt/lists/*\n"
    )
    return online, apt


@pytest.fixture(scope="session")
def local_image(kind_cluster: cluster_mod.Cluster) -> str:
    """A small HTTP server image, built here and loaded with `kind load docker-image`."""
    env = cluster_mod.base_env()
    base, extra = test_image_base(kind_cluster)
    digest = hashlib.sha256(f"{base}\n{extra}".encode()).hexdigest()[:12]
    tag = f"{TEST_IMAGE_REPO}:{digest}"
    with tempfile.TemporaryDirectory(prefix="aiwfe-kind-smoke-") as tmp:
        Path(tmp, "Dockerfile").write_text(
            f"FROM {base}\n{extra}"
            "RUN mkdir -p /www && echo aiwfe-kind-smoke > /www/index.html\n"
            'CMD ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n'
        )
        subprocess.run(["docker", "build", "-q", "-t", tag, tmp], env=env, check=True)
    kind_cluster.load_image(tag)
    return tag


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can collect logs on failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

"""The whole AIWFE stack on kind, used as users use it: install, use, upgrade, roll back, break.

The tests run in file order and share one release in one fresh namespace (module fixture):
each step builds on the state the previous one left, as a real operator's day does. Images
come from `nox -s images` (cached); values from values/kind.yaml.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from gateway_client import Gateway, LoadLoop
from kubernetes import client

from ci.cluster import stack
from ci.cluster.release import Release, ReleaseError
from ci.paths import BUILD, TOOLS_BIN

pytestmark = pytest.mark.stack
RELEASE = "aiwfe"
UPGRADE_VALUES = Path(__file__).with_name("values-upgrade.yaml")
TIMINGS = BUILD / "integration" / "timings.json"


def record(key: str, seconds: float) -> None:
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    data[key] = round(seconds, 1)
    TIMINGS.write_text(json.dumps(data, indent=2) + "\n")


def wait_for(what: str, predicate, timeout: float = 300, interval: float = 2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # the API or the app may be restarting: keep asking
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def requests_after(load, count: int, what: str) -> None:
    """Wait until the load loop has answered `count` more requests (ok or failed): the window
    around an upgrade or a pod deletion is measured in requests, not in seconds, so a loaded
    machine cannot shrink it to nothing."""
    target = load.ok + len(load.failures) + count
    wait_for(what, lambda: load.ok + len(load.failures) >= target, timeout=120, interval=0.1)


def pods_ready(core: client.CoreV1Api, namespace: str) -> list[str]:
    """Names of running pods that are not Ready (empty when all are)."""
    pending = []
    for pod in core.list_namespaced_pod(namespace).items:
        if pod.status.phase == "Succeeded":
            continue
        conditions = {c.type: c.status for c in pod.status.conditions or []}
        if pod.metadata.deletion_timestamp or conditions.get("Ready") != "True":
            pending.append(pod.metadata.name)
    return pending


def all_ready(core: client.CoreV1Api, namespace: str) -> bool:
    pods = core.list_namespaced_pod(namespace).items
    return bool(pods) and not pods_ready(core, namespace)


def completed_migration_jobs(core: client.CoreV1Api, namespace: str) -> set[str]:
    """Migration Jobs that completed, from events (hook Jobs are deleted once they succeed)."""
    events = core.list_namespaced_event(namespace).items
    return {
        e.involved_object.name
        for e in events
        if e.involved_object.kind == "Job"
        and "migration-operator" in e.involved_object.name
        and e.reason == "Completed"
    }


@pytest.fixture(scope="module")
def stack_namespace(core_v1: client.CoreV1Api):
    name = f"aiwfe-it-{uuid.uuid4().hex[:6]}"
    yield name
    try:
        core_v1.delete_namespace(name, propagation_policy="Background")
    except client.exceptions.ApiException as exc:
        if exc.status != 404:  # never created: the install failed before helm made it
            raise


@pytest.fixture(scope="module")
def release(kind_cluster, stack_namespace: str) -> Release:
    return Release(RELEASE, stack_namespace, kind_cluster.kubeconfig, helm=str(TOOLS_BIN / "helm"))


@pytest.fixture(scope="module")
def installed(kind_cluster, release: Release, core_v1) -> Release:
    """Images loaded, chart installed with --wait, gateway exposed on 127.0.0.1:30080."""
    started = time.monotonic()
    for tag in stack.build_images():
        kind_cluster.load_image(tag)
    record("images_build_and_load_s", time.monotonic() - started)
    stack.install(release, ["kind"], "install")
    record("helm_install_to_all_ready_s", release.history[-1])
    return release


@pytest.fixture(autouse=True)
def diagnostics_on_failure(request, release: Release):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        release.diagnose(request.node.name)


@pytest.fixture(scope="module")
def gateway(installed: Release) -> Gateway:
    username, password = stack.admin_credentials(installed)
    gw = Gateway(stack.GATEWAY_URL, username, password)
    wait_for("the gateway on its NodePort", lambda: gw.get("/api/ready").status_code == 200)
    gw.login()
    return gw


@pytest.fixture(scope="module")
def memory():
    """What earlier steps stored, for later steps to find again."""
    return {}


# ---- install ----------------------------------------------------------------------------


def test_install_makes_every_pod_ready_and_runs_the_migration(installed, core_v1):
    assert not pods_ready(core_v1, installed.namespace)
    assert installed.status()["info"]["status"] == "deployed"
    assert completed_migration_jobs(core_v1, installed.namespace), "no migration Job completed"


def test_helm_test_logs_in_and_runs_a_workflow(installed):
    output = installed.test()
    assert "Phase:          Succeeded" in output or "Succeeded" in output, output


def test_web_ui_is_served_at_root(gateway):
    response = gateway.get("/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_a_workflow_uses_every_module_and_memory_recalls_it(gateway, memory):
    marker = f"kiwi-{uuid.uuid4().hex[:8]}"
    text = (
        f"The {marker} project ships on Fridays. Alice owns the {marker} release checklist. "
        "Deployments need two approvals."
    )
    run = gateway.create_workflow(
        "integration: all modules",
        [
            {"type": "perceive", "params": {"text": text}},
            {"type": "remember", "params": {"text": text, "namespace": "it", "tags": [marker]}},
            {
                "type": "recall",
                "params": {"query": f"Who owns the {marker} checklist?", "namespace": "it"},
            },
            {
                "type": "decide",
                "params": {
                    "question": f"When should {marker} ship?",
                    "options": [{"name": "Friday"}, {"name": "Monday"}],
                    "criteria": [{"name": "risk", "weight": 0.6}, {"name": "speed", "weight": 0.4}],
                },
            },
            {"type": "generate", "params": {"prompt": f"Summarise the {marker} plan."}},
        ],
    )
    done = gateway.wait_run(run["id"])
    assert done["status"] == "succeeded", done
    feedback = gateway.post(
        "/api/v1/feedback",
        {"run_id": run["id"], "outcome": "success", "rating": 5, "subject": "integration"},
    )
    assert feedback.status_code == 201, feedback.text
    stats = gateway.get("/api/v1/learning/stats", params={"subject": "integration"})
    assert stats.status_code == 200 and stats.json(), stats.text
    found = gateway.post(
        "/api/v1/memory/search",
        {"query": f"Who owns the {marker} release checklist?", "namespace": "it"},
    )
    assert found.status_code == 200, found.text
    assert marker in json.dumps(found.json()), found.json()
    memory.update(run_id=run["id"], marker=marker)


def test_metrics_reach_prometheus(installed, k8s_api):
    core = client.CoreV1Api(k8s_api)

    def query():
        # Through the API server's service proxy: what `kubectl get --raw` does.
        api = core.api_client
        method, url, headers, body, post = api.param_serialize(
            "GET",
            f"/api/v1/namespaces/{installed.namespace}/services/"
            "aiwfe-observability:prometheus/proxy/api/v1/query",
            query_params=[("query", "up == 1")],
            auth_settings=["BearerToken"],
        )
        response = api.call_api(method, url, headers, body, post)
        response.read()
        data = json.loads(response.data)
        jobs = {r["metric"].get("job", "") for r in data["data"]["result"]}
        return jobs if wanted <= jobs else None

    # Every first-party service is a scrape target, each up (targets appear one by one).
    wanted = {
        f"aiwfe-{c}"
        for c in ("api-gateway", "cognitive-services", "config-manager", "task-processor")
    }
    jobs = wait_for(
        "Prometheus to scrape every first-party service", query, timeout=180, interval=5
    )
    assert wanted <= jobs, jobs


# ---- upgrade, faults, rollback -----------------------------------------------------------


def test_upgrade_under_load_fails_no_request_and_reruns_the_migration(installed, gateway, core_v1):
    before = completed_migration_jobs(core_v1, installed.namespace)
    with LoadLoop(stack.GATEWAY_URL, gateway.token) as load:
        requests_after(load, 30, "the load loop to run before the upgrade")
        installed.upgrade_install(["kind", UPGRADE_VALUES])
        requests_after(load, 50, "requests while the old pods drain after the upgrade")
    record("helm_upgrade_s", installed.history[-1])
    assert load.ok > 50, f"the load loop barely ran ({load.ok} requests)"
    assert load.failures == [], f"{len(load.failures)} failed of {load.ok}: {load.failures[:5]}"
    after = completed_migration_jobs(core_v1, installed.namespace)
    assert after - before, "the pre-upgrade migration hook did not run again"
    assert len(installed.revisions()) == 2


def test_gateway_pod_deleted_under_load_stays_within_retry_budget(installed, gateway, core_v1):
    def settled_gateways():
        # The upgrade's old pods may still be draining (preStop): wait for two Ready ones.
        pods = core_v1.list_namespaced_pod(
            installed.namespace, label_selector="app.kubernetes.io/name=api-gateway"
        ).items
        if pods_ready(core_v1, installed.namespace) or len(pods) != 2:
            return None
        return pods

    pods = wait_for("two settled gateway replicas", settled_gateways, timeout=180)
    with LoadLoop(stack.GATEWAY_URL, gateway.token, retries=2) as load:
        requests_after(load, 20, "the load loop to run before the deletion")
        core_v1.delete_namespaced_pod(pods[0].metadata.name, installed.namespace)
        wait_for("a replacement gateway pod", lambda: all_ready(core_v1, installed.namespace))
        requests_after(load, 30, "requests after the replacement is Ready")
    assert load.ok > 50
    # Requests that failed even after the client's 2 retries: the retry budget is 1%.
    assert len(load.failures) <= max(1, load.ok // 100), load.failures[:5]


def test_worker_killed_mid_run_completes_exactly_once(installed, gateway, core_v1):
    run = gateway.create_workflow(
        "integration: worker killed",
        [
            {"type": "perceive", "params": {"text": "step one"}},
            {"type": "wait", "params": {"seconds": 20}},
            {"type": "perceive", "params": {"text": "step three"}},
        ],
    )
    wait_for(
        "the run to start",
        lambda: gateway.get(f"/api/v1/workflows/{run['id']}").json()["status"] == "running",
        timeout=120,
        interval=1,
    )
    workers = core_v1.list_namespaced_pod(
        installed.namespace, label_selector="app.kubernetes.io/name=task-processor"
    ).items
    for pod in workers:
        core_v1.delete_namespaced_pod(
            pod.metadata.name, installed.namespace, grace_period_seconds=0
        )
    done = gateway.wait_run(run["id"], timeout=300)
    assert done["status"] == "succeeded", done
    indices = [s["idx"] for s in done["step_results"]]
    assert sorted(indices) == [0, 1, 2], f"steps ran more or less than once: {indices}"


def test_rollback_to_revision_1_keeps_the_data(installed, gateway, memory, core_v1):
    installed.rollback(1)
    wait_for("all pods Ready after rollback", lambda: all_ready(core_v1, installed.namespace))
    gateway.login()
    run = gateway.get(f"/api/v1/workflows/{memory['run_id']}")
    assert run.status_code == 200 and run.json()["status"] == "succeeded", run.text
    gateway_pods = core_v1.list_namespaced_pod(
        installed.namespace, label_selector="app.kubernetes.io/name=api-gateway"
    ).items
    assert len([p for p in gateway_pods if not p.metadata.deletion_timestamp]) == 1


def test_data_platform_pod_deleted_recovers_with_its_data(installed, gateway, memory, core_v1):
    pod = core_v1.list_namespaced_pod(
        installed.namespace, label_selector="app.kubernetes.io/name=data-platform"
    ).items[0]
    uid = pod.metadata.uid
    core_v1.delete_namespaced_pod(pod.metadata.name, installed.namespace)
    wait_for(
        "a new data-platform pod",
        lambda: (
            core_v1.read_namespaced_pod(pod.metadata.name, installed.namespace).metadata.uid != uid
        ),
        timeout=180,
    )
    wait_for("all pods Ready again", lambda: all_ready(core_v1, installed.namespace), timeout=300)

    def run_visible():
        gateway.login()
        response = gateway.get(f"/api/v1/workflows/{memory['run_id']}")
        return response.status_code == 200 and response.json()

    assert wait_for("the gateway to serve the old run", run_visible, timeout=180)["status"] == (
        "succeeded"
    )
    found = gateway.post(
        "/api/v1/memory/search",
        {"query": f"Who owns the {memory['marker']} release checklist?", "namespace": "it"},
    )
    assert memory["marker"] in json.dumps(found.json())


# ---- bad values, uninstall, reinstall ---------------------------------------------------


def test_invalid_values_are_refused_before_anything_is_created(kind_cluster, core_v1):
    namespace = f"aiwfe-bad-{uuid.uuid4().hex[:6]}"
    bad = Release("aiwfe-bad", namespace, kind_cluster.kubeconfig, helm=str(TOOLS_BIN / "helm"))
    with pytest.raises(ReleaseError) as failure:
        bad.upgrade_install(["kind"], sets=["api-gateway.replicaCount=many"])
    assert "replicaCount" in failure.value.output
    names = [n.metadata.name for n in core_v1.list_namespace().items]
    assert namespace not in names, "the refused install still created its namespace"


def test_uninstall_keeps_volumes_and_reinstall_reuses_them(installed, memory, core_v1):
    claims = {
        c.metadata.name
        for c in core_v1.list_namespaced_persistent_volume_claim(installed.namespace).items
    }
    assert claims, "the stack keeps its data on PVCs"
    installed.uninstall()
    wait_for(
        "the release's pods to go",
        lambda: (
            not [
                p
                for p in core_v1.list_namespaced_pod(installed.namespace).items
                if p.status.phase != "Succeeded"
            ]
        ),
        timeout=180,
    )
    after = {
        c.metadata.name
        for c in core_v1.list_namespaced_persistent_volume_claim(installed.namespace).items
    }
    assert claims <= after, f"uninstall removed volumes: {claims - after}"
    stack.install(installed, ["kind"], "reinstall")
    record("helm_reinstall_s", installed.history[-1])
    username, password = stack.admin_credentials(installed)
    gw = Gateway(stack.GATEWAY_URL, username, password)
    wait_for("the reinstalled gateway", lambda: gw.get("/api/ready").status_code == 200)
    gw.login()
    run = gw.get(f"/api/v1/workflows/{memory['run_id']}")
    assert run.status_code == 200, "the reinstall did not reuse the database volume"


def test_port_mapping_only_listens_on_loopback():
    # The gateway's NodePort is published on 127.0.0.1 only, never on other interfaces.
    out = subprocess.run(
        ["docker", "port", "aiwfe-control-plane"], capture_output=True, text=True, check=True
    ).stdout
    assert "127.0.0.1:30080" in out and "0.0.0.0:30080" not in out, out
    assert httpx.get(f"{stack.GATEWAY_URL}/api/health", timeout=10).status_code == 200

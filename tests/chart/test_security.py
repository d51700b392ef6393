"""Hardening: resources, probes, security contexts (Pod Security "restricted"), writable
volumes, and secrets that never leak into ConfigMaps or literal env values."""

from __future__ import annotations

import base64
import re

import pytest

from tests.chart.chart_support import (
    PROFILES,
    containers,
    of_kind,
    pod_spec,
    render,
)

SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|APIKEY|CREDENTIAL)", re.IGNORECASE)
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
# Variants that switch on optional containers/objects, so they are checked too.
VARIANTS = [(p, ()) for p in PROFILES] + [
    ("default", ("global.migrations.useHelmHooks=false",)),
    ("prod", ("global.migrations.useHelmHooks=false",)),
    ("gpu", ("ai-inference.persistence.enabled=false",)),
    # data on emptyDirs (no PVCs) everywhere they can be
    (
        "default",
        (
            "data-platform.postgres.persistence.enabled=false",
            "data-platform.redis.persistence.enabled=false",
            "data-platform.qdrant.persistence.enabled=false",
            "observability.persistence.enabled=false",
            "ai-inference.persistence.enabled=false",
        ),
    ),
]
UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
UNITS |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value) -> int:
    """Bytes of a Kubernetes storage quantity ("256Mi", "1G", 1024)."""
    match = re.fullmatch(r"([0-9.]+)([kMGT]i?|Ki)?", str(value))
    assert match, value
    return int(float(match.group(1)) * UNITS[match.group(2) or ""])


def pods(profile, sets=()):
    return [o for o in render(profile, sets) if pod_spec(o) is not None]


def long_running(obj):
    return obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet")


@pytest.mark.parametrize(("profile", "sets"), VARIANTS)
def test_every_container_has_requests_and_limits(profile, sets):
    """cpu, memory and ephemeral-storage: no container can fill the node's disk."""
    for obj in pods(profile, sets):
        for c in containers(obj):
            res = c.get("resources", {})
            where = (obj["metadata"]["name"], c["name"])
            for section in ("requests", "limits"):
                assert {"cpu", "memory", "ephemeral-storage"} <= set(res.get(section, {})), (
                    *where,
                    section,
                )
            disk = [quantity(res[s]["ephemeral-storage"]) for s in ("requests", "limits")]
            assert 0 < disk[0] <= disk[1], where


@pytest.mark.parametrize(("profile", "sets"), VARIANTS)
def test_every_emptydir_is_bounded(profile, sets):
    """Every emptyDir has a sizeLimit, and a container that writes to one may use at least that
    much ephemeral storage (else the pod is evicted before the volume is full)."""
    for obj in pods(profile, sets):
        spec = pod_spec(obj)
        limits = {
            v["name"]: v["emptyDir"].get("sizeLimit")
            for v in spec.get("volumes", [])
            if "emptyDir" in v
        }
        for name, limit in limits.items():
            assert limit, (obj["metadata"]["name"], name)
        for c in containers(obj):
            own = quantity(c["resources"]["limits"]["ephemeral-storage"])
            for mount in c.get("volumeMounts", []):
                if mount["name"] in limits and not mount.get("readOnly"):
                    assert own >= quantity(limits[mount["name"]]), (
                        obj["metadata"]["name"],
                        c["name"],
                        mount["name"],
                    )


def test_ephemeral_storage_is_value_driven():
    """The preset sets it; explicit resources keep what they say and get the rest."""
    from tests.chart.chart_support import deployment

    objects = render(
        "default",
        (
            "api-gateway.resourcesPreset=large",
            "cognitive-services.resources.limits.cpu=1",
            "cognitive-services.resources.limits.memory=1Gi",
            "cognitive-services.resources.limits.ephemeral-storage=3Gi",
        ),
    )
    gateway = deployment(objects, "api-gateway")["spec"]["template"]["spec"]["containers"][0]
    assert gateway["resources"]["limits"]["ephemeral-storage"] == "2Gi"
    assert gateway["resources"]["requests"]["ephemeral-storage"] == "512Mi"
    cognitive = deployment(objects, "cognitive-services")["spec"]["template"]["spec"]
    res = cognitive["containers"][0]["resources"]
    assert res["limits"] == {"cpu": 1, "memory": "1Gi", "ephemeral-storage": "3Gi"}
    assert res["requests"] == {"ephemeral-storage": "128Mi"}  # the default preset's (small)


@pytest.mark.parametrize(("profile", "sets"), VARIANTS)
def test_long_running_containers_have_probes(profile, sets):
    for obj in pods(profile, sets):
        if not long_running(obj):
            continue
        for c in pod_spec(obj)["containers"]:
            name = (obj["metadata"]["name"], c["name"])
            assert "readinessProbe" in c, name
            assert "livenessProbe" in c, name
            assert "startupProbe" in c, name
            assert "lifecycle" not in c or "postStart" not in c["lifecycle"], name


@pytest.mark.parametrize("component", ["api-gateway", "cognitive-services", "config-manager"])
def test_http_services_drain_before_they_stop(component):
    """A preStop sleep keeps a stopping pod serving until it has left the Service's endpoints,
    inside its grace period: rolling updates fail no request (tests/integration checks it)."""
    obj = next(
        o
        for o in render()
        if o["kind"] == "Deployment" and o["metadata"]["name"] == f"aiwfe-{component}"
    )
    spec = pod_spec(obj)
    sleep = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < sleep < spec["terminationGracePeriodSeconds"]
    off = render("default", (f"{component}.preStopSleepSeconds=0",))
    obj = next(
        o
        for o in off
        if o["kind"] == "Deployment" and o["metadata"]["name"] == f"aiwfe-{component}"
    )
    assert "lifecycle" not in pod_spec(obj)["containers"][0]


@pytest.mark.parametrize(("profile", "sets"), VARIANTS)
def test_pod_security_restricted(profile, sets):
    for obj in pods(profile, sets):
        spec = pod_spec(obj)
        name = obj["metadata"]["name"]
        psc = spec.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, name
        assert psc.get("runAsUser") == 10001 and psc.get("runAsGroup") == 10001, name
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(flag), (name, flag)
        for volume in spec.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUMES, (name, volume)
        for c in containers(obj):
            sc = c.get("securityContext", {})
            where = (name, c["name"])
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("runAsNonRoot") is True, where
            assert sc.get("privileged") in (None, False), where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not set(sc.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}
            assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
            for port in c.get("ports", []):
                assert "hostPort" not in port, where


@pytest.mark.parametrize(("profile", "sets"), VARIANTS)
def test_writable_paths_are_declared_volumes(profile, sets):
    """Read-only root: /tmp is an emptyDir everywhere; every mount names a real volume."""
    for obj in pods(profile, sets):
        spec = pod_spec(obj)
        volumes = {v["name"] for v in spec.get("volumes", [])}
        if obj["kind"] == "StatefulSet":
            volumes |= {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp
        for c in containers(obj):
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert mounts.get("/tmp") == "tmp", (obj["metadata"]["name"], c["name"])
            assert set(mounts.values()) <= volumes, (obj["metadata"]["name"], c["name"])


def _generated_secret_values(objects):
    values = set()
    for secret in of_kind(objects, "Secret"):
        for encoded in (secret.get("data") or {}).values():
            values.add(base64.b64decode(encoded).decode())
    return values


@pytest.mark.parametrize(("profile", "sets"), VARIANTS)
def test_no_secret_in_configmaps_or_env_literals(profile, sets):
    objects = render(profile, sets)
    secrets = _generated_secret_values(objects)
    for cm in of_kind(objects, "ConfigMap"):
        for key, value in (cm.get("data") or {}).items():
            assert not SECRETISH.search(key), (cm["metadata"]["name"], key)
            assert not any(s in value for s in secrets), (cm["metadata"]["name"], key)
    for obj in objects:
        for c in containers(obj):
            for env in c.get("env", []):
                where = (obj["metadata"]["name"], c["name"], env["name"])
                if SECRETISH.search(env["name"]):
                    assert "value" not in env, where
                    assert "secretKeyRef" in env["valueFrom"], where
                if "value" in env:
                    assert env["value"] not in secrets, where


def test_secret_refs_point_to_rendered_or_existing_secrets():
    existing = {
        "prod": {"aiwfe-postgres", "aiwfe-redis", "aiwfe-qdrant", "aiwfe-jwt", "aiwfe-admin"}
        | {"aiwfe-grafana"},
    }
    for profile in PROFILES:
        objects = render(profile)
        rendered = {o["metadata"]["name"]: o for o in of_kind(objects, "Secret")}
        for obj in objects:
            for c in containers(obj):
                for env in c.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if not ref:
                        continue
                    if ref["name"] in rendered:
                        assert ref["key"] in rendered[ref["name"]]["data"], (profile, ref)
                    else:
                        assert ref["name"] in existing.get(profile, set()), (profile, ref)


def test_generated_secrets_are_random_kept_and_sized():
    objects = render()
    secrets = of_kind(objects, "Secret")
    assert {s["metadata"]["name"] for s in secrets} == {
        "aiwfe-postgres",
        "aiwfe-redis",
        "aiwfe-qdrant",
        "aiwfe-jwt",
        "aiwfe-admin",
        "aiwfe-grafana",
    }
    values = [base64.b64decode(v).decode() for s in secrets for v in s["data"].values()]
    assert len(set(values)) == len(values)
    assert all(len(v) == 32 and v.isalnum() for v in values)
    for s in secrets:
        assert s["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

"""The chart tests' one render helper and offline schema validators, all cached.

`render()` runs `helm template` once per distinct (profile, --set, --api-versions, helm,
extra values files) for the whole test session and returns parsed objects (tuples, so
callers cannot mutate the shared cache). Validators are built once per (Kubernetes minor,
apiVersion, kind).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

from ci import components, pins
from ci.chart import chart

CRDS_DIR = Path(chart.CRDS_DIR)
PROFILES = tuple(chart.PROFILES)
COMPONENTS = components.SUBCHARTS
# The first-party Deployments (api-gateway, cognitive-services, task-processor, config-manager).
SERVICES = components.SERVICES
DIGEST = "sha256:" + "ab" * 32
RELEASE = chart.RELEASE
MONITORING_API = ("monitoring.coreos.com/v1",)
# Kinds whose pods are first-party or bundled workloads.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "DaemonSet")


@functools.cache
def render(
    profile: str = "default",
    sets: tuple[str, ...] = (),
    api_versions: tuple[str, ...] = (),
    helm: str = "helm3",
    *,
    is_upgrade: bool = False,
    extra_values: tuple[Path, ...] = (),
) -> tuple[dict, ...]:
    text = chart.render_text(
        profile,
        sets=sets,
        api_versions=api_versions,
        helm=helm,
        is_upgrade=is_upgrade,
        extra_values=extra_values,
    )
    return tuple(chart.parse(text))


@functools.cache
def render_error(profile: str = "default", sets: tuple[str, ...] = (), helm: str = "helm3") -> str:
    """helm's error text for values that must be refused (fails the test if it renders)."""
    try:
        chart.render_text(profile, sets=sets, helm=helm)
    except chart.RenderError as error:
        return str(error)
    raise AssertionError(f"rendering {profile} with {sets} succeeded but must fail")


def deployment(objects: Iterable[dict], component: str) -> dict:
    return by_name(objects, "Deployment", f"{RELEASE}-{component}")


def pod_annotations(obj: dict) -> dict:
    """The pod template's annotations (checksums that roll the pods)."""
    return obj["spec"]["template"]["metadata"].get("annotations", {})


def of_kind(objects: Iterable[dict], *kinds: str) -> list[dict]:
    return [o for o in objects if o["kind"] in kinds]


def by_name(objects: Iterable[dict], kind: str, name: str) -> dict:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KeyError(f"{kind}/{name} not rendered")


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] in WORKLOAD_KINDS:
        return obj["spec"]["template"]["spec"]
    return None


def pod_labels(obj: dict) -> dict:
    if obj["kind"] == "Pod":
        return obj["metadata"].get("labels", {})
    return obj["spec"]["template"]["metadata"].get("labels", {})


def containers(obj: dict, *, init: bool = True) -> Iterator[dict]:
    spec = pod_spec(obj)
    if spec is None:
        return
    yield from spec.get("containers", [])
    if init:
        yield from spec.get("initContainers", [])


def is_hook(obj: dict) -> bool:
    return "helm.sh/hook" in (obj["metadata"].get("annotations") or {})


def hook_events(obj: dict) -> set[str]:
    value = (obj["metadata"].get("annotations") or {}).get("helm.sh/hook", "")
    return {event.strip() for event in value.split(",") if event.strip()}


# --- Kubernetes schemas (kubernetes-validate's strict schema set, offline) ----------------


def _schema_dir(minor: str) -> Path:
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    path = base / f"v{minor}.0-local-strict"
    if not path.is_dir():
        raise FileNotFoundError(f"kubernetes-validate has no schemas for {minor} ({path})")
    return path


@functools.cache
def _registry(minor: str) -> Registry:
    definitions = json.loads((_schema_dir(minor) / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


def _schema_file(api_version: str, kind: str) -> str:
    if "/" in api_version:
        group, version = api_version.split("/")
        group = group.split(".")[0]
        return f"{kind.lower()}-{group}-{version}.json"
    return f"{kind.lower()}-{api_version}.json"


def _strict_crd(schema: dict) -> dict:
    """CRD structural schema -> JSON schema that rejects unknown fields like the API server."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            if node.get("x-kubernetes-int-or-string"):
                node.pop("type", None)
                node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            if node.get("nullable") and "type" in node and isinstance(node["type"], str):
                node["type"] = [node["type"], "null"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    # metadata is validated by the API server's ObjectMeta, not the CRD schema.
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    return schema


def crd_files() -> dict[tuple[str, str], Path]:
    """(apiVersion, kind) -> ci/crds file."""
    out = {}
    for path in sorted(CRDS_DIR.glob("*.json")):
        group, kind, version = path.stem.split("_")
        out[(f"{group}/{version}", kind)] = path
    return out


@functools.cache
def validator(minor: str, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    for (crd_api, crd_kind_lower), path in crd_files().items():
        if crd_api == api_version and crd_kind_lower == kind.lower():
            payload = json.loads(path.read_text())
            return jsonschema.Draft7Validator(_strict_crd(payload["schema"]))
    schema_path = _schema_dir(minor) / _schema_file(api_version, kind)
    if not schema_path.exists():
        raise LookupError(f"no schema for {api_version} {kind} in Kubernetes {minor}")
    schema = json.loads(schema_path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=_registry(minor))


def validation_errors(obj: dict, minor: str) -> list[str]:
    errors = validator(minor, obj["apiVersion"], obj["kind"]).iter_errors(obj)
    return [
        f"{obj['kind']}/{obj['metadata']['name']} [{minor}] at "
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
        for e in errors
    ]


def kubernetes_minors() -> list[str]:
    return pins.kubernetes_minors()


@functools.cache
def notes(profile: str = "default", sets: tuple[str, ...] = ()) -> str:
    """NOTES.txt as `helm install --dry-run=client` prints it (helm 4 needs no cluster for it)."""
    import os
    import subprocess

    cmd = [chart.helm_binary("helm4"), "install", RELEASE, str(chart.CHART), "--dry-run=client"]
    cmd += ["--namespace", chart.NAMESPACE, *chart.values_args(profile)]
    for item in sets:
        cmd += ["--set", item]
    env = {**chart.env_with_tools(), "KUBECONFIG": os.devnull}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return out.split("\nNOTES:\n", 1)[1]

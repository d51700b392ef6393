"""Every rendered object, strictly and offline, against the Kubernetes schemas of each
supported minor and the CRD schemas in ci/crds; values schemas and docs do not drift."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from ci.chart import chart
from ci.chart import schema as chart_schema
from tests.chart.chart_support import (
    MONITORING_API,
    PROFILES,
    crd_files,
    kubernetes_minors,
    render,
    validation_errors,
)

# Feature variants that render CRD-backed kinds on top of the profiles.
VARIANTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "prod+monitoring": ("prod", (), MONITORING_API),
    "default+monitoring": ("default", (), MONITORING_API),
    "staging+gateway-api": (
        "staging",
        (
            "api-gateway.httpRoute.enabled=true",
            "api-gateway.httpRoute.parentRefs[0].name=public",
            "api-gateway.httpRoute.hostnames[0]=aiwfe.example.com",
            "api-gateway.certificate.enabled=true",
            "api-gateway.certificate.issuerRef.name=letsencrypt",
        ),
        (),
    ),
    "gitops": ("default", ("global.migrations.useHelmHooks=false",), ()),
}


def _all_objects() -> list[tuple[str, dict]]:
    """(where, object) for every distinct object of every profile (helm 3 and 4) and variant."""
    seen: set[str] = set()
    out = []
    cases = {p: (p, (), (), "helm3") for p in PROFILES}
    cases |= {f"helm4:{p}": (p, (), (), "helm4") for p in PROFILES}
    cases |= {label: (*case, "helm3") for label, case in VARIANTS.items()}
    for label, (profile, sets, apis, helm) in cases.items():
        for obj in render(profile, sets, apis, helm):
            key = json.dumps(obj, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append((label, obj))
    return out


@pytest.mark.parametrize("minor", kubernetes_minors())
def test_every_object_is_valid_for_kubernetes_minor(minor):
    errors = []
    for where, obj in _all_objects():
        errors += [f"{where}: {e}" for e in validation_errors(obj, minor)]
    assert not errors, "\n".join(errors[:40])


def test_crd_kinds_are_rendered_and_validated():
    """The CRD schemas are not dead weight: each is exercised by some variant."""
    rendered = {(obj["apiVersion"], obj["kind"].lower()) for _, obj in _all_objects()}
    used = {key for key in crd_files() if key in rendered}
    expected = {
        ("monitoring.coreos.com/v1", "servicemonitor"),
        ("monitoring.coreos.com/v1", "prometheusrule"),
        ("keda.sh/v1alpha1", "scaledobject"),
        ("keda.sh/v1alpha1", "triggerauthentication"),
        ("gateway.networking.k8s.io/v1", "httproute"),
        ("cert-manager.io/v1", "certificate"),
    }
    assert expected <= used


def test_crd_validator_rejects_unknown_fields():
    """Strictness check of the CRD path itself: a typo in a ServiceMonitor is caught."""
    monitor = next(o for _, o in _all_objects() if o["kind"] == "ServiceMonitor")
    broken = json.loads(json.dumps(monitor))
    broken["spec"]["endpoints"][0]["intervall"] = "30s"
    errors = validation_errors(broken, kubernetes_minors()[-1])
    assert any("intervall" in e for e in errors), errors


def test_kubernetes_validator_rejects_unknown_fields():
    deployment = next(o for _, o in _all_objects() if o["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    errors = validation_errors(broken, kubernetes_minors()[0])
    assert any("imagePullPolicyy" in e for e in errors), errors


def test_values_schemas_do_not_drift():
    assert chart.schema(check=True) == [], "run `python -m ci.chart schema`"


def test_values_reference_does_not_drift():
    assert not chart.docs(check=True), "run `python -m ci.chart docs`"


@pytest.mark.parametrize("rel", sorted(chart_schema.all_schemas()))
def test_default_values_validate_against_their_schema(rel):
    """values.yaml of each chart satisfies its own closed schema (no unknown keys)."""
    schema_path = chart.CHART / rel
    values_path = schema_path.with_name("values.yaml")
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    values = yaml.safe_load(values_path.read_text()) or {}
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(values)]
    assert not errors, errors


def test_every_values_key_is_documented():
    """Each leaf key of every values.yaml has a `# --` description (docs/values.md is complete)."""
    missing = []
    paths = [chart.CHART / "values.yaml"]
    paths += [chart.CHART / "charts" / n / "values.yaml" for n in chart.SUBCHARTS]
    for path in paths:
        text = path.read_text()
        documented = {key for key, _ in chart_schema.annotated_keys(text)}
        data = yaml.safe_load(text) or {}

        missing += [
            f"{path.parent.name}: {k}" for k in _leaves(data, documented) if k not in documented
        ]
    assert not missing, missing


def _leaves(node: dict, documented: set[str], prefix: str = ""):
    """Dotted keys down to the first documented level (a documented map is one value)."""
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and dotted not in documented:
            yield from _leaves(value, documented, dotted + ".")
        else:
            yield dotted

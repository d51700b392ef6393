"""PodDisruptionBudgets never block a node drain: on every profile, each PDB lets at least
one pod of its workload go when the workload runs at its replica floor (HPA or KEDA
minReplicas, else replicas), and unhealthy pods may always be evicted."""

from __future__ import annotations

import math

import pytest

from tests.chart.chart_support import (
    PROFILES,
    RELEASE,
    by_name,
    of_kind,
    pod_labels,
    pod_spec,
    render,
)

# Every component's PDB on, at the chart's defaults (one replica each).
ALL_PDBS = tuple(
    f"{c}.pdb.enabled=true"
    for c in (
        "api-gateway",
        "cognitive-services",
        "task-processor",
        "config-manager",
        "ai-inference",
        "data-platform",
        "observability",
    )
)
VARIANTS = [(p, ()) for p in PROFILES] + [
    ("default", ALL_PDBS),
    ("staging", ("task-processor.pdb.minAvailable=1",)),
    ("prod", ("api-gateway.pdb.minAvailable=2", "cognitive-services.pdb.maxUnavailable=50%")),
]


def replica_floor(objects, workload: dict) -> int:
    """The fewest pods the workload runs: what its HPA or ScaledObject may scale it down to."""
    name, kind = workload["metadata"]["name"], workload["kind"]
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) == (kind, name):
            return hpa["spec"].get("minReplicas", 1)
    for scaled in of_kind(objects, "ScaledObject"):
        ref = scaled["spec"]["scaleTargetRef"]
        if ref["name"] == name and ref.get("kind", "Deployment") == kind:
            return scaled["spec"].get("minReplicaCount", 0)
    return workload["spec"].get("replicas", 1)


def evictable_at(floor: int, spec: dict) -> int:
    """Pods the eviction API lets go when `floor` healthy pods run (Kubernetes' rounding:
    minAvailable percentages round up, maxUnavailable percentages round up too)."""
    if "minAvailable" in spec:
        value = spec["minAvailable"]
        keep = math.ceil(floor * int(value[:-1]) / 100) if isinstance(value, str) else value
        return floor - keep
    value = spec["maxUnavailable"]
    return math.ceil(floor * int(value[:-1]) / 100) if isinstance(value, str) else value


@pytest.mark.parametrize(("profile", "sets"), VARIANTS)
def test_every_pdb_lets_a_drain_progress_at_the_replica_floor(profile, sets):
    objects = render(profile, sets)
    workloads = [o for o in objects if pod_spec(o) is not None and o["kind"] != "Pod"]
    for pdb in of_kind(objects, "PodDisruptionBudget"):
        spec = pdb["spec"]
        name = pdb["metadata"]["name"]
        selector = spec["selector"]["matchLabels"]
        owners = [
            w for w in workloads if all(pod_labels(w).get(k) == v for k, v in selector.items())
        ]
        assert len(owners) == 1, (profile, name, [w["metadata"]["name"] for w in owners])
        floor = replica_floor(objects, owners[0])
        assert ("minAvailable" in spec) != ("maxUnavailable" in spec), (name, spec)
        if "minAvailable" in spec and floor > 0:
            assert evictable_at(floor, spec) >= 1, (profile, name, floor, spec)
        if "maxUnavailable" in spec:
            assert evictable_at(max(floor, 1), spec) >= 1, (profile, name, floor, spec)
        assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow", name


@pytest.mark.parametrize("profile", PROFILES)
def test_pdbs_prefer_max_unavailable_one(profile):
    """Without an explicit budget every PDB is maxUnavailable: 1."""
    for pdb in of_kind(render(profile), "PodDisruptionBudget"):
        assert pdb["spec"] == {**pdb["spec"], "maxUnavailable": 1}, pdb["metadata"]["name"]
        assert "minAvailable" not in pdb["spec"]


def test_explicit_budgets_below_the_floor_are_kept():
    objects = render("prod", VARIANTS[-1][1])
    gateway = by_name(objects, "PodDisruptionBudget", f"{RELEASE}-api-gateway")["spec"]
    cognitive = by_name(objects, "PodDisruptionBudget", f"{RELEASE}-cognitive-services")["spec"]
    assert gateway["minAvailable"] == 2 and "maxUnavailable" not in gateway
    assert cognitive["maxUnavailable"] == "50%" and "minAvailable" not in cognitive

"""task-processor: KEDA scaling on the queue and the redelivery delay."""

from __future__ import annotations

from tests.chart.chart_support import (
    by_name,
    deployment,
    of_kind,
    pod_spec,
    render,
)


def test_keda_scales_the_worker_on_redis_queue_length():
    objects = render("prod")
    scaled = of_kind(objects, "ScaledObject")[0]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "aiwfe-task-processor"
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["address"] == "aiwfe-redis.prod.internal:6379"
    assert trigger["metadata"]["listName"] == "aiwfe.workflows"  # the queue the worker consumes
    auth = by_name(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "aiwfe-redis", "key": "password"}
    ]
    # the ScaledObject replaces the worker's HPA
    hpas = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")
    }
    assert "aiwfe-task-processor" not in hpas


def test_worker_redelivery_delay_reaches_the_worker():
    """A killed worker's run is redelivered after redeliverAfterSeconds (Celery's visibility
    timeout); the kind profile shortens it so CI sees the recovery in minutes."""
    for profile, expected in (("default", "300"), ("kind", "60")):
        spec = pod_spec(deployment(render(profile), "task-processor"))
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        assert env["AIWFE_WORKER_VISIBILITY_TIMEOUT"] == expected, profile

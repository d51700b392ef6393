"""observability: monitoring objects with and without the CRDs, the bundled Prometheus
and Grafana."""

from __future__ import annotations

import json

import yaml

from ci import components
from tests.chart.chart_support import (
    MONITORING_API,
    SERVICES,
    by_name,
    deployment,
    of_kind,
    pod_annotations,
    render,
)


def test_observability_config_change_rolls_observability():
    before = render()
    after = render("default", ("observability.prometheus.scrapeInterval=15s",))
    obs = "observability"
    assert pod_annotations(deployment(before, obs)) != pod_annotations(deployment(after, obs))


def test_monitoring_objects_only_with_the_crds():
    without = render()
    assert not of_kind(without, "ServiceMonitor", "PrometheusRule")
    with_crds = render("default", (), MONITORING_API)
    monitors = {m["metadata"]["name"] for m in of_kind(with_crds, "ServiceMonitor")}
    rules = {m["metadata"]["name"] for m in of_kind(with_crds, "PrometheusRule")}
    expected = {f"aiwfe-{c}" for c in SERVICES}
    assert monitors == expected and rules == expected


def test_bundled_prometheus_scrapes_and_alerts_without_the_crds():
    cm = by_name(render(), "ConfigMap", "aiwfe-observability-prometheus")
    config = yaml.safe_load(cm["data"]["prometheus.yml"])
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    for component in SERVICES:
        port = components.port(component)
        sd = jobs[f"aiwfe-{component}"]["dns_sd_configs"][0]
        assert sd["names"] == [f"aiwfe-{component}.aiwfe.svc"] and sd["port"] == port
    rules = yaml.safe_load(cm["data"]["rules.yml"])
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"AiwfeComponentDown", "AiwfeHighErrorRate"} <= alerts
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        f"127.0.0.1:{components.port('observability', 'alertmanager')}"
    ]


def test_grafana_datasources_and_dashboards_are_configmaps():
    objects = render()
    ds = yaml.safe_load(
        by_name(objects, "ConfigMap", "aiwfe-observability-grafana-datasources")["data"][
            "datasources.yaml"
        ]
    )
    assert {d["type"] for d in ds["datasources"]} == {"prometheus", "loki", "jaeger"}
    dashboards = by_name(objects, "ConfigMap", "aiwfe-observability-grafana-dashboards")["data"]
    board = json.loads(dashboards["aiwfe-overview.json"])
    assert board["uid"] == "aiwfe-overview" and board["panels"]
    kind_ds = [o for o in render("kind") if o["metadata"]["name"].endswith("grafana-datasources")]
    assert not kind_ds

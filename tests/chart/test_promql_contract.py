"""Every PromQL expression the chart ships (dashboards, alert and recording rules, KEDA
triggers) queries only series that exist: those of the metrics contract
(src/aiwfe/core/metrics.py), Prometheus's own, or names defined by a recording rule.
Metric names come from a real PromQL parser (promql-parser), so functions, keywords, label
matchers and strings are never mistaken for series."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import promql_parser
import pytest
import yaml

from aiwfe.core import metrics
from tests.chart.chart_support import by_name, of_kind, render

REPO = Path(__file__).resolve().parents[2]
# Series Prometheus makes itself, not scraped from anyone:
# https://prometheus.io/docs/concepts/jobs_instances/#automatically-generated-labels-and-time-series
# https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/#inspecting-alerts-during-runtime
PROMETHEUS_SERIES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)
# Exporters' documented series would be listed here with their source links; the chart
# references none yet.
EXPORTER_SERIES: frozenset[str] = frozenset()
GRAFANA_VARIABLES = re.compile(r"\$__(rate_interval|interval|range)\b")
# Everything that makes the chart emit more queries: ServiceMonitors/PrometheusRules (the
# CRDs exist), KEDA on.
SETS = ("task-processor.autoscaling.keda.enabled=true",)
APIS = ("monitoring.coreos.com/v1", "keda.sh/v1alpha1")


def series_in(expr: str) -> set[str]:
    """Metric names an expression selects (parse errors raise ValueError)."""
    names: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, promql_parser.VectorSelector | promql_parser.MatrixSelector):
            selector = node.vector_selector if hasattr(node, "vector_selector") else node
            if selector.name:
                names.add(selector.name)
            for matcher in selector.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(matcher.value)

    promql_parser.walk(promql_parser.parse(GRAFANA_VARIABLES.sub("5m", expr)), visit)
    return names


def known_series(records: set[str] = frozenset()) -> frozenset[str]:
    return metrics.series_names() | PROMETHEUS_SERIES | EXPORTER_SERIES | records


def dashboard_exprs(source: str, dashboard: dict) -> Iterator[tuple[str, str]]:
    def panels(items: list[dict]) -> Iterator[dict]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                where = f"{source} dashboard {dashboard['uid']} panel {panel['title']!r}"
                yield where, target["expr"]


def rule_exprs(source: str, groups: list[dict]) -> Iterator[tuple[str, str, dict]]:
    for group in groups:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            yield f"{source} group {group['name']} rule {name}", rule["expr"], rule


def chart_queries() -> tuple[list[tuple[str, str]], list[dict], set[str]]:
    """(where, expr) of every PromQL the chart renders, its rules, its recording-rule names."""
    objects = render("default", SETS, APIS)
    exprs: list[tuple[str, str]] = []
    rules: list[dict] = []
    for cm in of_kind(objects, "ConfigMap"):
        name = cm["metadata"]["name"]
        for key, text in (cm.get("data") or {}).items():
            if key == "rules.yml":
                for where, expr, rule in rule_exprs(name, yaml.safe_load(text)["groups"]):
                    exprs.append((where, expr))
                    rules.append(rule)
            elif key.endswith(".json"):
                exprs += dashboard_exprs(f"{name}/{key}", json.loads(text))
    for pr in of_kind(objects, "PrometheusRule"):
        for where, expr, rule in rule_exprs(pr["metadata"]["name"], pr["spec"]["groups"]):
            exprs.append((where, expr))
            rules.append(rule)
    for so in of_kind(objects, "ScaledObject"):
        for trigger in so["spec"]["triggers"]:
            if trigger["type"] == "prometheus":
                exprs.append(
                    (f"ScaledObject {so['metadata']['name']}", trigger["metadata"]["query"])
                )
    records = {rule["record"] for rule in rules if "record" in rule}
    return exprs, rules, records


def test_the_checker_catches_unknown_series_and_ignores_functions_labels_and_strings() -> None:
    # today's broken panels and alert, as shipped before the contract
    assert series_in('sum by (job) (rate(http_requests_total{status=~"5.."}[5m]))') == {
        "http_requests_total"
    }
    assert series_in("sum by (status) (rate(aiwfe_workflow_runs_total[5m]))") - known_series()
    tricky = (
        "histogram_quantile(0.95, sum by (le, job) (rate(aiwfe_http_request_duration_seconds_bucket"
        '{route!~".*/events", job="rate"}[$__rate_interval]))) > on(job) group_left '
        'max without (instance) (up{job="x"} offset 5m) and {__name__="aiwfe_worker_queue_depth"}'
    )
    assert series_in(tricky) == {
        "aiwfe_http_request_duration_seconds_bucket",
        "up",
        "aiwfe_worker_queue_depth",
    }
    assert not series_in(tricky) - known_series()
    with pytest.raises(ValueError):
        series_in("sum(rate(foo[5m])")


def test_every_shipped_query_names_only_real_series() -> None:
    exprs, _, records = chart_queries()
    assert len(exprs) >= 20, exprs  # dashboards, rules and alerts were all found
    known = known_series(records)
    unknown = []
    for where, expr in exprs:
        missing = series_in(expr) - known
        if missing:
            unknown.append(f"{where}: {sorted(missing)} in {expr}")
    assert not unknown, "series no service exports:\n" + "\n".join(unknown)


def test_every_contract_family_is_on_a_dashboard() -> None:
    objects = render("default", SETS, APIS)
    cm = by_name(objects, "ConfigMap", "aiwfe-observability-grafana-dashboards")
    charted: set[str] = set()
    for key, text in cm["data"].items():
        if key.endswith(".json"):
            for _, expr in dashboard_exprs(key, json.loads(text)):
                charted |= series_in(expr)
    unseen = [
        spec.name
        for spec in metrics.CONTRACT.values()
        if spec.name.startswith("aiwfe_") and not set(spec.series()) & charted
    ]
    assert not unseen, f"exported but on no dashboard: {unseen}"


def test_the_images_default_rules_and_dashboards_match_the_contract() -> None:
    """The observability image ships defaults for use without the chart: same rule."""
    config = REPO / "images/observability/config"
    exprs: list[tuple[str, str]] = []
    for path in sorted((config / "prometheus/rules").glob("*.yml")):
        exprs += [
            (w, e) for w, e, _ in rule_exprs(path.name, yaml.safe_load(path.read_text())["groups"])
        ]
    for path in sorted((config / "grafana/dashboards").glob("*.json")):
        exprs += dashboard_exprs(path.name, json.loads(path.read_text()))
    assert exprs
    unknown = [
        f"{w}: {sorted(series_in(e) - known_series())}"
        for w, e in exprs
        if series_in(e) - known_series()
    ]
    assert not unknown, "\n".join(unknown)


def worker_queue_constant() -> str:
    """aiwfe.worker.celery_app.QUEUE, read from the source (the unit tier has no Celery)."""
    tree = ast.parse((REPO / "src/aiwfe/worker/celery_app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["QUEUE"]:
            return ast.literal_eval(node.value)
    raise AssertionError("QUEUE not found in src/aiwfe/worker/celery_app.py")


def test_keda_watches_the_workers_queue_in_the_release_namespace() -> None:
    queue = worker_queue_constant()
    defaults = yaml.safe_load((REPO / "charts/aiwfe/charts/task-processor/values.yaml").read_text())
    assert defaults["autoscaling"]["keda"]["queueName"] == queue
    objects = render("default", SETS, APIS)
    so = by_name(objects, "ScaledObject", "aiwfe-task-processor")
    [trigger] = so["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == queue
    # KEDA's operator lives in another namespace: a short name would not resolve there
    assert trigger["metadata"]["address"] == "aiwfe-data-platform.aiwfe.svc:6379"
    assert trigger["metadata"]["enableTLS"] == "false"
    auth = by_name(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert [p["parameter"] for p in auth["spec"]["secretTargetRef"]] == ["password"]


def test_docs_metrics_md_is_the_contract() -> None:
    doc = (REPO / "docs/metrics.md").read_text()
    assert doc == metrics.markdown(), (
        "docs/metrics.md drifted: run `python -m aiwfe.core.metrics > docs/metrics.md`"
    )

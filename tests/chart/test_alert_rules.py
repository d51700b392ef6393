"""The alerts the chart ships: valid for Prometheus (`promtool check rules`), each one fires
on synthetic series that mean trouble and clears when they recover (`promtool test rules`),
each links to its section of docs/runbooks.md; the generated Alertmanager config is valid
(`amtool check-config`). promtool and amtool come from Debian trixie (the versions the
observability image ships) in the services rootfs (ci/env/services/)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from ci.env import services as services_env
from tests.chart.chart_support import by_name, of_kind, render

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/aiwfe/aiwfe/blob/main/docs/runbooks.md#"
SETS = ("task-processor.autoscaling.keda.enabled=true",)


@pytest.fixture(scope="module")
def tools() -> None:
    if os.geteuid() != 0 and not services_env._ready(services_env.rootfs_dir()):
        pytest.skip("promtool/amtool live in the services rootfs: build it as root once")


def rules_text(sets: tuple[str, ...] = SETS) -> str:
    cm = by_name(render("default", sets), "ConfigMap", "aiwfe-observability-prometheus")
    return cm["data"]["rules.yml"]


def alerts() -> dict[str, list[dict]]:
    """alert name -> its rules (one per component group)."""
    out: dict[str, list[dict]] = {}
    for group in yaml.safe_load(rules_text())["groups"]:
        for rule in group["rules"]:
            out.setdefault(rule["alert"], []).append(rule)
    return out


def annotations(alert: str, component: str) -> dict[str, str]:
    [rule] = [r for r in alerts()[alert] if r["labels"]["component"] == component]
    return rule["annotations"]


def firing(alert: str, component: str, severity: str = "warning", **labels: str) -> dict:
    return {
        "exp_labels": {"severity": severity, "component": component, **labels},
        "exp_annotations": annotations(alert, component),
    }


def case(alert: str, series: dict[str, str], fires_at: str, clear_at: str, expected: dict):
    """One promtool unit test: `alert` fires at `fires_at` (and not before its `for`), and
    is gone at `clear_at`."""
    return {
        "interval": "1m",
        "input_series": [{"series": k, "values": v} for k, v in series.items()],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": alert, "exp_alerts": []},
            {"eval_time": fires_at, "alertname": alert, "exp_alerts": [expected]},
            {"eval_time": clear_at, "alertname": alert, "exp_alerts": []},
        ],
    }


def sel(name: str, job: str, *matchers: str, **labels: str) -> str:
    """A series in promtool's notation: name{job="...",<matchers>,<labels>}."""
    parts = [f'job="{job}"', *matchers, *(f'{k}="{v}"' for k, v in labels.items())]
    return f"{name}{{{','.join(parts)}}}"


def unit_tests() -> dict[str, dict]:
    gw, cog, cfg, wk = (
        f"aiwfe-{c}"
        for c in ("api-gateway", "cognitive-services", "config-manager", "task-processor")
    )
    route = 'route="/api/v1/chat",method="POST",service="cognitive"'
    events = 'route="/api/v1/workflows/{run_id}/events",method="GET",service="gateway"'
    model = 'provider="ollama",model="m"'
    http, bucket = "aiwfe_http_requests_total", "aiwfe_http_request_duration_seconds_bucket"
    llm, runs = "aiwfe_llm_requests_total", "aiwfe_worker_runs_total"
    probe = "aiwfe_worker_queue_probe_up"
    return {
        # down from 2m to 12m
        "AiwfeComponentDown": case(
            "AiwfeComponentDown",
            {f'up{{job="{gw}",instance="10.0.0.1:8080"}}': "1 1 0x10 1x10"},
            "10m",
            "16m",
            firing(
                "AiwfeComponentDown", "api-gateway", "critical", job=gw, instance="10.0.0.1:8080"
            ),
        ),
        # 2 of every 12 requests fail from 6m to 26m, then none
        "AiwfeHighErrorRate": case(
            "AiwfeHighErrorRate",
            {
                sel(http, cog, route, status="200"): "0+10x50",
                sel(http, cog, route, status="500"): "0x5 2+2x20 42x25",
            },
            "22m",
            "40m",
            firing("AiwfeHighErrorRate", "cognitive-services"),
        ),
        # every request takes 2.5-5 s until 20m; an event stream stays open all along and
        # must not keep the alert up
        "AiwfeHighLatency": case(
            "AiwfeHighLatency",
            {
                sel(bucket, cfg, route, le="0.5"): "0x45",
                sel(bucket, cfg, route, le="5"): "0+10x20 200x25",
                sel(bucket, cfg, route, le="+Inf"): "0+10x20 200x25",
                sel(bucket, cfg, events, le="5"): "0x45",
                sel(bucket, cfg, events, le="+Inf"): "0+1x45",
            },
            "18m",
            "35m",
            firing("AiwfeHighLatency", "config-manager"),
        ),
        # a quarter of LLM calls fail from 6m to 26m; embeddings never failed (no such series)
        "AiwfeModelErrors": case(
            "AiwfeModelErrors",
            {
                sel(llm, cog, model, outcome="ok"): "0+9x50",
                sel(llm, cog, model, outcome="error"): "0x5 3+3x20 63x25",
                sel("aiwfe_embedding_requests_total", cog, model, outcome="ok"): "0+1x50",
            },
            "24m",
            "45m",
            firing("AiwfeModelErrors", "cognitive-services"),
        ),
        # the oldest queued run ages a minute per minute from 5m, then the queue drains
        "AiwfeQueueBacklog": case(
            "AiwfeQueueBacklog",
            {
                sel(
                    "aiwfe_worker_oldest_queued_run_age_seconds", wk, 'instance="a"'
                ): "0x5 0+60x25 0x20"
            },
            "29m",
            "40m",
            firing("AiwfeQueueBacklog", "task-processor"),
        ),
        # a quarter of the finished runs fail from 6m to 36m (retries are not finished runs)
        "AiwfeRunFailures": case(
            "AiwfeRunFailures",
            {
                sel(runs, wk, 'instance="a"', outcome="succeeded"): "0+3x60",
                sel(runs, wk, 'instance="a"', outcome="failed"): "0x5 1+1x30 31x25",
                sel(runs, wk, 'instance="a"', outcome="retry"): "0+50x60",
            },
            "36m",  # the ratio passes 20% once the 15m window is mostly failures (~19m)
            "58m",
            firing("AiwfeRunFailures", "task-processor"),
        ),
        # the database is unreachable from 3m to 13m
        "AiwfeQueueUnobservable": case(
            "AiwfeQueueUnobservable",
            {
                sel(probe, wk, 'instance="a"', source="database"): "1x3 0x10 1x10",
                sel(probe, wk, 'instance="a"', source="redis"): "1x25",
            },
            "10m",
            "20m",
            firing("AiwfeQueueUnobservable", "task-processor", source="database"),
        ),
    }


def test_rules_are_valid_for_prometheus(tools) -> None:
    result = services_env.run_tool(
        "promtool", ["check", "rules", "rules.yml"], {"rules.yml": rules_text()}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_fires_and_clears(tools) -> None:
    cases = unit_tests()
    assert set(cases) == set(alerts()), "every shipped alert needs a promtool case here"
    suite = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": list(cases.values()),
    }
    files = {"rules.yml": rules_text(), "tests.yml": yaml.safe_dump(suite, sort_keys=False)}
    result = services_env.run_tool("promtool", ["test", "rules", "tests.yml"], files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_case_fails_when_an_alert_would_not_fire(tools) -> None:
    """The cases can fail: a case expecting a firing alert on healthy series is refused."""
    healthy = case(
        "AiwfeComponentDown",
        {'up{job="aiwfe-api-gateway",instance="10.0.0.1:8080"}': "1x20"},
        "10m",
        "16m",
        firing("AiwfeComponentDown", "api-gateway", "critical"),
    )
    suite = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [healthy]}
    files = {"rules.yml": rules_text(), "tests.yml": yaml.safe_dump(suite)}
    result = services_env.run_tool("promtool", ["test", "rules", "tests.yml"], files)
    assert result.returncode != 0 and "AiwfeComponentDown" in result.stdout + result.stderr


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_links_to_its_runbook_section() -> None:
    sections = {
        anchor(line[3:]): line[3:].strip()
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("## ")
    }
    rules = [r for rs in alerts().values() for r in rs]
    for pr in of_kind(render("default", SETS, ("monitoring.coreos.com/v1",)), "PrometheusRule"):
        rules += [r for g in pr["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert len(rules) > len(alerts())
    for rule in rules:
        url = rule["annotations"].get("runbook_url", "")
        assert url == RUNBOOK_BASE + anchor(rule["alert"]), rule
        assert sections.get(anchor(rule["alert"])) == rule["alert"], f"no section {rule['alert']}"
    # each section has the three parts, and none is about an alert that does not exist
    assert set(sections.values()) == set(alerts())
    for name in sections.values():
        body = RUNBOOKS.read_text().split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("**Meaning.**", "**Confirm.**", "**Fix.**"):
            assert part in body, f"{name}: missing {part}"


RECEIVERS = (
    "observability.alertmanager.receivers.webhook.url=http://hooks.example.com:8080/alerts",
    "observability.alertmanager.receivers.email.to=oncall@example.com",
    "observability.alertmanager.receivers.email.from=aiwfe@example.com",
    "observability.alertmanager.receivers.email.smarthost=smtp.example.com:587",
    "observability.alertmanager.receivers.email.authUsername=aiwfe",
    "observability.alertmanager.receivers.email.existingSecret=smtp",
    "observability.alertmanager.receivers.slack.existingSecret=chat-hook",
    "observability.alertmanager.receivers.slack.channel=#ops",
)


def alertmanager_config(sets: tuple[str, ...]) -> dict:
    cm = by_name(render("default", sets), "ConfigMap", "aiwfe-observability-alertmanager")
    return yaml.safe_load(cm["data"]["alertmanager.yml"])


def test_alertmanager_receivers_render_and_are_valid(tools) -> None:
    config = alertmanager_config(RECEIVERS)
    [receiver] = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"] == "aiwfe"
    assert receiver["webhook_configs"] == [
        {"send_resolved": True, "url": "http://hooks.example.com:8080/alerts"}
    ]
    [mail] = receiver["email_configs"]
    assert mail["to"] == "oncall@example.com" and mail["smarthost"] == "smtp.example.com:587"
    assert mail["auth_password_file"] == "/etc/aiwfe/alertmanager-secrets/smtp-password"
    [slack] = receiver["slack_configs"]
    assert slack == {
        "send_resolved": True,
        "api_url_file": "/etc/aiwfe/alertmanager-secrets/slack-url",
        "channel": "#ops",
    }
    result = services_env.run_tool(
        "amtool", ["check-config", "alertmanager.yml"], {"alertmanager.yml": yaml.safe_dump(config)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # the secrets are mounted where the config reads them
    objects = render("default", RECEIVERS)
    deploy = by_name(objects, "Deployment", "aiwfe-observability")
    spec = deploy["spec"]["template"]["spec"]
    [am] = [c for c in spec["containers"] if c["name"] == "alertmanager"]
    assert {
        "name": "alertmanager-secrets",
        "mountPath": "/etc/aiwfe/alertmanager-secrets",
        "readOnly": True,
    } in am["volumeMounts"]
    [volume] = [v for v in spec["volumes"] if v["name"] == "alertmanager-secrets"]
    items = {
        (s["secret"]["name"], s["secret"]["items"][0]["path"])
        for s in volume["projected"]["sources"]
    }
    assert items == {("smtp", "smtp-password"), ("chat-hook", "slack-url")}


def test_default_alertmanager_config_has_a_silent_receiver_and_no_egress(tools) -> None:
    config = alertmanager_config(())
    assert config["receivers"] == [{"name": "none"}]
    result = services_env.run_tool(
        "amtool", ["check-config", "alertmanager.yml"], {"alertmanager.yml": yaml.safe_dump(config)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    policy = by_name(render("default"), "NetworkPolicy", "aiwfe-observability")
    assert all(
        "ipBlock" not in peer for rule in policy["spec"]["egress"] for peer in rule.get("to", [])
    )


def test_receivers_get_egress_on_their_ports_only() -> None:
    policy = by_name(render("default", RECEIVERS), "NetworkPolicy", "aiwfe-observability")
    external = [
        rule for rule in policy["spec"]["egress"] if any("ipBlock" in p for p in rule.get("to", []))
    ]
    ports = sorted(rule["ports"][0]["port"] for rule in external)
    assert ports == [443, 587, 8080]  # Slack-compatible webhook, SMTP, the webhook's URL
    for rule in external:
        [peer] = rule["to"]
        assert peer["ipBlock"]["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in peer["ipBlock"]["except"]


def test_email_without_a_smarthost_is_refused() -> None:
    from tests.chart.chart_support import render_error

    error = render_error(
        "default", ("observability.alertmanager.receivers.email.to=a@example.com",)
    )
    assert "receivers.email.from is required" in error


def test_keda_reaches_redis_from_its_own_namespace_only_when_enabled() -> None:
    def keda_rules(sets: tuple[str, ...]) -> list[dict]:
        policy = by_name(render("default", sets), "NetworkPolicy", "aiwfe-data-platform")
        return [
            rule
            for rule in policy["spec"]["ingress"]
            for peer in rule.get("from", [])
            if "namespaceSelector" in peer
        ]

    assert keda_rules(()) == []
    [rule] = keda_rules((*SETS, "networkPolicy.keda.namespace=autoscalers"))
    assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]
    [peer] = rule["from"]
    assert peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "autoscalers"}
    }
    assert peer["podSelector"] == {"matchLabels": {"app": "keda-operator"}}

"""The metrics contract (aiwfe.core.metrics) against the running services: everything they
export under aiwfe_* is declared with that type and those labels, and after a workload every
declared family is served by the components the contract names, with believable values."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiwfe.core import metrics
from aiwfe.worker.celery_app import QUEUE
from tests.services.support import Api, wait_for_run

# contract component -> the stack's process that serves it (consolidated mode)
PROCS = {
    metrics.GATEWAY: "gateway",
    metrics.COGNITIVE: "cognitive",
    metrics.CONFIG: "config",
    metrics.WORKER: "worker",
}
TEXT = (
    "Umbrella Ltd moved its data centre to Lisbon in 2025. "
    "The Lisbon team runs the nightly backups. Questions go to infra@umbrella.example."
)

Families = dict[str, object]


def scrape(url: str) -> dict[str, object]:
    response = httpx.get(url + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(families: Families, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def spec_of(family) -> metrics.MetricSpec | None:
    name = family.name + "_total" if family.type == "counter" else family.name
    return metrics.CONTRACT.get(name)


def check_declared(component: str, families: Iterable) -> list[str]:
    problems = []
    for family in families:
        if not family.name.startswith("aiwfe_") or not family.samples:
            continue  # a labelled metric nobody used yet is served without samples
        spec = spec_of(family)
        if spec is None and family.type == "gauge" and family.name.endswith("_created"):
            # the text format serves a counter's or histogram's _created as its own gauge
            owner = family.name.removesuffix("_created")
            spec = metrics.CONTRACT.get(owner + "_total") or metrics.CONTRACT.get(owner)
            if spec is not None and spec.type in ("counter", "histogram"):
                problems += check_labels(component, spec, family.samples)
                continue
            spec = None
        if spec is None:
            problems.append(
                f"{component} exports {family.name} ({family.type}), not in the contract"
            )
            continue
        if family.type != spec.type:
            problems.append(f"{component}: {spec.name} is a {family.type}, declared {spec.type}")
        if component not in spec.components:
            problems.append(f"{component} exports {spec.name}, declared only for {spec.components}")
        problems += check_labels(component, spec, family.samples)
    return problems


def check_labels(component: str, spec: metrics.MetricSpec, samples) -> list[str]:
    problems = []
    for sample in samples:
        if sample.name not in spec.series():
            problems.append(f"{component}: unexpected series {sample.name} of {spec.name}")
        labels = set(sample.labels) - ({"le"} if sample.name.endswith("_bucket") else set())
        if labels != set(spec.labels):
            problems.append(
                f"{component}: {sample.name} has labels {sorted(labels)}, "
                f"declared {sorted(spec.labels)}"
            )
    return problems


@pytest.fixture(scope="module")
def workload(stack, api: Api) -> dict[str, tuple[Families, Families]]:
    """Scrapes of every process before and after: a workflow (remember, recall, decide),
    a chat and a memory search through the gateway."""
    urls = {name: stack[proc].url for name, proc in PROCS.items()}
    before = {name: scrape(url) for name, url in urls.items()}
    namespace = f"metrics-{uuid.uuid4().hex[:8]}"
    steps = [
        {"type": "remember", "params": {"namespace": namespace}},
        {"type": "recall", "params": {"query": "Who runs the backups?", "namespace": namespace}},
    ]
    created = api.post(
        "/api/v1/workflows", json={"name": "metrics", "steps": steps, "input": {"text": TEXT}}
    )
    assert created.status_code == 201, created.text
    run = wait_for_run(api, created.json()["id"])
    assert run["status"] == "succeeded", run
    facts = run["step_results"][0]["output"]["facts"]
    chat = api.post("/api/v1/chat", json={"message": "Where is the data centre?"})
    assert chat.status_code == 200, chat.text
    search = api.post(
        "/api/v1/memory/search", json={"query": "Lisbon backups", "namespace": namespace}
    )
    assert search.status_code == 200 and search.json()["items"], search.text
    after = {name: scrape(url) for name, url in urls.items()}
    return {"before": before, "after": after, "facts": facts, "recalled": search.json()["items"]}


def test_every_exported_aiwfe_metric_is_in_the_contract(workload) -> None:
    problems = []
    for component, families in workload["after"].items():
        problems += check_declared(component, families.values())
    assert not problems, "\n".join(problems)


def test_every_contract_metric_is_served_after_a_workload(workload) -> None:
    missing = []
    for spec in metrics.CONTRACT.values():
        for component in spec.components:
            families = workload["after"][component]
            if not any(s.name in spec.series() for f in families.values() for s in f.samples):
                missing.append(f"{spec.name} ({spec.type}) not served by {component}")
    assert not missing, "\n".join(missing)


def test_workload_figures_add_up(workload) -> None:
    before, after = workload["before"], workload["after"]

    def delta(component: str, name: str, **labels: str) -> float:
        return value(after[component], name, **labels) - value(before[component], name, **labels)

    cog, worker = metrics.COGNITIVE, metrics.WORKER
    # one new namespace: every extracted fact is stored once, recall returned what search did
    assert delta(cog, "aiwfe_memory_facts_total", result="stored") == len(workload["facts"])
    assert delta(cog, "aiwfe_memory_operations_total", operation="ingest", outcome="ok") == 1
    assert delta(cog, "aiwfe_memory_operations_total", operation="recall", outcome="ok") >= 2
    assert delta(cog, "aiwfe_memory_facts_total", result="recalled") >= len(workload["recalled"])
    # the local model counts no tokens: the documented estimate, at least the text's
    tokens_in = delta(cog, "aiwfe_llm_tokens_total", direction="input", source="estimated")
    assert tokens_in >= metrics.estimate_tokens(TEXT)
    assert delta(cog, "aiwfe_llm_requests_total", provider="local", outcome="ok") >= 2
    assert delta(cog, "aiwfe_embedding_inputs_total", provider="local") >= len(workload["facts"])
    stores = delta(cog, "aiwfe_vector_store_operation_duration_seconds_count", outcome="ok")
    assert stores >= 3  # one upsert, two searches
    # the run: one execution, succeeded, two steps timed
    assert delta(worker, "aiwfe_worker_runs_total", outcome="succeeded") >= 1
    assert delta(worker, "aiwfe_worker_run_duration_seconds_count", outcome="succeeded") >= 1
    assert delta(worker, "aiwfe_worker_steps_total", type="remember", status="succeeded") >= 1


def test_queue_figures_are_read_at_scrape_time(workload) -> None:
    families = workload["after"][metrics.WORKER]
    assert value(families, "aiwfe_worker_queue_probe_up", source="redis") == 1
    assert value(families, "aiwfe_worker_queue_probe_up", source="database") == 1
    depth = [s for s in families["aiwfe_worker_queue_depth"].samples]
    assert [s.labels["queue"] for s in depth] == [QUEUE]  # the list KEDA watches
    assert depth[0].value >= 0
    age = value(families, "aiwfe_worker_oldest_queued_run_age_seconds")
    assert not math.isnan(age) and age >= 0

"""The metrics contract: every Prometheus metric the AIWFE services export, defined here once.

Each entry says its name, type, labels, meaning and which component exports it. Services import
the metric objects from this module (never declare their own); the chart's dashboards, alert
rules and KEDA trigger may only query series listed here (tests/chart/test_promql_contract.py),
and tests/services/test_metrics_contract.py scrapes the running services against this list.

Series names follow Prometheus' exposition: a counter `x_total` is the series `x_total`; a
histogram `x` is `x_bucket`, `x_sum` and `x_count` (`series()` lists them).

Token counts: `aiwfe_llm_tokens_total` and `aiwfe_embedding_tokens_total` use the counts the
model server returns (Ollama: `prompt_eval_count` / `eval_count`; OpenAI-compatible servers:
`usage.prompt_tokens` / `usage.completion_tokens`), labelled `source="reported"`. Where there
is no count (the local model-less providers, or a server that omits it, e.g. Ollama answering
from its prompt cache), the count is estimated as ceil(characters / 4), OpenAI's rule of thumb
for English BPE tokenizers, and labelled `source="estimated"`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

GATEWAY = "api-gateway"
COGNITIVE = "cognitive-services"
CONFIG = "config-manager"
WORKER = "task-processor"
HTTP_SERVICES = (GATEWAY, COGNITIVE, CONFIG)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
MODEL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
RUN_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


@dataclass(frozen=True)
class MetricSpec:
    name: str  # the name as queried: counters end in _total
    type: str  # counter, histogram or gauge
    labels: tuple[str, ...]
    help: str
    components: tuple[str, ...]  # the chart components whose /metrics serve it

    @property
    def family(self) -> str:
        """The family name in the exposition format (a counter's name without `_total`)."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name

    def series(self) -> tuple[str, ...]:
        """Every series name a scrape of this metric yields (prometheus_client also exposes
        `_created` for counters and histograms)."""
        if self.type == "counter":
            return (self.name, f"{self.family}_created")
        if self.type == "histogram":
            return tuple(f"{self.name}_{s}" for s in ("bucket", "sum", "count", "created"))
        return (self.name,)


CONTRACT: dict[str, MetricSpec] = {}


def _spec(name: str, kind: str, help: str, labels: tuple[str, ...], components) -> MetricSpec:
    if name in CONTRACT:
        raise ValueError(f"metric {name} is declared twice")
    if kind == "counter" and not name.endswith("_total"):
        raise ValueError(f"counter {name} must end in _total")
    spec = MetricSpec(name, kind, tuple(labels), help, tuple(components))
    CONTRACT[name] = spec
    return spec


def _counter(name: str, help: str, labels: tuple[str, ...], components) -> Counter:
    _spec(name, "counter", help, labels, components)
    return Counter(name, help, labels)


def _histogram(name: str, help: str, labels: tuple[str, ...], components, buckets) -> Histogram:
    _spec(name, "histogram", help, labels, components)
    return Histogram(name, help, labels, buckets=buckets)


# --- HTTP (every first-party HTTP service) --------------------------------------------------
HTTP_REQUESTS = _counter(
    "aiwfe_http_requests_total",
    "HTTP requests served, by route template and status code",
    ("service", "method", "route", "status"),
    HTTP_SERVICES,
)
HTTP_LATENCY = _histogram(
    "aiwfe_http_request_duration_seconds",
    "HTTP request latency, by route template",
    ("service", "method", "route"),
    HTTP_SERVICES,
    LATENCY_BUCKETS,
)

# --- Models (cognitive-services calls them) ------------------------------------------------
LLM_REQUESTS = _counter(
    "aiwfe_llm_requests_total",
    "LLM completions requested, by provider, model and outcome (ok or error)",
    ("provider", "model", "outcome"),
    (COGNITIVE,),
)
LLM_LATENCY = _histogram(
    "aiwfe_llm_request_duration_seconds",
    "LLM completion latency, errors included",
    ("provider", "model"),
    (COGNITIVE,),
    MODEL_BUCKETS,
)
LLM_TOKENS = _counter(
    "aiwfe_llm_tokens_total",
    "LLM tokens in (direction=input: prompt) and out (direction=output: completion); "
    "source=reported (the server's count) or estimated (ceil(characters/4))",
    ("provider", "model", "direction", "source"),
    (COGNITIVE,),
)
EMBEDDING_REQUESTS = _counter(
    "aiwfe_embedding_requests_total",
    "Embedding requests (one per batch), by provider, model and outcome (ok or error)",
    ("provider", "model", "outcome"),
    (COGNITIVE,),
)
EMBEDDING_LATENCY = _histogram(
    "aiwfe_embedding_request_duration_seconds",
    "Embedding request latency (one batch), errors included",
    ("provider", "model"),
    (COGNITIVE,),
    MODEL_BUCKETS,
)
EMBEDDING_INPUTS = _counter(
    "aiwfe_embedding_inputs_total",
    "Texts embedded",
    ("provider", "model"),
    (COGNITIVE,),
)
EMBEDDING_TOKENS = _counter(
    "aiwfe_embedding_tokens_total",
    "Tokens embedded; source=reported (the server's count) or estimated (ceil(characters/4))",
    ("provider", "model", "source"),
    (COGNITIVE,),
)

# --- Memory and the vector store -----------------------------------------------------------
MEMORY_OPERATIONS = _counter(
    "aiwfe_memory_operations_total",
    "Memory operations (operation=ingest or recall) by outcome (ok or error)",
    ("operation", "outcome"),
    (COGNITIVE,),
)
MEMORY_LATENCY = _histogram(
    "aiwfe_memory_operation_duration_seconds",
    "Memory operation latency (ingest: extraction, embedding and storage; recall: search)",
    ("operation",),
    (COGNITIVE,),
    MODEL_BUCKETS,
)
MEMORY_FACTS = _counter(
    "aiwfe_memory_facts_total",
    "Facts handled: result=stored (new), duplicate (already known) or recalled (returned)",
    ("result",),
    (COGNITIVE,),
)
VECTOR_LATENCY = _histogram(
    "aiwfe_vector_store_operation_duration_seconds",
    "Vector store call latency by store (qdrant or pgvector), operation and outcome",
    ("store", "operation", "outcome"),
    (COGNITIVE,),
    LATENCY_BUCKETS,
)

# --- Workflows (task-processor) ------------------------------------------------------------
RUNS = _counter(
    "aiwfe_worker_runs_total",
    "Run executions by outcome (succeeded, failed, cancelled, retry, missing, already-<status>)",
    ("outcome",),
    (WORKER,),
)
RUN_SECONDS = _histogram(
    "aiwfe_worker_run_duration_seconds",
    "Wall time of one run execution by the worker, by outcome",
    ("outcome",),
    (WORKER,),
    RUN_BUCKETS,
)
STEPS = _counter(
    "aiwfe_worker_steps_total",
    "Executed workflow steps by type and status (succeeded or error)",
    ("type", "status"),
    (WORKER,),
)
STEP_SECONDS = _histogram(
    "aiwfe_worker_step_duration_seconds",
    "Workflow step duration (successful steps, as measured by cognitive-services)",
    ("type",),
    (WORKER,),
    STEP_BUCKETS,
)
# Computed at scrape time by the worker (aiwfe.worker.health.QueueCollector); every worker
# replica reports the same figures, so aggregate them with max(), never sum().
QUEUE_DEPTH = _spec(
    "aiwfe_worker_queue_depth",
    "gauge",
    "Messages waiting in the Redis queue (what KEDA scales on); NaN when Redis is unreachable",
    ("queue",),
    (WORKER,),
)
RUNS_QUEUED = _spec(
    "aiwfe_worker_runs_queued",
    "gauge",
    "Workflow runs in status queued in the database; NaN when it is unreachable",
    (),
    (WORKER,),
)
OLDEST_QUEUED_AGE = _spec(
    "aiwfe_worker_oldest_queued_run_age_seconds",
    "gauge",
    "Age of the oldest run still queued (0 when none); NaN when the database is unreachable",
    (),
    (WORKER,),
)
QUEUE_PROBE_UP = _spec(
    "aiwfe_worker_queue_probe_up",
    "gauge",
    "1 when the last scrape could read the queue figures from source (redis or database)",
    ("source",),
    (WORKER,),
)


# prometheus_client's default collectors (process and Python runtime) in every HTTP service's
# default registry; the worker serves its multiprocess registry only, without them.
# https://prometheus.github.io/client_python/collector/
for _name, _kind, _labels, _help in (
    ("process_cpu_seconds_total", "counter", (), "CPU time of the process"),
    ("process_resident_memory_bytes", "gauge", (), "Resident memory of the process"),
    ("process_virtual_memory_bytes", "gauge", (), "Virtual memory of the process"),
    ("process_start_time_seconds", "gauge", (), "Start time of the process (Unix epoch)"),
    ("process_open_fds", "gauge", (), "Open file descriptors"),
    ("process_max_fds", "gauge", (), "File descriptor limit"),
    ("python_gc_objects_collected_total", "counter", ("generation",), "Objects collected"),
    ("python_gc_objects_uncollectable_total", "counter", ("generation",), "Uncollectable"),
    ("python_gc_collections_total", "counter", ("generation",), "GC runs per generation"),
    (
        "python_info",
        "gauge",
        ("implementation", "major", "minor", "patchlevel", "version"),
        "Python version",
    ),
):
    _spec(_name, _kind, _help, _labels, HTTP_SERVICES)


def series_names() -> frozenset[str]:
    """Every series name the services export."""
    return frozenset(s for spec in CONTRACT.values() for s in spec.series())


def estimate_tokens(text: str) -> int:
    """Token estimate where the provider reports none: ceil(characters / 4)."""
    return math.ceil(len(text) / 4) if text else 0


@contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[None]:
    """Observe the block's wall time in `histogram` (also when it raises)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        histogram.labels(*labels).observe(time.perf_counter() - start)


def markdown() -> str:
    """docs/metrics.md: the contract as a table (`python -m aiwfe.core.metrics > docs/metrics.md`;
    a chart test fails when the file drifts)."""
    lines = [
        "# Metrics: every series the AIWFE services export",
        "",
        "Generated from `src/aiwfe/core/metrics.py` (the metrics contract) by",
        "`python -m aiwfe.core.metrics > docs/metrics.md`; do not edit by hand. Dashboards, alerts",
        "and the KEDA trigger may query only these series (tests/chart/test_promql_contract.py);",
        "tests/services/test_metrics_contract.py scrapes the running services against them.",
        "",
        "\n\n".join(__doc__.split("\n\n")[2:4]).strip(),
        "",
        "The queue gauges are read at scrape time by every worker replica: aggregate them with",
        "`max()`, never `sum()`.",
        "",
        "| name | type | labels | served by | meaning |",
        "|---|---|---|---|---|",
    ]
    for spec in CONTRACT.values():
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
        lines.append(
            f"| `{spec.name}` | {spec.type} | {labels} | {', '.join(spec.components)} "
            f"| {spec.help} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")

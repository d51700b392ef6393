"""Model and vector-store calls that fail are counted as errors, per provider and model, and
their latency is still observed: a model server that is down shows on the dashboards and fires
AiwfeModelErrors instead of vanishing from the figures."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from aiwfe.core import metrics
from aiwfe.core.providers.embeddings import HashingEmbedding, OllamaEmbedding
from aiwfe.core.providers.llm import LocalExtractiveLLM, OllamaLLM, OpenAICompatibleLLM
from ci.env.services import free_port


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused


@pytest.mark.parametrize(
    "make",
    [
        lambda url: OllamaLLM(url, "llama3.2:1b", timeout=5),
        lambda url: OpenAICompatibleLLM(url, "qwen", None, timeout=5),
    ],
    ids=["ollama", "openai"],
)
def test_an_unreachable_model_server_counts_an_error(make) -> None:
    llm = make(closed_url())
    labels = {"provider": llm.name, "model": llm.model}
    errors = sample("aiwfe_llm_requests_total", **labels, outcome="error")
    timed = sample("aiwfe_llm_request_duration_seconds_count", **labels)
    with pytest.raises(Exception):  # noqa: B017 - each client raises its own connection error
        asyncio.run(llm.generate("hello"))
    assert sample("aiwfe_llm_requests_total", **labels, outcome="error") == errors + 1
    assert sample("aiwfe_llm_request_duration_seconds_count", **labels) == timed + 1
    assert sample("aiwfe_llm_requests_total", **labels, outcome="ok") == 0
    asyncio.run(llm.close())


def test_an_unreachable_embedding_server_counts_an_error() -> None:
    emb = OllamaEmbedding(closed_url(), "nomic-embed-text", 384, timeout=5)
    labels = {"provider": "ollama", "model": "nomic-embed-text"}
    errors = sample("aiwfe_embedding_requests_total", **labels, outcome="error")
    with pytest.raises(Exception):  # noqa: B017
        asyncio.run(emb.embed(["a text"]))
    assert sample("aiwfe_embedding_requests_total", **labels, outcome="error") == errors + 1
    assert sample("aiwfe_embedding_inputs_total", **labels) == 0  # nothing was embedded


def test_local_providers_count_estimated_tokens() -> None:
    text = "Postgres stores the runs. Redis carries the queue to the workers."
    llm = LocalExtractiveLLM()
    labels = {"provider": "local", "model": "extractive"}
    before = sample("aiwfe_llm_tokens_total", **labels, direction="input", source="estimated")
    facts = asyncio.run(llm.extract_facts(text))
    assert facts
    after = sample("aiwfe_llm_tokens_total", **labels, direction="input", source="estimated")
    assert after - before == metrics.estimate_tokens(text) == 17  # ceil(65 characters / 4)
    emb = HashingEmbedding(64)
    elabels = {"provider": "local", "model": "feature-hashing"}
    inputs = sample("aiwfe_embedding_inputs_total", **elabels)
    asyncio.run(emb.embed([text, "second"]))
    assert sample("aiwfe_embedding_inputs_total", **elabels) == inputs + 2

"""Embedding providers: Ollama, and a local deterministic feature-hashing fallback."""

from __future__ import annotations

import hashlib
import math
import time
from abc import ABC, abstractmethod
from itertools import pairwise

from aiwfe.core.metrics import (
    EMBEDDING_INPUTS,
    EMBEDDING_LATENCY,
    EMBEDDING_REQUESTS,
    EMBEDDING_TOKENS,
    estimate_tokens,
)
from aiwfe.core.providers.text import STOPWORDS, words
from aiwfe.core.settings import Settings


class EmbeddingProvider(ABC):
    name: str
    model: str
    dim: int

    @abstractmethod
    async def vectors(self, texts: list[str]) -> tuple[list[list[float]], int | None]:
        """One vector of length `dim` per text, and the tokens the server counted (or None)."""

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector of length `dim` per text (recorded in the aiwfe_embedding_* metrics)."""
        start = time.perf_counter()
        outcome = "error"
        try:
            vectors, tokens = await self.vectors(texts)
            outcome = "ok"
        finally:
            EMBEDDING_LATENCY.labels(self.name, self.model).observe(time.perf_counter() - start)
            EMBEDDING_REQUESTS.labels(self.name, self.model, outcome).inc()
        EMBEDDING_INPUTS.labels(self.name, self.model).inc(len(texts))
        if tokens is None:
            estimate = sum(estimate_tokens(text) for text in texts)
            EMBEDDING_TOKENS.labels(self.name, self.model, "estimated").inc(estimate)
        else:
            EMBEDDING_TOKENS.labels(self.name, self.model, "reported").inc(tokens)
        return vectors

    async def close(self) -> None:
        return None


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    # blake2b, not hash(): Python's hash is salted per process, vectors must be stable.
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


class HashingEmbedding(EmbeddingProvider):
    """Signed feature hashing of words, word bigrams and character trigrams, L2-normalised.

    Deterministic across processes and machines; captures lexical (not semantic) similarity,
    which is what a model-less fallback can honestly offer.
    """

    name = "local"
    model = "feature-hashing"

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        tokens = words(text)
        content = [t for t in tokens if t not in STOPWORDS]
        features: list[tuple[str, float]] = [(f"w:{t}", 1.0) for t in content]
        features += [(f"b:{a}_{b}", 0.5) for a, b in pairwise(content)]
        for token in content:
            padded = f"^{token}$"
            features += [(f"c:{padded[i : i + 3]}", 0.25) for i in range(len(padded) - 2)]
        for feature, weight in features:
            index, sign = _bucket(feature, self.dim)
            vec[index] += sign * weight
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0:
            return vec
        return [v / norm for v in vec]

    async def vectors(self, texts: list[str]) -> tuple[list[list[float]], int | None]:
        return [self.vector(text) for text in texts], None


class OllamaEmbedding(EmbeddingProvider):
    name = "ollama"

    def __init__(self, url: str, model: str, dim: int, timeout: float) -> None:
        import ollama

        self.model = model
        self.dim = dim
        self.client = ollama.AsyncClient(host=url, timeout=timeout)

    async def vectors(self, texts: list[str]) -> tuple[list[list[float]], int | None]:
        response = await self.client.embed(model=self.model, input=texts)
        vectors = [list(v) for v in response.embeddings]
        for vector in vectors:
            if len(vector) != self.dim:
                raise ValueError(
                    f"model {self.model} returns {len(vector)} dimensions, "
                    f"AIWFE_EMBEDDING_DIM is {self.dim}"
                )
        return vectors, response.prompt_eval_count


def create_embeddings(settings: Settings) -> EmbeddingProvider:
    if settings.embedding_provider == "ollama":
        return OllamaEmbedding(
            settings.llm_url, settings.embedding_model, settings.embedding_dim, settings.llm_timeout
        )
    return HashingEmbedding(settings.embedding_dim)

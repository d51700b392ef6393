"""LLM providers: Ollama (official client), OpenAI-compatible, and the local fallback.

The local fallback needs no model server. It is *extractive and deterministic*: it never
invents text, it selects and orders sentences from its input. The platform still works
end to end with it, in reduced form, where no GPU or model server exists.
"""

from __future__ import annotations

import json
import math
import re
import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass

import httpx

from aiwfe.core.metrics import LLM_LATENCY, LLM_REQUESTS, LLM_TOKENS, estimate_tokens
from aiwfe.core.providers.text import content_words, sentences
from aiwfe.core.settings import Settings

FACT_SYSTEM = (
    "You extract durable facts from text. Answer with a JSON array of short, self-contained "
    "factual statements (strings), at most {limit}. No commentary."
)


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int | None = None  # as counted by the model server; None: not reported
    tokens_out: int | None = None


class LLMProvider(ABC):
    name: str
    model: str

    @abstractmethod
    async def complete(self, prompt: str, *, system: str | None = None) -> Completion:
        """Complete a prompt: the text and the server's token counts, where it reports them."""

    async def generate(self, prompt: str, *, system: str | None = None) -> str:
        """Complete a prompt and return the text (recorded in the aiwfe_llm_* metrics)."""
        start = time.perf_counter()
        outcome = "error"
        try:
            result = await self.complete(prompt, system=system)
            outcome = "ok"
        finally:
            LLM_LATENCY.labels(self.name, self.model).observe(time.perf_counter() - start)
            LLM_REQUESTS.labels(self.name, self.model, outcome).inc()
        self._count("input", result.tokens_in, (system or "") + prompt)
        self._count("output", result.tokens_out, result.text)
        return result.text

    def _count(self, direction: str, reported: int | None, text: str) -> None:
        if reported is None:
            LLM_TOKENS.labels(self.name, self.model, direction, "estimated").inc(
                estimate_tokens(text)
            )
        else:
            LLM_TOKENS.labels(self.name, self.model, direction, "reported").inc(reported)

    async def extract_facts(self, text: str, limit: int = 20) -> list[str]:
        """Phase 1 of the memory pipeline: text -> list of standalone facts."""
        answer = await self.generate(text, system=FACT_SYSTEM.format(limit=limit))
        return parse_fact_list(answer, limit) or LocalExtractiveLLM().facts(text, limit)

    async def close(self) -> None:
        return None


def parse_fact_list(answer: str, limit: int) -> list[str]:
    """Read a JSON array out of a model answer, tolerating prose or code fences around it."""
    match = re.search(r"\[.*\]", answer, re.DOTALL)
    if match:
        try:
            items = json.loads(match.group(0))
        except json.JSONDecodeError:
            items = None
        if isinstance(items, list):
            facts = [str(item).strip() for item in items if str(item).strip()]
            return facts[:limit]
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in answer.splitlines()]
    return [line for line in lines if len(line) > 3][:limit]


class LocalExtractiveLLM(LLMProvider):
    """Deterministic extractive fallback (no model): sentence ranking by term salience."""

    name = "local"
    model = "extractive"

    def facts(self, text: str, limit: int = 20) -> list[str]:
        seen: set[str] = set()
        facts: list[str] = []
        for sentence in sentences(text):
            if len(content_words(sentence)) < 2 or sentence.endswith("?"):
                continue
            key = sentence.lower()
            if key not in seen:
                seen.add(key)
                facts.append(sentence)
            if len(facts) >= limit:
                break
        return facts

    async def extract_facts(self, text: str, limit: int = 20) -> list[str]:
        start = time.perf_counter()
        outcome = "error"
        try:
            facts = self.facts(text, limit)
            outcome = "ok"
        finally:
            LLM_LATENCY.labels(self.name, self.model).observe(time.perf_counter() - start)
            LLM_REQUESTS.labels(self.name, self.model, outcome).inc()
        self._count("input", None, text)
        self._count("output", None, "\n".join(facts))
        return facts

    def summarise(self, text: str, focus: str = "", max_sentences: int = 3) -> str:
        """The highest-scoring sentences (TF weighting, boosted by overlap with `focus`),
        returned in their original order."""
        candidates = sentences(text)
        if not candidates:
            return ""
        frequency = Counter(w for s in candidates for w in content_words(s))
        focus_terms = set(content_words(focus))
        scored = []
        for index, sentence in enumerate(candidates):
            terms = content_words(sentence)
            if not terms:
                continue
            salience = sum(frequency[t] for t in terms) / math.sqrt(len(terms))
            overlap = len(focus_terms.intersection(terms))
            scored.append((overlap * 10 + salience, -index, sentence, index))
        best = sorted(scored, reverse=True)[:max_sentences]
        return " ".join(sentence for *_, sentence, _ in sorted(best, key=lambda item: item[3]))

    async def complete(self, prompt: str, *, system: str | None = None) -> Completion:
        # The question, if any, is the last line; the rest is context to extract from.
        lines = [line for line in prompt.strip().splitlines() if line.strip()]
        focus = lines[-1] if lines else ""
        summary = self.summarise(prompt, focus=focus)
        return Completion(summary or prompt.strip()[:500])  # no tokenizer: counts estimated


class OllamaLLM(LLMProvider):
    name = "ollama"

    def __init__(self, url: str, model: str, timeout: float) -> None:
        import ollama

        self.model = model
        self.client = ollama.AsyncClient(host=url, timeout=timeout)

    async def complete(self, prompt: str, *, system: str | None = None) -> Completion:
        response = await self.client.generate(
            model=self.model, prompt=prompt, system=system or "", options={"temperature": 0}
        )
        # prompt_eval_count is absent when Ollama answers the prompt from its cache.
        return Completion(response.response or "", response.prompt_eval_count, response.eval_count)


class OpenAICompatibleLLM(LLMProvider):
    """Any server speaking the OpenAI chat-completions API (vLLM, llama.cpp, LocalAI, ...)."""

    name = "openai"

    def __init__(self, url: str, model: str, api_key: str | None, timeout: float) -> None:
        base = url.rstrip("/")
        if not base.endswith("/v1"):
            base += "/v1"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self.client = httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout)

    async def complete(self, prompt: str, *, system: str | None = None) -> Completion:
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        response = await self.client.post(
            "/chat/completions",
            json={"model": self.model, "messages": messages, "temperature": 0},
        )
        response.raise_for_status()
        body = response.json()
        usage = body.get("usage") or {}
        return Completion(
            body["choices"][0]["message"]["content"] or "",
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
        )

    async def close(self) -> None:
        await self.client.aclose()


def create_llm(settings: Settings) -> LLMProvider:
    if settings.llm_provider == "local":
        return LocalExtractiveLLM()
    if settings.llm_provider == "openai":
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return OpenAICompatibleLLM(settings.llm_url, settings.llm_model, key, settings.llm_timeout)
    return OllamaLLM(settings.llm_url, settings.llm_model, settings.llm_timeout)

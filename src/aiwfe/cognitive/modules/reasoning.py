"""Reasoning: decision analysis (weighted multi-criteria scoring with recalled evidence and an
LLM rationale) and memory-grounded chat."""

from __future__ import annotations

import uuid
from typing import Any

from aiwfe.cognitive.base import CognitiveError, Module, Transport
from aiwfe.cognitive.resources import Resources
from aiwfe.cognitive.schemas import (
    ChatRequest,
    ChatResponse,
    Criterion,
    DecideRequest,
    DecideResponse,
    Option,
    ScoredOption,
)
from aiwfe.core.providers.text import content_words


def score_options(
    options: list[Option], criteria: list[Criterion], question: str
) -> list[tuple[str, float, dict[str, float]]]:
    """Weighted sum of min-max normalised criterion values, in [0, 1].

    For each criterion values are normalised over the options (a missing value counts as the
    worst); `goal: min` inverts. All-equal values give every option 1.0 on that criterion.
    Without criteria, options are scored by word overlap of their description with the question.
    """
    results: list[tuple[str, float, dict[str, float]]] = []
    if not criteria:
        asked = set(content_words(question))
        for option in options:
            terms = set(content_words(f"{option.name} {option.description}"))
            union = asked | terms
            relevance = len(asked & terms) / len(union) if union else 0.0
            results.append((option.name, round(relevance, 6), {"relevance": round(relevance, 6)}))
        return sorted(results, key=lambda r: (-r[1], r[0]))
    total_weight = sum(c.weight for c in criteria)
    breakdowns: dict[str, dict[str, float]] = {o.name: {} for o in options}
    for criterion in criteria:
        values = [o.scores[criterion.name] for o in options if criterion.name in o.scores]
        low, high = (min(values), max(values)) if values else (0.0, 0.0)
        for option in options:
            if criterion.name not in option.scores:
                normalised = 0.0
            elif high == low:
                normalised = 1.0
            else:
                normalised = (option.scores[criterion.name] - low) / (high - low)
                if criterion.goal == "min":
                    normalised = 1.0 - normalised
            breakdowns[option.name][criterion.name] = round(
                normalised * criterion.weight / total_weight, 6
            )
    for option in options:
        results.append(
            (option.name, round(sum(breakdowns[option.name].values()), 6), breakdowns[option.name])
        )
    return sorted(results, key=lambda r: (-r[1], r[0]))


class ReasoningModule(Module):
    name = "reasoning"

    def __init__(self, resources: Resources, transport: Transport) -> None:
        super().__init__()
        self.resources = resources
        self.transport = transport
        self.op("decide", DecideRequest, self.decide)
        self.op("chat", ChatRequest, self.chat)

    async def _recall(
        self, query: str, namespace: str, limit: int, owner: uuid.UUID | None
    ) -> list[dict[str, Any]]:
        """The caller's memories (owner None: everyone's, for admins)."""
        payload = {"query": query, "namespace": namespace, "limit": limit}
        if owner is not None:
            payload["owner"] = str(owner)
        try:
            result = await self.transport.call("memory", "recall", payload)
        except CognitiveError as exc:
            if exc.status == 404:
                return []
            raise
        return result["items"]

    async def decide(self, request: DecideRequest) -> DecideResponse:
        memories: list[dict[str, Any]] = []
        if request.use_memory:
            memories = await self._recall(request.question, request.namespace, 10, request.owner)
        ranked = score_options(request.options, request.criteria, request.question)
        ranking = []
        for name, score, breakdown in ranked:
            needle = name.lower()
            evidence = [m["text"] for m in memories if needle in m["text"].lower()]
            ranking.append(
                ScoredOption(name=name, score=score, breakdown=breakdown, evidence=evidence)
            )
        lines = [f"Question: {request.question}", "Options ranked by weighted score:"]
        descriptions = {opt.name: opt.description for opt in request.options}
        lines += [
            f"{i + 1}. {o.name} ({o.score:.3f}). {descriptions[o.name]}"
            for i, o in enumerate(ranking)
        ]
        if memories:
            lines.append("Relevant memories:")
            lines += [f"- {m['text']}" for m in memories]
        lines.append(f"Why is {ranking[0].name} the best choice for: {request.question}")
        rationale = await self.resources.llm.generate(
            "\n".join(lines),
            system="Explain briefly, from the given scores and memories only, why the top "
            "option is recommended.",
        )
        return DecideResponse(
            question=request.question,
            best=ranking[0].name,
            ranking=ranking,
            rationale=rationale,
            memories_used=len(memories),
        )

    async def chat(self, request: ChatRequest) -> ChatResponse:
        memories = (
            await self._recall(request.message, request.namespace, 5, request.owner)
            if request.use_memory
            else []
        )
        context = "\n".join(f"- {m['text']}" for m in memories)
        prompt = (f"Known facts:\n{context}\n\n" if context else "") + request.message
        answer = await self.resources.llm.generate(
            prompt, system="Answer using the known facts when they are relevant."
        )
        return ChatResponse(
            answer=answer,
            memories=[{"id": m["id"], "text": m["text"], "score": m["score"]} for m in memories],
        )

    async def ready(self) -> None:
        return None

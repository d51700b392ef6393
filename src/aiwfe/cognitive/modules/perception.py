"""Perception: normalise text or structured input, chunk it, extract entities and keywords."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from aiwfe.cognitive.base import Module
from aiwfe.cognitive.schemas import AnalyzeRequest, AnalyzeResponse, Chunk, Entity
from aiwfe.core.providers.text import content_words, normalise, sentences, words

ENTITY_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"')\]]+")),
    ("date", re.compile(r"\b\d{4}-\d{2}-\d{2}\b")),
    (
        "date",
        re.compile(
            r"\b\d{1,2} (?:January|February|March|April|May|June|July|August|September|"
            r"October|November|December) \d{4}\b"
        ),
    ),
    (
        "money",
        re.compile(r"(?:[$€£]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)? ?(?:USD|EUR|GBP)\b)"),
    ),
    ("percent", re.compile(r"\b\d+(?:\.\d+)?\s?%")),
]
_NAME = re.compile(r"\b[A-Z][a-zA-Z0-9&-]+(?:\s+(?:of\s+|de\s+)?[A-Z][a-zA-Z0-9&-]+)*")


def flatten(data: Any, prefix: str = "") -> list[str]:
    """Structured input as "path: value" lines, in a stable order."""
    if isinstance(data, dict):
        lines: list[str] = []
        for key in sorted(data, key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            lines += flatten(data[key], path)
        return lines
    if isinstance(data, list):
        lines = []
        for index, item in enumerate(data):
            lines += flatten(item, f"{prefix}[{index}]")
        return lines
    return [f"{prefix}: {data}" if prefix else str(data)]


def chunk_text(text: str, chunk_size: int, overlap: int) -> list[Chunk]:
    """Pack whole sentences into chunks of at most chunk_size characters; consecutive chunks
    share up to `overlap` characters of trailing sentences. Over-long sentences are split on
    word boundaries (or hard-split if a single word is too long)."""
    pieces: list[str] = []
    for sentence in sentences(text):
        if len(sentence) <= chunk_size:
            pieces.append(sentence)
            continue
        current = ""
        for word in sentence.split(" "):
            while len(word) > chunk_size:
                if current:
                    pieces.append(current)
                    current = ""
                pieces.append(word[:chunk_size])
                word = word[chunk_size:]
            candidate = f"{current} {word}".strip()
            if len(candidate) > chunk_size:
                pieces.append(current)
                current = word
            else:
                current = candidate
        if current:
            pieces.append(current)

    chunks: list[Chunk] = []
    window: list[str] = []
    cursor = 0
    offsets: list[int] = []
    for piece in pieces:
        offsets.append(cursor)
        cursor += len(piece) + 1
    i = 0
    while i < len(pieces):
        window = []
        length = 0
        j = i
        while j < len(pieces) and length + len(pieces[j]) + (1 if window else 0) <= chunk_size:
            length += len(pieces[j]) + (1 if window else 0)
            window.append(pieces[j])
            j += 1
        body = " ".join(window)
        chunks.append(
            Chunk(index=len(chunks), text=body, start=offsets[i], end=offsets[i] + len(body))
        )
        if j >= len(pieces):
            break
        # step back over trailing sentences that fit in the overlap, never to where we began
        back = j
        carried = 0
        while back - 1 > i and carried + len(pieces[back - 1]) + 1 <= overlap:
            back -= 1
            carried += len(pieces[back]) + 1
        i = back
    return chunks


def extract_entities(text: str) -> list[Entity]:
    found: Counter[tuple[str, str]] = Counter()
    spans: list[tuple[int, int]] = []
    for kind, pattern in ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            if any(s <= match.start() < e for s, e in spans):
                continue
            spans.append(match.span())
            found[(kind, match.group(0).strip())] += 1
    for sentence in sentences(text):
        for match in _NAME.finditer(sentence):
            value = match.group(0)
            tokens = value.split()
            at_start = match.start() == 0
            if at_start and len(tokens) == 1:
                continue  # a capitalised first word is usually not a name
            if len(value) < 2 or (value.isupper() and len(value) <= 2):
                continue
            found[("name", value)] += 1
    return [
        Entity(type=kind, value=value, count=count)
        for (kind, value), count in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def keywords(text: str, limit: int = 10) -> list[str]:
    counts = Counter(content_words(text))
    return [word for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def analyze(request: AnalyzeRequest) -> AnalyzeResponse:
    parts = []
    if request.text:
        parts.append(request.text)
    if request.data is not None:
        parts.append("\n".join(flatten(request.data)))
    text = normalise("\n".join(parts))
    return AnalyzeResponse(
        normalised=text,
        chunks=chunk_text(text, request.chunk_size, request.overlap),
        entities=extract_entities(text),
        keywords=keywords(text),
        stats={
            "chars": len(text),
            "words": len(words(text)),
            "sentences": len(sentences(text)),
        },
    )


class PerceptionModule(Module):
    name = "perception"

    def __init__(self) -> None:
        super().__init__()
        self.op("analyze", AnalyzeRequest, self._analyze)

    async def _analyze(self, request: AnalyzeRequest) -> AnalyzeResponse:
        return analyze(request)

    async def ready(self) -> None:
        return None

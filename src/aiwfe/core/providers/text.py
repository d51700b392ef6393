"""Text helpers shared by the local fallbacks and the perception module (pure, deterministic)."""

from __future__ import annotations

import re
import unicodedata

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_-]*")
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have he her
    his i if in into is it its me my no not of on or our she so than that the their them then
    there these they this those to too was we were what when where which while who whom why
    will with would you your""".split()
)


def normalise(text: str) -> str:
    """NFKC, control characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


def sentences(text: str) -> list[str]:
    """Split into sentences on terminal punctuation and line breaks."""
    result: list[str] = []
    for block in normalise(text).split("\n"):
        for part in _SENTENCE_END.split(block):
            part = part.strip()
            if part:
                result.append(part)
    return result


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]

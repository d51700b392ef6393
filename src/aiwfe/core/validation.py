"""Input checks shared by every request model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def find_nul(value: Any, depth: int = 0) -> bool:
    """True when a string (or mapping key) anywhere in `value` holds a NUL character:
    PostgreSQL text and jsonb cannot store it."""
    if depth > 64:
        return False
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(find_nul(k, depth + 1) or find_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(find_nul(v, depth + 1) for v in value)
    return False


class StrictModel(BaseModel):
    """Unknown fields are errors; NUL characters are refused with a clear message."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if find_nul(data):
            raise ValueError("NUL (\\u0000) characters are not allowed")
        return data

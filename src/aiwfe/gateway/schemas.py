"""Request and response bodies of the gateway's REST API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, JsonValue, StringConstraints

from aiwfe.core.validation import StrictModel


class LoginRequest(StrictModel):
    username: str = Field(min_length=1, max_length=64)
    # Exactly as typed: the model strips other strings, never a password.
    password: Annotated[str, StringConstraints(strip_whitespace=False)] = Field(
        min_length=1, max_length=1024
    )


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class Me(BaseModel):
    id: uuid.UUID
    username: str
    is_admin: bool


class StepOut(BaseModel):
    idx: int
    type: str
    status: str
    attempts: int
    output: dict[str, Any] | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class RunOut(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    input: dict[str, Any]
    steps: list[dict[str, Any]]
    current_step: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class RunDetail(RunOut):
    step_results: list[StepOut]


class RunPage(BaseModel):
    items: list[RunOut]
    total: int
    limit: int
    offset: int


class Problem(BaseModel):
    detail: Any


class FlagValue(StrictModel):
    value: JsonValue


class Flag(BaseModel):
    key: str
    value: Any
    source: str  # "file" (the chart's ConfigMap) or "override" (set at runtime)


class FlagList(BaseModel):
    version: int
    flags: list[Flag]

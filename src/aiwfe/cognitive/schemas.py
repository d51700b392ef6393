"""Request and response bodies of the cognitive modules' operations.

The one place these shapes are defined: the modules validate with them, and the gateway
forwards and documents them without importing any module code.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from aiwfe.cognitive.base import Request
from aiwfe.core.workflow import StepType

NAMESPACE_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"
# Whose memories, feedback and statistics an operation reads or writes; None: everyone's
# (admins). Set by the gateway from the caller's token and by the worker from the run's
# owner, whatever a client sent; not part of the public API (no JSON schema).
Owner = SkipJsonSchema[uuid.UUID | None]


# ---- memory --------------------------------------------------------------------------------


class IngestRequest(Request):
    owner: Owner = None
    text: str = Field(min_length=1, max_length=100_000)
    namespace: str = Field(default="default", pattern=NAMESPACE_PATTERN)
    tags: list[str] = Field(default_factory=list, max_length=20)
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=20)
    max_facts: int = Field(default=20, ge=1, le=100)


class StoredFact(BaseModel):
    id: uuid.UUID
    text: str


class IngestResponse(BaseModel):
    source_id: uuid.UUID
    namespace: str
    facts: list[StoredFact]
    stored: int  # new facts (the rest were already known)


class RecallRequest(Request):
    owner: Owner = None
    query: str = Field(min_length=1, max_length=10_000)
    namespace: str = Field(default="default", pattern=NAMESPACE_PATTERN)
    limit: int = Field(default=5, ge=1, le=100)
    tags: list[str] = Field(default_factory=list, max_length=20)
    where: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=20)
    min_score: float = Field(default=0.0, ge=-1.0, le=1.0)


class RecalledFact(BaseModel):
    id: uuid.UUID
    text: str
    score: float
    tags: list[str]
    metadata: dict[str, Any]
    source_id: uuid.UUID
    created_at: datetime | None


class RecallResponse(BaseModel):
    items: list[RecalledFact]


# ---- reasoning -----------------------------------------------------------------------------


class Criterion(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    weight: float = Field(default=1.0, gt=0, le=1000)
    goal: Literal["max", "min"] = "max"


class Option(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5_000)
    scores: dict[str, float] = Field(default_factory=dict, max_length=50)


class DecideRequest(Request):
    owner: Owner = None
    question: str = Field(min_length=1, max_length=2_000)
    options: list[Option] = Field(min_length=2, max_length=50)
    criteria: list[Criterion] = Field(default_factory=list, max_length=50)
    namespace: str = Field(default="default", pattern=NAMESPACE_PATTERN)
    use_memory: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> DecideRequest:
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise ValueError("option names must be unique")
        criteria = {c.name for c in self.criteria}
        if len(criteria) != len(self.criteria):
            raise ValueError("criterion names must be unique")
        for option in self.options:
            unknown = set(option.scores) - criteria
            if unknown:
                raise ValueError(
                    f"option {option.name!r} scores unknown criteria {sorted(unknown)}"
                )
        return self


class ScoredOption(BaseModel):
    name: str
    score: float
    breakdown: dict[str, float]
    evidence: list[str]


class DecideResponse(BaseModel):
    question: str
    best: str
    ranking: list[ScoredOption]
    rationale: str
    memories_used: int


class ChatRequest(Request):
    owner: Owner = None
    message: str = Field(min_length=1, max_length=10_000)
    namespace: str = Field(default="default", pattern=NAMESPACE_PATTERN)
    use_memory: bool = True


class ChatResponse(BaseModel):
    answer: str
    memories: list[dict[str, Any]]


# ---- perception ----------------------------------------------------------------------------


class Chunk(BaseModel):
    index: int
    text: str
    start: int
    end: int


class Entity(BaseModel):
    type: str
    value: str
    count: int


class AnalyzeRequest(Request):
    text: str | None = Field(default=None, max_length=200_000)
    data: dict[str, Any] | list[Any] | None = None
    chunk_size: int = Field(default=800, ge=50, le=20_000)
    overlap: int = Field(default=100, ge=0, le=5_000)

    @model_validator(mode="after")
    def _one_input(self) -> AnalyzeRequest:
        if self.text is None and self.data is None:
            raise ValueError("give `text` or `data`")
        if self.overlap >= self.chunk_size:
            raise ValueError("overlap must be smaller than chunk_size")
        return self


class AnalyzeResponse(BaseModel):
    normalised: str
    chunks: list[Chunk]
    entities: list[Entity]
    keywords: list[str]
    stats: dict[str, int]


# ---- learning ------------------------------------------------------------------------------


class FeedbackRequest(Request):
    owner: Owner = None
    subject: str = Field(min_length=1, max_length=200)
    outcome: Literal["success", "failure", "partial"]
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str = Field(default="", max_length=5_000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    run_id: uuid.UUID | None = None


class FeedbackResponse(BaseModel):
    id: uuid.UUID
    subject: str
    outcome: str


class StatsRequest(Request):
    owner: Owner = None
    subject: str | None = Field(default=None, max_length=200)


# ---- coordination --------------------------------------------------------------------------


class ExecuteStepRequest(Request):
    owner: Owner = None
    type: StepType
    params: dict[str, Any] = Field(default_factory=dict)
    input: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0, le=30)


class ExecuteStepResponse(BaseModel):
    type: str
    module: str
    op: str
    attempts: int
    duration_s: float
    output: dict[str, Any]


class GenerateRequest(Request):
    prompt: str = Field(min_length=1, max_length=50_000)
    system: str | None = Field(default=None, max_length=5_000)


class WaitRequest(Request):
    seconds: float = Field(ge=0, le=60)

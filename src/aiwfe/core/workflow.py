"""Workflow definitions: the step types a run may contain and how each maps to a module."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from aiwfe.core.validation import StrictModel

# step type -> (module, operation)
STEP_TARGETS: dict[str, tuple[str, str]] = {
    "perceive": ("perception", "analyze"),
    "remember": ("memory", "ingest"),
    "recall": ("memory", "recall"),
    "decide": ("reasoning", "decide"),
    "chat": ("reasoning", "chat"),
    "generate": ("coordination", "generate"),
    "wait": ("coordination", "wait"),
}
StepType = Literal["perceive", "remember", "recall", "decide", "chat", "generate", "wait"]
MAX_STEPS = 50


class StepSpec(StrictModel):
    type: StepType
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    retries: int = Field(default=2, ge=0, le=10)


class WorkflowSpec(StrictModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)
    input: dict[str, Any] = Field(default_factory=dict)

"""Request and response bodies of the gateway's REST API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, JsonValue, StringConstraints, model_validator

from aiwfe.core.auth import Role
from aiwfe.core.validation import StrictModel

MIN_PASSWORD_LENGTH = 12
# Exactly as typed: the model strips other strings, never a password.
Password = Annotated[str, StringConstraints(strip_whitespace=False)]
NewPassword = Annotated[
    Password,
    Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024, description="12 to 1024 characters"),
]
Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]


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
    # True after an admin's reset: every route but /auth/password and /auth/me refuses
    # (403) until the user sets a new password.
    password_change_required: bool = False


class Me(BaseModel):
    id: uuid.UUID
    username: str
    is_admin: bool
    role: Role
    api_key_id: uuid.UUID | None = None  # set when the caller used an API key


class PasswordChange(StrictModel):
    old_password: Password = Field(min_length=1, max_length=1024)
    new_password: NewPassword

    @model_validator(mode="after")
    def differs(self) -> PasswordChange:
        if self.new_password == self.old_password:
            raise ValueError("new_password must differ from old_password")
        return self


class PasswordReset(StrictModel):
    new_password: NewPassword


class UserCreate(StrictModel):
    username: Username
    password: NewPassword
    role: Role = Role.MEMBER
    # An admin-chosen password is a temporary one: changed at first login unless false.
    must_change_password: bool = True


class UserUpdate(StrictModel):
    role: Role | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def something(self) -> UserUpdate:
        if self.role is None and self.is_active is None:
            raise ValueError("give role and/or is_active")
        return self


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    role: Role
    is_active: bool
    must_change_password: bool
    created_at: datetime | None
    updated_at: datetime | None


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class ApiKeyCreate(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role | None = Field(default=None, description="default: the caller's own role")
    expires_in_days: int = Field(default=30, ge=1, le=365)


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    created_at: datetime | None
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="shown once: only its SHA-256 is stored")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_id: uuid.UUID | None
    actor: str
    api_key_id: uuid.UUID | None
    action: str
    target_type: str
    target: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    limit: int
    offset: int


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

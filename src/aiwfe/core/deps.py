"""FastAPI dependencies shared by the first-party HTTP services: the bearer token.

One decoding of `Authorization: Bearer <jwt>` for the gateway and config-manager. The app's
settings (`app.state.settings`, set by each `create_app`) give the secret and the issuer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aiwfe.core import auth
from aiwfe.core.settings import Settings

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


def decode(request: Request, token: str | None) -> auth.Principal:
    """The caller named by `token`; 401 (with a Bearer challenge) saying what is wrong."""
    if not token:
        raise HTTPException(401, "missing bearer token", headers=CHALLENGE)
    settings = app_settings(request)
    try:
        return auth.decode_token(token, settings.require_jwt_secret(), settings.jwt_issuer)
    except auth.TokenError as exc:
        raise HTTPException(401, str(exc), headers=CHALLENGE) from exc


async def principal(request: Request, credentials: Credentials) -> auth.Principal:
    """The caller, from the Authorization header."""
    return decode(request, credentials.credentials if credentials else None)


async def stream_principal(
    request: Request,
    credentials: Credentials,
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> auth.Principal:
    """The caller, from the header or `?access_token=`: a browser EventSource cannot send
    headers, so event streams (and only they) accept the token in the query."""
    return decode(request, credentials.credentials if credentials else access_token)


Caller = Annotated[auth.Principal, Depends(principal)]
StreamCaller = Annotated[auth.Principal, Depends(stream_principal)]

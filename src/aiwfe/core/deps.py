"""FastAPI dependencies shared by the first-party HTTP services: the bearer token.

One decoding of `Authorization: Bearer <jwt>` for the gateway, config-manager and
cognitive-services. Each `create_app` sets `app.state.settings` (the issuer) and
`app.state.token_keys` (the public keys it trusts, loaded at startup).
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


def decode_caller(request: Request, token: str | None) -> auth.Principal | auth.Service:
    """The user or component named by `token`; 401 (with a Bearer challenge) saying what
    is wrong."""
    if not token:
        raise HTTPException(401, "missing bearer token", headers=CHALLENGE)
    try:
        return auth.decode_any(
            token, request.app.state.token_keys, app_settings(request).jwt_issuer
        )
    except auth.TokenError as exc:
        raise HTTPException(401, str(exc), headers=CHALLENGE) from exc


def decode(request: Request, token: str | None) -> auth.Principal:
    """The user named by `token` (a service token is refused with 401)."""
    caller = decode_caller(request, token)
    if isinstance(caller, auth.Service):
        raise HTTPException(401, "a service token cannot act as a user", headers=CHALLENGE)
    return caller


async def principal(request: Request, credentials: Credentials) -> auth.Principal:
    """The calling user, from the Authorization header."""
    return decode(request, credentials.credentials if credentials else None)


async def any_caller(request: Request, credentials: Credentials) -> auth.Principal | auth.Service:
    """The calling user or component (a service token), from the Authorization header."""
    return decode_caller(request, credentials.credentials if credentials else None)


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
AnyCaller = Annotated[auth.Principal | auth.Service, Depends(any_caller)]

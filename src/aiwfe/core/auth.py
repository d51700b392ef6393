"""Passwords (argon2id) and access tokens (HS256 JWT)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verifying against this keeps unknown-user logins as slow as wrong-password ones.
_DUMMY_HASH = _hasher.hash("aiwfe-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class TokenError(Exception):
    """The token is missing, malformed, forged or expired (message says which)."""


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    username: str
    is_admin: bool


def issue_token(principal: Principal, secret: str, ttl_seconds: int, issuer: str) -> str:
    now = int(time.time())
    claims = {
        "sub": principal.username,
        "uid": str(principal.user_id),
        "adm": principal.is_admin,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(token: str, secret: str, issuer: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "uid", "iss"]},
        )
        return Principal(
            user_id=uuid.UUID(str(claims["uid"])),
            username=str(claims["sub"]),
            is_admin=bool(claims.get("adm", False)),
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("token signature is invalid") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise TokenError("invalid token") from exc  # the library's message stays internal

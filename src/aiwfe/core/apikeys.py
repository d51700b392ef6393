"""API keys: `aiwfe_<id>_<secret>`, shown once, stored as a digest (see hash_api_key)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

API_KEY_PREFIX = "aiwfe_"
_API_KEY = re.compile(r"^aiwfe_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ApiKeySecret:
    """A new API key: `text` is shown once; only `digest` is stored."""

    key_id: uuid.UUID
    text: str

    @property
    def digest(self) -> str:
        return hash_api_key(self.text)


def new_api_key() -> ApiKeySecret:
    key_id = uuid.uuid4()
    return ApiKeySecret(key_id, f"{API_KEY_PREFIX}{key_id.hex}_{secrets.token_urlsafe(32)}")


def hash_api_key(text: str) -> str:
    """SHA-256 of the whole key. Not argon2: the secret is 256 random bits, so no
    dictionary or brute force applies and a slow hash would buy nothing but CPU on every
    request (a denial-of-service lever); a fast digest compared in constant time is right."""
    return hashlib.sha256(text.encode()).hexdigest()


def parse_api_key(text: str) -> uuid.UUID | None:
    """The key id in `aiwfe_<id>_<secret>`, or None when `text` is not shaped like a key."""
    match = _API_KEY.match(text)
    return uuid.UUID(match.group(1)) if match else None


def api_key_matches(text: str, digest: str) -> bool:
    return hmac.compare_digest(hash_api_key(text), digest)

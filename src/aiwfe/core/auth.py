"""Passwords (argon2id) and access tokens (EdDSA/Ed25519 JWT with a key id).

Only the gateway holds the key that signs user tokens; every other component verifies with
public keys alone (a set: current plus previous during a rotation's overlap, each found by
the token's `kid`, the RFC 7638 thumbprint of its public key). Two kinds of token:

- user tokens (`typ: user`): signed by a gateway key; name a user (`sub`, `uid`, `adm`).
- service tokens (`typ: service`): name a component (`sub`), short-lived, for calls between
  components. A gateway key may sign them for any component; a service key (the worker's
  own) only for the one component it belongs to, and a service token never passes where a
  user is needed. See docs/security-tokens.md.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import httpx
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_hasher = PasswordHasher()
ALGORITHM = "EdDSA"
# Service tokens outlive the longest module call (steps time out at 600 s), and no more:
# in split mode a module forwards the token it was called with to the modules it calls.
SERVICE_TOKEN_TTL = 900
USER, SERVICE = "user", "service"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps unknown-user logins as slow as wrong-password ones
    (made on first use: the components that only verify tokens never hash)."""
    return _hasher.hash("aiwfe-dummy-password")


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class TokenError(Exception):
    """The token is missing, malformed, forged or expired (message says which)."""


class KeyFileError(ValueError):
    """A key file or PEM text that is not an Ed25519 key (message names the source)."""


class Role(StrEnum):
    """A user's role, lowest first: a viewer reads runs, memories and decisions; a member also
    writes (runs, memories, feedback, chat); an admin also manages users, flags, the audit log."""

    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLES.index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


ROLES = (Role.VIEWER, Role.MEMBER, Role.ADMIN)


@dataclass(frozen=True)
class Principal:
    """A user acting: from a token, or (in the gateway) from an API key, whose `role` may be
    lower than the user's own and whose id is `api_key_id`."""

    user_id: uuid.UUID
    username: str
    is_admin: bool
    role: Role | None = None  # None: derived from is_admin (admin, else member)
    api_key_id: uuid.UUID | None = None
    session_version: int = field(default=0, compare=False)  # the user's, at the token's issue

    def __post_init__(self) -> None:
        role = Role(self.role) if self.role else (Role.ADMIN if self.is_admin else Role.MEMBER)
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "is_admin", role is Role.ADMIN)

    @property
    def current_role(self) -> Role:
        return Role(self.role)


@dataclass(frozen=True)
class Service:
    """A component calling another one (from a service token)."""

    name: str


def key_id(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: the same key always gets the same id, on every component."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# ---- keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key and its id (the thumbprint of its public half)."""

    private_key: Ed25519PrivateKey = field(repr=False)
    kid: str

    @classmethod
    def from_pem(cls, pem: bytes | str, source: str = "PEM") -> SigningKey:
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{source}: not an unencrypted PEM private key ({exc})") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(
                f"{source}: an Ed25519 private key is required, not {type(key).__name__}"
            )
        return cls(key, key_id(key.public_key()))

    @classmethod
    def from_file(cls, path: str | Path) -> SigningKey:
        return cls.from_pem(_read(path), str(path))

    @classmethod
    def generate(cls) -> SigningKey:
        key = Ed25519PrivateKey.generate()
        return cls(key, key_id(key.public_key()))

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_pem(self) -> str:
        return (
            self.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file ({exc.strerror})") from exc


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.S)


def public_keys_from_pem(pem: bytes | str, source: str = "PEM") -> list[Ed25519PublicKey]:
    """Every Ed25519 public key in `pem`: PUBLIC KEY blocks, or CERTIFICATE blocks (whose
    public key counts; the chart derives the public half of a generated key as one)."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    keys: list[Ed25519PublicKey] = []
    for block in _PEM_BLOCK.finditer(text):
        label, body = block.group(1), block.group(0).encode()
        if label not in ("CERTIFICATE", "PUBLIC KEY"):
            raise KeyFileError(f"{source}: a {label} block is not a public key or certificate")
        try:
            if label == "CERTIFICATE":
                key = x509.load_pem_x509_certificate(body).public_key()
            else:
                key = serialization.load_pem_public_key(body)
        except ValueError as exc:
            raise KeyFileError(f"{source}: unreadable {label} block ({exc})") from exc
        if not isinstance(key, Ed25519PublicKey):
            kind = type(key).__name__
            raise KeyFileError(f"{source}: an Ed25519 public key is required, not {kind}")
        keys.append(key)
    if not keys:
        raise KeyFileError(f"{source}: no PEM public key or certificate found")
    return keys


def _pem_files(directory: str | Path, setting: str) -> list[Path]:
    root = Path(directory)
    if not root.is_dir():
        raise KeyFileError(f"{setting}={directory}: not a directory")
    # Kubernetes projects ConfigMaps as files plus `..data` links: only *.pem counts.
    files = sorted(p for p in root.glob("*.pem") if p.is_file())
    if not files:
        raise KeyFileError(f"{setting}={directory}: no *.pem file in it")
    return files


@dataclass(frozen=True)
class TrustedKey:
    public_key: Ed25519PublicKey = field(repr=False)
    service: str | None  # None: a gateway key (signs anything); else the one service it speaks for


@dataclass
class KeySet:
    """The public keys a verifier trusts, by key id."""

    keys: dict[str, TrustedKey] = field(default_factory=dict)

    def add(self, key: Ed25519PublicKey, service: str | None = None) -> None:
        kid = key_id(key)
        known = self.keys.get(kid)
        if known is not None and known.service != service:
            # The same key listed as a gateway key and as a service key: keep the narrower.
            service = known.service or service
        self.keys[kid] = TrustedKey(key, service)

    @classmethod
    def of(
        cls,
        gateway_keys: Iterable[Ed25519PublicKey] = (),
        service_keys: dict[str, Iterable[Ed25519PublicKey]] | None = None,
    ) -> KeySet:
        keyset = cls()
        for key in gateway_keys:
            keyset.add(key)
        for service, keys in (service_keys or {}).items():
            for key in keys:
                keyset.add(key, service)
        return keyset

    @classmethod
    def from_dirs(
        cls,
        public_dir: str | None,
        service_dir: str | None = None,
        *,
        extra: Iterable[Ed25519PublicKey] = (),
    ) -> KeySet:
        """Gateway public keys from every *.pem of `public_dir`; service keys from
        `service_dir`, where `<service>.pem` may sign only `<service>`'s tokens."""
        keyset = cls.of(extra)
        if public_dir:
            for path in _pem_files(public_dir, "AIWFE_TOKEN_PUBLIC_KEYS_DIR"):
                for key in public_keys_from_pem(_read(path), str(path)):
                    keyset.add(key)
        if service_dir:
            for path in _pem_files(service_dir, "AIWFE_TOKEN_SERVICE_KEYS_DIR"):
                for key in public_keys_from_pem(_read(path), str(path)):
                    keyset.add(key, path.stem)
        return keyset


# ---- tokens ----------------------------------------------------------------------------


def _sign(claims: dict, key: SigningKey, ttl_seconds: int, issuer: str) -> str:
    now = int(time.time())
    claims = {**claims, "iss": issuer, "iat": now, "nbf": now, "exp": now + ttl_seconds}
    claims["jti"] = uuid.uuid4().hex
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def issue_token(principal: Principal, key: SigningKey, ttl_seconds: int, issuer: str) -> str:
    """A user token (gateway only: the gateway's key)."""
    claims = {
        "typ": USER,
        "sub": principal.username,
        "uid": str(principal.user_id),
        "adm": principal.is_admin,
        "role": principal.current_role.value,
        "ver": principal.session_version,
    }
    return _sign(claims, key, ttl_seconds, issuer)


def issue_service_token(
    service: str, key: SigningKey, issuer: str, ttl_seconds: int = SERVICE_TOKEN_TTL
) -> str:
    """A short-lived token naming the calling component."""
    return _sign({"typ": SERVICE, "sub": service}, key, ttl_seconds, issuer)


def decode_any(token: str, keys: KeySet, issuer: str) -> Principal | Service:
    """The caller named by `token` (user or service), if a trusted key signed it."""
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if not kid:
            raise TokenError("token has no key id (kid): it was not signed by a current key")
        trusted = keys.keys.get(str(kid))
        if trusted is None:
            raise TokenError("token signed by an unknown key: not a key this service trusts")
        claims = jwt.decode(
            token,
            trusted.public_key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss", "typ"]},
        )
        if claims["typ"] == SERVICE:
            if trusted.service is not None and claims["sub"] != trusted.service:
                raise TokenError(f"this key may only sign for service {trusted.service!r}")
            return Service(str(claims["sub"]))
        if claims["typ"] != USER:
            raise TokenError(f"invalid token: unknown token type {claims['typ']!r}")
        if trusted.service is not None:
            raise TokenError(f"a {trusted.service} service key cannot sign user tokens")
        adm = bool(claims.get("adm", False))
        role = Role(claims["role"]) if claims.get("role") else None
        return Principal(
            user_id=uuid.UUID(str(claims["uid"])),
            username=str(claims["sub"]),
            is_admin=adm,
            role=role,
            session_version=int(claims.get("ver", 0)),
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("token signature is invalid") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("token issuer is not this deployment's") from exc
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise TokenError("invalid token") from exc  # the library's message stays internal


def decode_token(token: str, keys: KeySet, issuer: str) -> Principal:
    """The user named by `token`; a service token is refused."""
    caller = decode_any(token, keys, issuer)
    if isinstance(caller, Service):
        raise TokenError("a service token cannot act as a user")
    return caller


class BearerAuth(httpx.Auth):
    """httpx auth adding `Authorization: Bearer <token()>` to requests that carry none
    (a request forwarding a user's own token keeps it)."""

    def __init__(self, token: Callable[[], str | None]) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            token = self.token()
            if token:
                request.headers["Authorization"] = f"Bearer {token}"
        yield request

"""Settings of every first-party service, from the environment (names in docs/contracts.md)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_network
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from aiwfe.core.auth import KeySet, SigningKey

MODULES = ("coordination", "memory", "perception", "reasoning", "learning")
DEFAULT_PORTS = {"gateway": 8080, "cognitive": 8081, "config": 8082, "worker": 8083}


class Settings(BaseSettings):
    """One settings object for all five programs; each reads only what it needs."""

    model_config = SettingsConfigDict(env_prefix="AIWFE_", extra="ignore", case_sensitive=False)

    port: int | None = None
    host: str = "0.0.0.0"  # noqa: S104 - services listen on the pod IP
    # Optional TLS in the process itself (normally TLS ends at the ingress).
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    log_level: str = "info"

    db_host: str = "localhost"
    db_port: int = 5432
    db_name: str = "aiwfe"
    db_user: str = "aiwfe"
    db_password: SecretStr = SecretStr("")
    db_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = (
        "disable"
    )
    db_pool_size: int = 5
    db_max_overflow: int = 5
    db_connect_timeout: float = 5.0

    redis_host: str = "localhost"
    redis_port: int = 6379
    redis_password: SecretStr = SecretStr("")
    redis_db: int = 0
    # An external Redis over TLS (rediss://), its certificate checked against this CA bundle
    # (empty: the system's CAs).
    redis_tls: bool = False
    redis_ca_file: str | None = None

    vector_store: Literal["qdrant", "pgvector"] = "qdrant"
    # http(s)://host:6333 for a server; ":memory:" or "path:/dir" for qdrant-client's
    # embedded local mode (one process only: tests and single-process setups).
    qdrant_url: str = "http://localhost:6333"
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = "aiwfe_memories"

    llm_provider: Literal["ollama", "openai", "local"] = "ollama"
    llm_url: str = "http://localhost:11434"
    llm_model: str = "llama3.2:1b"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 60.0

    embedding_provider: Literal["ollama", "local"] = "local"
    embedding_model: str = "nomic-embed-text"
    embedding_dim: int = Field(default=384, ge=8, le=4096)

    cognitive_url: str = "http://localhost:8081"
    cognitive_mode: Literal["consolidated", "split"] = "consolidated"
    cognitive_coordination_url: str | None = None
    cognitive_memory_url: str | None = None
    cognitive_perception_url: str | None = None
    cognitive_reasoning_url: str | None = None
    cognitive_learning_url: str | None = None
    cognitive_timeout: float = 60.0

    config_url: str = "http://localhost:8082"
    config_file: str = "/etc/aiwfe/config/config.yaml"

    # Token keys (docs/security-tokens.md). The gateway signs user tokens with its Ed25519
    # private key; the worker signs its service tokens with its own. Verifiers read public
    # keys only: the gateway's (every *.pem of the directory: current and previous) and,
    # for cognitive-services, the service keys (`<service>.pem` signs only for <service>).
    token_signing_key_file: str | None = None
    token_public_keys_dir: str | None = None
    token_service_keys_dir: str | None = None
    jwt_ttl_seconds: int = 3600
    jwt_issuer: str = "aiwfe"
    admin_username: str = "admin"
    admin_password: SecretStr | None = None

    login_rate_limit: int = 10  # attempts per client address per window
    login_user_rate_limit: int = 20  # failed attempts per username per window
    login_rate_window_seconds: int = 60
    # Concurrent argon2 verifications (64 MiB each); a login finding none free within
    # login_hash_wait_seconds answers 503 with Retry-After instead of queueing memory.
    login_hash_concurrency: int = Field(default=4, ge=1, le=64)
    login_hash_wait_seconds: float = Field(default=2.0, ge=0, le=60)
    # Proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For/-Proto are
    # believed; any other peer is the client itself. Empty: no proxy is trusted.
    trusted_proxies: str = ""
    # /metrics on its own port (not routed by the ingress); unset: on the service port.
    metrics_port: int | None = None
    api_docs: bool = True  # /api/docs and /api/openapi.json (the prod profile turns it off)
    max_body_bytes: int = 1_048_576
    static_dir: str | None = None

    worker_concurrency: int = Field(default=2, validation_alias="WORKER_CONCURRENCY")
    worker_visibility_timeout: int = 300  # seconds before an unacked task is redelivered
    worker_lease_seconds: int = 30  # run lease held (and renewed) by the executing worker
    # Runs left `queued` without a broker message (gateway died between commit and enqueue)
    # are re-sent after this long; the sweep runs in one worker at a time (interval 0: off).
    worker_requeue_after_seconds: int = 120
    worker_sweep_interval_seconds: int = 60
    # Retries of a run whose dependency (database, cognitive) is down, the backoff between
    # them doubling up to the cap; then the run fails, or the sweeper resumes it once a
    # `running` run has had no lease for worker_requeue_after_seconds.
    worker_max_retries: int = Field(default=8, ge=0, le=100)
    worker_retry_backoff_max_seconds: int = Field(default=60, ge=1, le=3600)
    worker_max_attempts: int = Field(default=5, ge=1, le=100)  # deliveries before failing
    # SIGTERM: in-flight steps get this long to finish, then the run goes back to the queue
    # (the chart's terminationGracePeriodSeconds leaves a margin above it).
    worker_shutdown_grace_seconds: int = Field(default=60, ge=1, le=3600)

    otel_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")

    @field_validator(
        "qdrant_api_key",
        "llm_api_key",
        "admin_password",
        "tls_cert_file",
        "tls_key_file",
        "token_signing_key_file",
        "token_public_keys_dir",
        "token_service_keys_dir",
        "redis_ca_file",
        "metrics_port",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in (p.strip() for p in value.split(",")):
            try:
                ip_network(item, strict=False) if item else None
            except ValueError as exc:
                raise ValueError(
                    f"AIWFE_TRUSTED_PROXIES: {item!r} is not an address or CIDR ({exc})"
                ) from None
        return value

    # ---- derived -----------------------------------------------------------------------

    def listen_port(self, component: str) -> int:
        return self.port or DEFAULT_PORTS[component]

    def database_url(self) -> URL:
        """asyncpg URL built from parts: URL.create quotes user and password correctly."""
        return URL.create(
            "postgresql+asyncpg",
            username=self.db_user,
            password=self.db_password.get_secret_value() or None,
            host=self.db_host,
            port=self.db_port,
            database=self.db_name,
        )

    def redis_url(self) -> str:
        password = self.redis_password.get_secret_value()
        auth = f":{quote(password, safe='')}@" if password else ""
        scheme = "rediss" if self.redis_tls else "redis"
        return f"{scheme}://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"

    def redis_tls_options(self) -> dict[str, str]:
        """TLS options of the Redis clients (redis-py and Celery's broker): verify the
        server's certificate and name; empty without TLS."""
        if not self.redis_tls:
            return {}
        options = {"ssl_cert_reqs": "required"}
        if self.redis_ca_file:
            options["ssl_ca_certs"] = self.redis_ca_file
        return options

    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    def module_url(self, module: str) -> str:
        """Where a cognitive module answers: its own URL in split mode, else the shared one."""
        if self.cognitive_mode == "split":
            explicit = getattr(self, f"cognitive_{module}_url")
            if explicit:
                return explicit.rstrip("/")
        return self.cognitive_url.rstrip("/")

    def signing_key(self) -> SigningKey:
        """This component's token key; a clear error naming the setting when it is missing
        or unreadable (called at startup)."""
        from aiwfe.core.auth import KeyFileError, SigningKey

        name = "AIWFE_TOKEN_SIGNING_KEY_FILE"
        if not self.token_signing_key_file:
            raise RuntimeError(f"{name} must name this component's Ed25519 private key (PEM)")
        try:
            return SigningKey.from_file(self.token_signing_key_file)
        except KeyFileError as exc:
            raise RuntimeError(f"{name}: {exc}") from exc

    def verifier_keys(self, own: SigningKey | None = None) -> KeySet:
        """The public keys this component accepts tokens from: the gateway's directory (and
        `own`, the gateway's current key), plus service keys where configured."""
        from aiwfe.core.auth import KeyFileError, KeySet

        if not self.token_public_keys_dir and own is None:
            raise RuntimeError(
                "AIWFE_TOKEN_PUBLIC_KEYS_DIR must name a directory of the gateway's public "
                "token keys (*.pem)"
            )
        try:
            return KeySet.from_dirs(
                self.token_public_keys_dir,
                self.token_service_keys_dir,
                extra=[own.public_key()] if own else [],
            )
        except KeyFileError as exc:
            raise RuntimeError(str(exc)) from exc


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""Token keys as files for a deployment outside Kubernetes (development, tests, the UI e2e
run), laid out as the chart mounts them; the keys themselves are aiwfe.core.auth's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiwfe.core.auth import SigningKey

GATEWAY, WORKER = "api-gateway", "task-processor"


@dataclass(frozen=True)
class KeyFiles:
    """A deployment's token keys as files under one directory, laid out as the chart mounts
    them (development, tests, the UI e2e run): the gateway's and the worker's private keys,
    the gateway public keys every verifier trusts, and the worker's service key."""

    root: Path

    @property
    def gateway_key(self) -> Path:
        return self.root / "private" / f"{GATEWAY}.pem"

    @property
    def worker_key(self) -> Path:
        return self.root / "private" / f"{WORKER}.pem"

    @property
    def public_dir(self) -> Path:
        return self.root / "public"

    @property
    def service_dir(self) -> Path:
        return self.root / "services"

    @classmethod
    def create(cls, root: str | Path) -> KeyFiles:
        files = cls(Path(root))
        for directory in (files.gateway_key.parent, files.public_dir, files.service_dir):
            directory.mkdir(parents=True, exist_ok=True)
        files.rotate()
        worker = SigningKey.generate()
        _write(files.worker_key, worker.private_pem(), private=True)
        _write(files.service_dir / f"{WORKER}.pem", worker.public_pem())
        return files

    def rotate(self) -> SigningKey:
        """A new gateway key: its public half joins the trusted set (the previous keys stay
        until `retire`), the private key replaces the gateway's."""
        key = SigningKey.generate()
        _write(self.public_dir / f"{key.kid}.pem", key.public_pem())
        _write(self.gateway_key, key.private_pem(), private=True)
        return key

    def retire(self, kid: str) -> None:
        """End the overlap: verifiers stop trusting the key `kid` (after their restart)."""
        (self.public_dir / f"{kid}.pem").unlink()

    def env(self, component: str) -> dict[str, str]:
        """The AIWFE_TOKEN_* settings of `component` (gateway, worker, cognitive, config)."""
        verify = {"AIWFE_TOKEN_PUBLIC_KEYS_DIR": str(self.public_dir)}
        if component == "gateway":
            return {**verify, "AIWFE_TOKEN_SIGNING_KEY_FILE": str(self.gateway_key)}
        if component == "worker":
            return {"AIWFE_TOKEN_SIGNING_KEY_FILE": str(self.worker_key)}
        if component == "cognitive":
            return {**verify, "AIWFE_TOKEN_SERVICE_KEYS_DIR": str(self.service_dir)}
        if component == "config":
            return verify
        raise ValueError(f"unknown component {component!r}: gateway, worker, cognitive, config")


def _write(path: Path, text: str, *, private: bool = False) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    if private:
        tmp.chmod(0o600)
    tmp.replace(path)

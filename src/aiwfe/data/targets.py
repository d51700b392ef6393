"""Where bundles live: a directory (a PVC) or an S3-compatible object store.

A bundle is a folder (or key prefix) named after its id, e.g. `aiwfe-20261130T120000Z`,
holding the files listed in docs/backup.md; manifest.json is always written last, so a
bundle without it is incomplete (an interrupted backup) and is never restored.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from aiwfe.data.common import Refusal

MANIFEST = "manifest.json"


class Target(ABC):
    description: str

    @abstractmethod
    def bundles(self) -> list[str]:
        """Ids of every bundle, complete or not, oldest first."""

    @abstractmethod
    def manifest_text(self, bundle: str) -> str | None:
        """The bundle's manifest.json, or None for an incomplete bundle."""

    def has_manifest(self, bundle: str) -> bool:
        return self.manifest_text(bundle) is not None

    @abstractmethod
    def put(self, bundle: str, local: Path, files: list[str]) -> None:
        """Store `files` (paths relative to `local`), in this order (the manifest last)."""

    @abstractmethod
    def fetch(self, bundle: str, scratch: Path) -> Path:
        """A local folder with the bundle's files (a download for remote targets)."""

    @abstractmethod
    def delete(self, bundle: str) -> None: ...

    def staging(self, bundle: str, scratch: Path) -> Path:
        """Where an export writes its files before `put`."""
        path = scratch / bundle
        path.mkdir(parents=True)
        return path

    def require(self, bundle: str) -> None:
        if bundle not in self.bundles():
            raise Refusal(f"no bundle {bundle} in {self.description}: run `aiwfe-data list`")
        if not self.has_manifest(bundle):
            raise Refusal(
                f"bundle {bundle} has no manifest.json (an interrupted backup): it is never "
                "restored; pick a complete one from `aiwfe-data list`"
            )


class DirectoryTarget(Target):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"directory {root}"

    def bundles(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def manifest_text(self, bundle: str) -> str | None:
        path = self.root / bundle / MANIFEST
        return path.read_text() if path.is_file() else None

    def staging(self, bundle: str, scratch: Path) -> Path:
        path = self.root / bundle
        path.mkdir(parents=True)
        return path

    def put(self, bundle: str, local: Path, files: list[str]) -> None:
        if local != self.root / bundle:
            raise RuntimeError("directory bundles are written in place")
        # Durable before the manifest says the bundle is complete.
        for name in files:
            fd = os.open(local / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def fetch(self, bundle: str, scratch: Path) -> Path:
        return self.root / bundle

    def delete(self, bundle: str) -> None:
        shutil.rmtree(self.root / bundle)


class S3Target(Target):
    """Any S3-compatible store. Credentials come from the environment (AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY, in the chart from a Secret); path-style addressing is the default
    because most self-hosted stores (MinIO, SeaweedFS, versitygw, Ceph RGW) need it."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        endpoint: str | None,
        region: str | None = None,
        path_style: bool = True,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.description = f"s3://{bucket}/{self.prefix}" + (f" at {endpoint}" if endpoint else "")
        config = Config(
            s3={"addressing_style": "path" if path_style else "virtual"},
            retries={"max_attempts": 5, "mode": "standard"},
            signature_version="s3v4",
        )
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, region_name=region or "us-east-1", config=config
        )

    def _key(self, bundle: str, name: str = "") -> str:
        parts = [p for p in (self.prefix, bundle, name) if p]
        return "/".join(parts)

    def _list(self, prefix: str, delimiter: str | None = None) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        pages: list[dict[str, Any]] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**args):
                pages.append(page)
        except (BotoCoreError, ClientError) as exc:
            raise Refusal(
                f"cannot list {self.description} ({exc}): check the endpoint, bucket and "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            ) from None
        return pages

    def bundles(self) -> list[str]:
        base = self._key("") + "/" if self.prefix else ""
        names = []
        for page in self._list(base, "/"):
            for entry in page.get("CommonPrefixes", []):
                names.append(entry["Prefix"][len(base) :].rstrip("/"))
        return sorted(names)

    def manifest_text(self, bundle: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(bundle, MANIFEST))
        except ClientError:
            return None
        return obj["Body"].read().decode()

    def put(self, bundle: str, local: Path, files: list[str]) -> None:
        for name in files:
            self.client.upload_file(str(local / name), self.bucket, self._key(bundle, name))

    def fetch(self, bundle: str, scratch: Path) -> Path:
        folder = scratch / bundle
        prefix = self._key(bundle) + "/"
        for page in self._list(prefix):
            for obj in page.get("Contents", []):
                path = folder / obj["Key"][len(prefix) :]
                path.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(self.bucket, obj["Key"], str(path))
        return folder

    def delete(self, bundle: str) -> None:
        # The manifest goes first: a half-deleted bundle reads as incomplete, never as valid.
        keys = [self._key(bundle, MANIFEST)]
        for page in self._list(self._key(bundle) + "/"):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"] != keys[0]]
        for key in keys:
            self.client.delete_object(Bucket=self.bucket, Key=key)


def open_target(spec: str | None) -> Target:
    """`spec` (or AIWFE_DATA_TARGET): a directory path, or s3://bucket/prefix with
    AIWFE_DATA_S3_ENDPOINT, AIWFE_DATA_S3_REGION and AIWFE_DATA_S3_PATH_STYLE (default true)."""
    spec = spec or os.environ.get("AIWFE_DATA_TARGET", "")
    if not spec:
        raise Refusal("no target: pass --target DIR or --target s3://bucket/prefix")
    if spec.startswith("s3://"):
        bucket, _, prefix = spec.removeprefix("s3://").partition("/")
        if not bucket:
            raise Refusal(f"target {spec!r} names no bucket: use s3://bucket/prefix")
        path_style = os.environ.get("AIWFE_DATA_S3_PATH_STYLE", "true").lower() != "false"
        return S3Target(
            bucket,
            prefix,
            os.environ.get("AIWFE_DATA_S3_ENDPOINT") or None,
            os.environ.get("AIWFE_DATA_S3_REGION") or None,
            path_style,
        )
    if "://" in spec:
        raise Refusal(f"target {spec!r}: use a directory path or s3://bucket/prefix")
    return DirectoryTarget(Path(spec))

"""The manifest: writing it last, checking a bundle against it, comparing fingerprints."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from aiwfe.data import BUNDLE_SCHEMA_VERSION
from aiwfe.data.common import Refusal, sha256_file
from aiwfe.data.targets import MANIFEST


def new_id(now: datetime | None = None) -> str:
    return "aiwfe-" + (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def app_version() -> str:
    try:
        return metadata.version("aiwfe")
    except metadata.PackageNotFoundError:
        return "unknown"


def write_manifest(folder: Path, files: list[str], body: dict[str, Any]) -> str:
    """Size and sha256 of every file, then manifest.json (atomically, via a rename)."""
    manifest = {
        "schema_version": BUNDLE_SCHEMA_VERSION,
        "app_version": app_version(),
        "created_at": datetime.now(UTC).isoformat(),
        **body,
        "files": {
            name: {"size": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
            for name in files
        },
    }
    partial = folder / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    partial.rename(folder / MANIFEST)
    return MANIFEST


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise Refusal(
            f"{folder.name} has no manifest.json (an incomplete bundle): it is never restored; "
            "pick a complete bundle from `aiwfe-data list`"
        )
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise Refusal(f"{path} is not valid JSON ({exc}): pick another bundle") from None
    version = manifest.get("schema_version")
    if version != BUNDLE_SCHEMA_VERSION:
        raise Refusal(
            f"bundle schema version {version!r} is not {BUNDLE_SCHEMA_VERSION}: use the "
            "aiwfe-data of the release that wrote it"
        )
    return manifest


def check_files(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Every file the manifest lists, with its size and sha256. Sizes first: a truncated
    file is reported without reading it."""
    problems = []
    for name, expected in sorted(manifest["files"].items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != expected["size"]:
            problems.append(
                f"{name}: size {path.stat().st_size}, manifest says {expected['size']} "
                "(truncated or replaced)"
            )
        elif sha256_file(path) != expected["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest (corrupted)")
    return problems


def require_intact(folder: Path) -> dict[str, Any]:
    """The manifest, or a one-line refusal when any file fails its check."""
    manifest = read_manifest(folder)
    problems = check_files(folder, manifest)
    if problems:
        raise Refusal(
            f"bundle {folder.name} is damaged ({problems[0]}"
            + (f", and {len(problems) - 1} more" if len(problems) > 1 else "")
            + "): nothing was restored; restore another bundle from `aiwfe-data list`"
        )
    return manifest


def _diff_maps(label: str, want: dict[str, Any], got: dict[str, Any], subset: bool) -> list[str]:
    problems = []
    for key in sorted(want):
        if key not in got:
            problems.append(f"{label} {key}: missing")
        elif want[key] != got[key]:
            problems.append(f"{label} {key}: expected {want[key]!r}, found {got[key]!r}")
    if not subset:
        problems += [f"{label} {key}: not in the bundle" for key in sorted(set(got) - set(want))]
    return problems


def compare_postgres(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    problems = _diff_maps("table", want["tables"], got["tables"], subset=False)
    problems += _diff_maps("sequence", want["sequences"], got["sequences"], subset=False)
    problems += _diff_maps("index", want["indexes"], got["indexes"], subset=False)
    # The target platform may bring extensions of its own (the data-platform creates
    # `vector`): every extension of the source must be there, at the same version.
    problems += _diff_maps("extension", want["extensions"], got["extensions"], subset=True)
    if want["alembic_revision"] != got["alembic_revision"]:
        problems.append(
            f"alembic revision: expected {want['alembic_revision']}, "
            f"found {got['alembic_revision']}"
        )
    return problems


def compare_redis(
    want: dict[str, Any], got: dict[str, Any], db_map: dict[int, int] | None = None
) -> list[str]:
    moved = {str((db_map or {}).get(int(db), int(db))): v for db, v in want.items()}
    return _diff_maps("redis db", moved, got, subset=False)


def compare_vectors(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    if not want:
        return [] if not got or not got.get("count") else ["vectors: not in the bundle"]
    if not got:
        return [f"vectors {want['collection']}: collection missing"]
    problems = []
    for field in ("count", "config", "checksum"):
        if want[field] != got[field]:
            problems.append(f"vectors {field}: expected {want[field]!r}, found {got[field]!r}")
    return problems

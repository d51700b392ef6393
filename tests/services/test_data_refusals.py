"""aiwfe-data refusals: each is ONE line naming what to do, exits 2, and leaves the target
exactly as it was. And `verify --live` notices a changed row or key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.services import data_stack
from tests.services.data_stack import Install, run_data

old_stack, old_bundle = data_stack.old_stack, data_stack.old_bundle
bundle_dir, fresh_install = data_stack.bundle_dir, data_stack.fresh_install


def copy_bundle(old_bundle: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the old stack's bundle, to damage."""
    folder = tmp_path / old_bundle["id"]
    shutil.copytree(old_bundle["folder"], folder)
    return folder


def refused(result, *needles: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines  # one line, no traceback
    assert lines[0].startswith("aiwfe-data: refused: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def untouched(install: Install) -> None:
    result = run_data(install.env, "inventory")
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout)
    assert inventory["postgres"]["tables"] == 0
    assert inventory["redis"]["databases"] == {}
    assert inventory["vectors"] is None
    assert install.redis_keys() == 0


def test_flipped_byte_fails_the_sha256_check(old_bundle, fresh_install, tmp_path) -> None:
    folder = copy_bundle(old_bundle, tmp_path)
    dump = folder / "pg/aiwfe.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))
    new = fresh_install()
    line = refused(
        run_data(new.env, "--target", str(tmp_path), "import", folder.name),
        "pg/aiwfe.dump: sha256 differs",
        "restore another bundle",
    )
    assert "nothing was restored" in line
    untouched(new)
    check = run_data(new.env, "--target", str(tmp_path), "verify", folder.name)
    assert check.returncode == 1 and "pg/aiwfe.dump: sha256 differs" in check.stderr


@pytest.mark.parametrize("manifest_updated", [False, True], ids=["size", "resigned"])
def test_truncated_dump_is_refused_before_writing(
    old_bundle, fresh_install, tmp_path, manifest_updated: bool
) -> None:
    folder = copy_bundle(old_bundle, tmp_path)
    dump = folder / "pg/aiwfe.dump"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size * 2 // 3])
    if manifest_updated:
        # Even a manifest that matches the truncated file does not get it restored:
        # pg_restore reads the whole archive before anything is written.
        from aiwfe.data.common import sha256_file

        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["files"]["pg/aiwfe.dump"] = {
            "size": dump.stat().st_size,
            "sha256": sha256_file(dump),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))
        needle = "not a readable pg_dump archive"
    else:
        needle = "(truncated or replaced)"
    new = fresh_install()
    refused(run_data(new.env, "--target", str(tmp_path), "import", folder.name), needle)
    untouched(new)


def test_bundle_without_manifest_is_never_restored(old_bundle, fresh_install, tmp_path) -> None:
    folder = copy_bundle(old_bundle, tmp_path)
    (folder / "manifest.json").unlink()
    new = fresh_install()
    for command in ("import", "restore", "drill"):
        refused(
            run_data(new.env, "--target", str(tmp_path), command, folder.name),
            "has no manifest.json",
            "aiwfe-data list",
        )
    untouched(new)
    listed = run_data(new.env, "--target", str(tmp_path), "list")
    assert json.loads(listed.stdout) == [{"bundle": folder.name, "complete": False}]


def test_non_empty_target_needs_force(old_bundle, fresh_install) -> None:
    target = str(old_bundle["folder"].parent)
    new = fresh_install()
    new.sql("CREATE TABLE keep_me (id int)")
    new.sql("INSERT INTO keep_me VALUES (7)")
    refused(
        run_data(new.env, "--target", target, "import", old_bundle["id"]),
        "already has 1 tables",
        "--force",
    )
    assert new.sql("SELECT id FROM keep_me")[0][0] == 7
    assert new.redis_keys() == 0

    busy = fresh_install()
    data_stack.redis.Redis(
        host="127.0.0.1", port=busy.redis.port, password=busy.redis.password, db=3
    ).set("mine", "1")
    refused(
        run_data(busy.env, "--target", target, "import", old_bundle["id"]),
        "target Redis is not empty (db 3: 1 keys)",
        "--force",
    )
    assert busy.redis_keys() == 1
    assert busy.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0] == 0

    forced = run_data(busy.env, "--target", target, "import", old_bundle["id"], "--force")
    assert forced.returncode == 0, forced.stderr
    again = run_data(busy.env, "--target", target, "import", old_bundle["id"])
    refused(again, "--force")  # now the database holds the restored tables
    live = run_data(busy.env, "--target", target, "verify", old_bundle["id"], "--live")
    assert live.returncode == 0, live.stderr  # the stray key is gone: same keys as the source
    forced = run_data(busy.env, "--target", target, "import", old_bundle["id"], "--force")
    assert forced.returncode == 0, forced.stderr  # idempotent replace of a restored install


def test_non_empty_vector_store_needs_force(old_bundle, fresh_install) -> None:
    target = str(old_bundle["folder"].parent)
    first = fresh_install()
    assert run_data(first.env, "--target", target, "import", old_bundle["id"]).returncode == 0
    second = fresh_install()
    # Same Qdrant directory as `first` (a collection with points), empty database and Redis.
    second.env["AIWFE_QDRANT_URL"] = first.env["AIWFE_QDRANT_URL"]
    refused(
        run_data(second.env, "--target", target, "import", old_bundle["id"]),
        "holds 4 vectors",
        "--force",
    )
    untouched_pg = second.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert untouched_pg[0][0] == 0 and second.redis_keys() == 0


def test_source_newer_than_target_is_refused(
    old_stack, old_bundle, fresh_install, tmp_path
) -> None:
    new = fresh_install()
    target = str(old_bundle["folder"].parent)
    assert run_data(new.env, "--target", target, "import", old_bundle["id"]).returncode == 0
    exported = run_data(new.env, "--target", str(tmp_path), "export")
    assert exported.returncode == 0, exported.stderr
    newer = json.loads(exported.stdout)["bundle"]
    before = run_data(old_stack.env, "fingerprint").stdout
    line = refused(
        run_data(old_stack.env, "--target", str(tmp_path), "import", newer, "--force"),
        "target PostgreSQL 15 is older than the source's 17",
    )
    assert "PostgreSQL 17 or newer" in line
    inventory = run_data(
        old_stack.env, "--target", str(tmp_path), "inventory", "--for-bundle", newer, "--force"
    )
    refused(inventory, "older than the source's 17")
    assert run_data(old_stack.env, "fingerprint").stdout == before


def test_verify_live_names_what_changed(old_bundle, fresh_install) -> None:
    target = str(old_bundle["folder"].parent)
    new = fresh_install()
    assert run_data(new.env, "--target", target, "import", old_bundle["id"]).returncode == 0
    new.sql("UPDATE workflow_runs SET name = name || '!' WHERE name = 'run 3 — ✓ «quoted» \"x\"'")
    data_stack.redis.Redis(
        host="127.0.0.1", port=new.redis.port, password=new.redis.password, db=0
    ).delete("tags")
    result = run_data(new.env, "--target", target, "verify", old_bundle["id"], "--live")
    assert result.returncode == 1
    assert "aiwfe-data: MISMATCH: 2 mismatch(es)" in result.stderr
    assert "table public.workflow_runs: expected" in result.stderr
    assert "redis db 0: expected" in result.stderr

"""aiwfe-data as the backup tool of a running install: list, prune, and the restore drill
(scratch database, scratch Redis databases, scratch collection; all dropped afterwards)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.services import data_stack
from tests.services.data_stack import Install, run_data

old_stack, old_bundle = data_stack.old_stack, data_stack.old_bundle
bundle_dir, fresh_install = data_stack.bundle_dir, data_stack.fresh_install


def restored(old_bundle, fresh_install, store: str = "qdrant") -> Install:
    install = fresh_install(store)
    args = ["--target", str(old_bundle["folder"].parent), "import", old_bundle["id"]]
    result = run_data(install.env, *args, *(["--migrate"] if store == "pgvector" else []))
    assert result.returncode == 0, result.stderr
    return install


def backup(install: Install, target: Path) -> str:
    result = run_data(install.env, "--target", str(target), "backup")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["bundle"]


def leftovers(install: Install) -> dict[str, object]:
    """What a drill must not leave behind."""
    databases = install.sql("SELECT datname FROM pg_database WHERE datname LIKE '%\\_drill\\_%'")
    return {"databases": [r[0] for r in databases], "redis keys": install.redis_keys()}


def test_list_prune_keep_the_newest_and_drop_interrupted(
    old_bundle, fresh_install, tmp_path
) -> None:
    install = restored(old_bundle, fresh_install)
    target = tmp_path / "backups"
    ids = [backup(install, target) for _ in range(3)]
    (target / ids[1] / "manifest.json").unlink()  # an interrupted backup
    listing = json.loads(run_data(install.env, "--target", str(target), "list").stdout)
    assert [(row["bundle"], row["complete"]) for row in listing] == [
        (ids[0], True),
        (ids[1], False),
        (ids[2], True),
    ]
    assert listing[0]["quiesced"] is False and listing[0]["bytes"] > 0
    assert listing[0]["alembic_revision"] == "0001"

    bad = run_data(install.env, "--target", str(target), "prune", "--keep-last", "0")
    assert bad.returncode == 2 and "keep at least 1 bundle" in bad.stderr
    pruned = run_data(install.env, "--target", str(target), "prune", "--keep-last", "1")
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["deleted"] == [ids[0], ids[1]]
    assert sorted(p.name for p in target.iterdir()) == [ids[2]]


def test_drill_restores_verifies_and_drops(old_bundle, fresh_install, tmp_path) -> None:
    install = restored(old_bundle, fresh_install)
    target = tmp_path / "backups"
    bundle_id = backup(install, target)
    before = json.loads(run_data(install.env, "fingerprint").stdout)
    keys_before = install.redis_keys()

    drill = run_data(install.env, "--target", str(target), "drill", bundle_id)
    assert drill.returncode == 0, drill.stderr
    assert json.loads(drill.stdout) == {"drill": "passed", "bundle": bundle_id}
    assert "redis: restored into databases [12, 13] and verified" in drill.stderr
    # The live install is as it was; nothing of the drill is left.
    assert json.loads(run_data(install.env, "fingerprint").stdout) == before
    assert leftovers(install) == {"databases": [], "redis keys": keys_before}

    # A bundle whose data does not match its fingerprints fails the drill (exit 1), and
    # the drill still cleans up after itself.
    damaged = tmp_path / "damaged"
    shutil.copytree(target / bundle_id, damaged / bundle_id)
    manifest_path = damaged / bundle_id / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["fingerprints"]["postgres"]["tables"]["public.users"]["rows"] = 2
    manifest_path.write_text(json.dumps(manifest))
    failed = run_data(install.env, "--target", str(damaged), "drill", bundle_id)
    assert failed.returncode == 1, failed.stderr
    assert "table public.users: expected {'checksum'" in failed.stderr
    assert leftovers(install) == {"databases": [], "redis keys": keys_before}


def test_drill_of_a_pgvector_install(old_bundle, fresh_install, tmp_path) -> None:
    install = restored(old_bundle, fresh_install, "pgvector")
    target = tmp_path / "backups"
    bundle_id = backup(install, target)
    drill = run_data(install.env, "--target", str(target), "drill", bundle_id)
    assert drill.returncode == 0, drill.stderr
    assert "vectors: restored into a scratch pgvector store, verified" in drill.stderr
    assert leftovers(install)["databases"] == []

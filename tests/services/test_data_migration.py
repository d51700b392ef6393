"""aiwfe-data, the migration path: a PostgreSQL 15 / Redis 7 / Qdrant install (the old Docker
Compose stack) -> bundle -> the chart's PostgreSQL 17 / Redis 8, verified by fingerprints,
migrated to head, and the memory module recalls what the old install knew."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiwfe.migrate.__main__ import head as migrations_head
from tests.services import data_stack
from tests.services.conftest import migrate
from tests.services.data_stack import MEMORIES, memory_id, recall, run_data

# The old stack's fixtures (session-wide: started and seeded once).
old_stack, old_bundle = data_stack.old_stack, data_stack.old_bundle
bundle_dir, fresh_install = data_stack.bundle_dir, data_stack.fresh_install


def fingerprint(env: dict[str, str]) -> dict[str, Any]:
    result = run_data(env, "fingerprint")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bundle_describes_the_old_stack(old_stack, old_bundle) -> None:
    manifest = old_bundle["manifest"]
    assert manifest["quiesced"] is True
    assert manifest["alembic_revision"] == "0001"
    assert manifest["components"]["postgres"]["major"] == 15
    assert manifest["components"]["redis"]["version"].startswith("7.")
    assert sorted(manifest["files"]) == [
        "pg/aiwfe.dump",
        "pg/globals.sql",
        "redis/keys.jsonl",
        "vectors/aiwfe_memories.f32",
        "vectors/aiwfe_memories.jsonl",
    ]
    fps = manifest["fingerprints"]
    # The bundle's fingerprints are the old install's, taken independently now.
    assert fps == fingerprint(old_stack.env)
    tables = fps["postgres"]["tables"]
    assert tables["public.workflow_runs"]["rows"] == 40
    assert tables["public.compose_attachments"]["rows"] == 30
    assert fps["postgres"]["sequences"]["public.run_events_id_seq"] == 1_000_025
    assert fps["redis"]["0"]["keys"] == 8 and fps["redis"]["0"]["with_ttl"] == 2
    assert fps["redis"]["3"] == {**fps["redis"]["3"], "keys": 2, "with_ttl": 1}
    assert fps["vectors"]["count"] == len(MEMORIES)
    assert fps["vectors"]["config"] == {"dim": 256, "distance": "Cosine"}
    listed = run_data(
        old_stack.env, "--target", str(old_bundle["folder"].parent), "verify", old_bundle["id"]
    )
    assert listed.returncode == 0, listed.stderr


def test_compose_to_chart_then_migrate_and_recall(old_bundle, fresh_install) -> None:
    new = fresh_install("qdrant")
    target = str(old_bundle["folder"].parent)
    done = run_data(new.env, "--target", target, "import", old_bundle["id"])
    assert done.returncode == 0, done.stderr
    assert "postgres: restored and verified" in done.stderr
    assert "vectors: qdrant -> qdrant, verified (4 points)" in done.stderr

    live = run_data(new.env, "--target", target, "verify", old_bundle["id"], "--live")
    assert live.returncode == 0, live.stderr
    now = fingerprint(new.env)
    want = old_bundle["manifest"]["fingerprints"]
    assert now["postgres"]["tables"] == want["postgres"]["tables"]
    assert now["redis"] == want["redis"] and now["vectors"] == want["vectors"]
    assert new.sql("SHOW server_version_num")[0][0].startswith("17")

    upgraded = migrate(new.env, "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    # Sequences carry on where the old install stopped.
    next_id = new.sql(
        "INSERT INTO run_events (run_id, type) SELECT id, 'after-move' FROM workflow_runs "
        "LIMIT 1 RETURNING id"
    )
    assert next_id[0][0] == 1_000_026
    text, tags, meta = MEMORIES[1]
    items = recall(new.env, "when do the finance ledger backups run")
    assert items and items[0]["id"] == str(memory_id(text))
    assert (items[0]["text"], items[0]["tags"], items[0]["metadata"]) == (text, tags, meta)


def test_vectors_move_qdrant_to_pgvector_and_back(
    old_bundle, fresh_install, bundle_dir: Path
) -> None:
    target = str(old_bundle["folder"].parent)
    pgv = fresh_install("pgvector")
    missing = run_data(pgv.env, "--target", target, "import", old_bundle["id"])
    assert missing.returncode == 2 and "pass --migrate" in missing.stderr
    assert pgv.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0] == 0

    done = run_data(pgv.env, "--target", target, "import", old_bundle["id"], "--migrate")
    assert done.returncode == 0, done.stderr
    assert "vectors: qdrant -> pgvector, verified (4 points)" in done.stderr
    assert pgv.sql("SELECT count(*) FROM memory_vectors")[0][0] == len(MEMORIES)
    text = MEMORIES[2][0]
    items = recall(pgv.env, "which team prefers async standups")
    assert items and items[0]["text"] == text

    back_dir = bundle_dir / "from-pgvector"
    exported = run_data(pgv.env, "--target", str(back_dir), "export")
    assert exported.returncode == 0, exported.stderr
    back_id = json.loads(exported.stdout)["bundle"]
    manifest = json.loads((back_dir / back_id / "manifest.json").read_text())
    want = old_bundle["manifest"]["fingerprints"]["vectors"]
    got = manifest["fingerprints"]["vectors"]
    assert got["store"] == "pgvector" and manifest["alembic_revision"] == migrations_head()
    assert (got["count"], got["config"], got["checksum"]) == (
        want["count"],
        want["config"],
        want["checksum"],
    )
    qd = fresh_install("qdrant")
    again = run_data(qd.env, "--target", str(back_dir), "import", back_id)
    assert again.returncode == 0, again.stderr
    assert "vectors: pgvector -> qdrant, verified (4 points)" in again.stderr
    assert fingerprint(qd.env)["vectors"]["checksum"] == want["checksum"]

"""aiwfe-data against a real S3-compatible server (versitygw, tests/services/s3_server.py):
backup, list, restore, verify, drill, prune, and the refusals, all through the S3 API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.services import data_stack, s3_server
from tests.services.data_stack import run_data

old_stack, old_bundle = data_stack.old_stack, data_stack.old_bundle
bundle_dir, fresh_install = data_stack.bundle_dir, data_stack.fresh_install
BUCKET = "aiwfe-backups"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with s3_server.running(tmp_path_factory.mktemp("s3")) as server:
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )
        client.create_bucket(Bucket=BUCKET)
        env = {
            "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AIWFE_DATA_S3_ENDPOINT": server.endpoint,
            "AIWFE_DATA_S3_PATH_STYLE": "true",
            "AIWFE_DATA_TARGET": f"s3://{BUCKET}/prod/nightly",
        }
        yield {"client": client, "env": env}


def keys(s3: dict[str, Any]) -> list[str]:
    listed = s3["client"].list_objects_v2(Bucket=BUCKET, Prefix="prod/nightly/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_backup_restore_drill_prune_through_s3(old_stack, s3, fresh_install) -> None:
    source = {**old_stack.env, **s3["env"]}
    first = run_data(source, "backup", "--quiesced")
    assert first.returncode == 0, first.stderr
    bundle_id = json.loads(first.stdout)["bundle"]
    stored = keys(s3)
    assert f"prod/nightly/{bundle_id}/manifest.json" in stored
    assert f"prod/nightly/{bundle_id}/pg/aiwfe.dump" in stored

    new = fresh_install()
    target = {**new.env, **s3["env"]}
    done = run_data(target, "restore", bundle_id)
    assert done.returncode == 0, done.stderr
    live = run_data(target, "verify", bundle_id, "--live")
    assert live.returncode == 0, live.stderr
    drill = run_data(target, "drill", bundle_id)
    assert drill.returncode == 0, drill.stderr

    second = json.loads(run_data(source, "backup").stdout)["bundle"]
    listing = json.loads(run_data(source, "list").stdout)
    assert [(r["bundle"], r["complete"], r["quiesced"]) for r in listing] == [
        (bundle_id, True, True),
        (second, True, False),
    ]
    pruned = run_data(source, "prune", "--keep-last", "1")
    assert json.loads(pruned.stdout)["deleted"] == [bundle_id]
    assert {k.split("/")[2] for k in keys(s3)} == {second}


def test_s3_refusals_leave_the_target_alone(old_stack, s3, fresh_install) -> None:
    source = {**old_stack.env, **s3["env"], "AIWFE_DATA_TARGET": f"s3://{BUCKET}/refusals"}
    bundle_id = json.loads(run_data(source, "backup").stdout)["bundle"]
    key = f"refusals/{bundle_id}/redis/keys.jsonl"
    body = bytearray(s3["client"].get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[10] ^= 0x20
    s3["client"].put_object(Bucket=BUCKET, Key=key, Body=bytes(body))
    new = fresh_install()
    target = {**new.env, **s3["env"], "AIWFE_DATA_TARGET": source["AIWFE_DATA_TARGET"]}
    flipped = run_data(target, "restore", bundle_id)
    assert flipped.returncode == 2
    assert "redis/keys.jsonl: sha256 differs" in flipped.stderr
    assert len(flipped.stderr.strip().splitlines()) == 1

    s3["client"].delete_object(Bucket=BUCKET, Key=f"refusals/{bundle_id}/manifest.json")
    incomplete = run_data(target, "restore", bundle_id)
    assert incomplete.returncode == 2 and "has no manifest.json" in incomplete.stderr
    assert new.redis_keys() == 0
    assert new.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0] == 0

    wrong = {**target, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    denied = run_data(wrong, "list")
    assert denied.returncode == 2 and "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" in denied.stderr

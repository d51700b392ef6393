"""Redis: every key of every database as DUMP payload + remaining TTL (redis/keys.jsonl).

Why not dump.rdb: loading an RDB file means stopping the target server and replacing its data
file, which a Job cannot do to a running chart install (and BGSAVE's file stays inside the
Redis pod). DUMP/RESTORE goes through the normal protocol, works against a running server,
and a newer Redis (8) restores the payloads of an older one (7); the reverse is refused by
Redis itself, as it should be.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from aiwfe.core.settings import Settings
from aiwfe.data.common import Refusal, canonical

SCAN_COUNT = 1000


def client(settings: Settings, db: int = 0) -> redis.Redis:
    return redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        password=settings.redis_password.get_secret_value() or None,
        db=db,
        socket_timeout=30,
        socket_connect_timeout=10,
    )


def databases(settings: Settings) -> dict[int, int]:
    """{db index: key count} of the databases holding keys (INFO keyspace)."""
    try:
        info = client(settings).info("keyspace")
    except redis.RedisError as exc:
        raise Refusal(
            f"cannot reach Redis at {settings.redis_host}:{settings.redis_port} ({exc}): "
            "check AIWFE_REDIS_HOST/PORT/PASSWORD"
        ) from None
    return {int(name[2:]): int(v["keys"]) for name, v in info.items() if name.startswith("db")}


def server_info(settings: Settings) -> dict[str, Any]:
    info = client(settings).info("server")
    return {"version": info["redis_version"], "databases": databases(settings)}


def _value(conn: redis.Redis, key: bytes, kind: str) -> Any:
    """The value in a canonical, JSON-able form: bytes as base64, unordered types sorted."""

    def b64(value: bytes) -> str:
        return base64.b64encode(value).decode()

    if kind == "string":
        return b64(conn.get(key) or b"")
    if kind == "hash":
        return sorted([b64(k), b64(v)] for k, v in conn.hgetall(key).items())
    if kind == "list":
        return [b64(v) for v in conn.lrange(key, 0, -1)]
    if kind == "set":
        return sorted(b64(v) for v in conn.smembers(key))
    if kind == "zset":
        return sorted([b64(m), repr(s)] for m, s in conn.zrange(key, 0, -1, withscores=True))
    if kind == "stream":
        entries = [
            [eid.decode(), sorted([b64(k), b64(v)] for k, v in fields.items())]
            for eid, fields in conn.xrange(key, "-", "+")
        ]
        groups = sorted(
            [g["name"].decode(), g["last-delivered-id"].decode()] for g in conn.xinfo_groups(key)
        )
        return {"entries": entries, "groups": groups}
    raise Refusal(f"Redis key type {kind!r} is not supported by aiwfe-data: remove key {key!r}")


def _keys(conn: redis.Redis) -> Iterator[bytes]:
    yield from conn.scan_iter(count=SCAN_COUNT)


class Digest:
    """Per database: key count, keys with a TTL, and a digest over (key, type, value, has
    TTL) of every key, independent of key order."""

    def __init__(self) -> None:
        self.dbs: dict[int, tuple[list[str], int]] = {}

    def add(self, conn: redis.Redis, db: int, key: bytes, has_ttl: bool) -> None:
        kind = conn.type(key).decode()
        item = canonical([base64.b64encode(key).decode(), kind, _value(conn, key, kind), has_ttl])
        digests, with_ttl = self.dbs.setdefault(db, ([], 0))
        digests.append(hashlib.sha256(item.encode()).hexdigest())
        self.dbs[db] = (digests, with_ttl + has_ttl)

    def result(self) -> dict[str, Any]:
        out = {}
        for db, (digests, with_ttl) in sorted(self.dbs.items()):
            digests.sort()
            out[str(db)] = {
                "keys": len(digests),
                "with_ttl": with_ttl,
                "digest": hashlib.sha256("".join(digests).encode()).hexdigest(),
            }
        return out


def fingerprint(settings: Settings) -> dict[str, Any]:
    digest = Digest()
    for db in sorted(databases(settings)):
        conn = client(settings, db)
        for key in _keys(conn):
            ttl = conn.pttl(key)
            if ttl != -2:
                digest.add(conn, db, key, ttl > 0)
    return digest.result()


def export(settings: Settings, path: Path) -> dict[str, Any]:
    """Write redis/keys.jsonl and return the fingerprint of what was written (same pass, key
    by key). Keys that expire while we read them are skipped."""
    digest = Digest()
    with path.open("w") as out:
        for db in sorted(databases(settings)):
            conn = client(settings, db)
            for key in _keys(conn):
                payload = conn.dump(key)
                ttl = conn.pttl(key)
                if payload is None or ttl == -2:
                    continue
                digest.add(conn, db, key, ttl > 0)
                line = {
                    "db": db,
                    "key": base64.b64encode(key).decode(),
                    "ttl_ms": ttl if ttl > 0 else 0,
                    "dump": base64.b64encode(payload).decode(),
                }
                out.write(json.dumps(line) + "\n")
    return digest.result()


def non_empty(settings: Settings, dbs: list[int] | None = None) -> dict[int, int]:
    found = databases(settings)
    return {db: n for db, n in found.items() if n and (dbs is None or db in dbs)}


def flush(settings: Settings, dbs: list[int]) -> None:
    for db in dbs:
        client(settings, db).flushdb()


def load(settings: Settings, path: Path, db_map: dict[int, int] | None = None) -> int:
    """RESTORE every key (REPLACE: --force already allowed overwriting); `db_map` moves
    databases (the drill restores into a scratch database)."""
    count, pipes = 0, {}
    with path.open() as handle:
        for raw in handle:
            line = json.loads(raw)
            db = (db_map or {}).get(line["db"], line["db"])
            pipe = pipes.setdefault(db, client(settings, db).pipeline(transaction=False))
            pipe.restore(
                base64.b64decode(line["key"]),
                line["ttl_ms"],
                base64.b64decode(line["dump"]),
                replace=True,
            )
            count += 1
            if len(pipe) >= SCAN_COUNT:
                pipe.execute()
    for pipe in pipes.values():
        pipe.execute()
    return count


def databases_in(path: Path) -> list[int]:
    seen: set[int] = set()
    with path.open() as handle:
        for raw in handle:
            seen.add(json.loads(raw)["db"])
    return sorted(seen)

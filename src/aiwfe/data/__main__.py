"""aiwfe-data: inventory, fingerprint, export/backup, import/restore, verify, list, prune, drill.

The install it works on is described by the same AIWFE_* variables the services read
(AIWFE_DB_*, AIWFE_REDIS_*, AIWFE_VECTOR_STORE, AIWFE_QDRANT_URL, AIWFE_QDRANT_COLLECTION,
AIWFE_EMBEDDING_DIM). The target holding bundles: --target DIR | s3://bucket/prefix (or
AIWFE_DATA_TARGET; S3 settings in AIWFE_DATA_S3_* and AWS_ACCESS_KEY_ID/SECRET).

Exit status: 0 done, 1 data mismatch (verify/drill/import), 2 refused (nothing written; the
one-line message says what to do), 3 failed otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from aiwfe.core.settings import Settings
from aiwfe.data import checks, ops
from aiwfe.data.common import Mismatch, PgTools, Refusal
from aiwfe.data.targets import open_target


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="aiwfe-data", description=__doc__.split("\n")[0])
    top.add_argument("--target", help="bundle store: a directory or s3://bucket/prefix")
    top.add_argument("--scratch", help="local folder for S3 downloads (default: a temp dir)")
    sub = top.add_subparsers(dest="command", required=True)
    inv = sub.add_parser("inventory", help="versions, sizes, revision, collections, keys")
    inv.add_argument("--for-bundle", help="also run the import's refusals for this bundle")
    inv.add_argument("--force", action="store_true")
    inv.add_argument("--migrate", action="store_true")
    sub.add_parser("fingerprint", help="integrity figures of the live install as JSON")
    for name in ("export", "backup"):
        exp = sub.add_parser(name, help="write a bundle of the live install")
        exp.add_argument(
            "--quiesced",
            action="store_true",
            help="record that the app was in maintenance mode during the export",
        )
    for name in ("import", "restore"):
        imp = sub.add_parser(name, help="load a bundle into the live install")
        imp.add_argument("bundle")
        imp.add_argument("--force", action="store_true", help="replace a non-empty target")
        imp.add_argument(
            "--migrate",
            action="store_true",
            help="run aiwfe-migrate upgrade after the database restore",
        )
    ver = sub.add_parser("verify", help="a bundle against its manifest (and the live install)")
    ver.add_argument("bundle")
    ver.add_argument(
        "--live",
        action="store_true",
        help="also compare the live install with the bundle's fingerprints",
    )
    sub.add_parser("list", help="bundles in the target")
    pru = sub.add_parser("prune", help="delete old bundles")
    pru.add_argument("--keep-last", type=int, required=True)
    dri = sub.add_parser("drill", help="restore into scratch stores, verify, drop them")
    dri.add_argument("bundle")
    dri.add_argument(
        "--redis-db", type=int, default=12, help="first scratch Redis database index (default 12)"
    )
    return top


def dispatch(args: argparse.Namespace, scratch: Path) -> Any:
    cmd = args.command
    settings = Settings()
    tools = PgTools.from_env()
    if cmd == "fingerprint":
        return checks.live_fingerprint(settings)
    if cmd == "inventory":
        if args.for_bundle:
            target = open_target(args.target)
            return checks.inventory_for(
                settings, target, args.for_bundle, scratch, tools, args.force, args.migrate
            )
        return checks.inventory(settings)
    target = open_target(args.target)
    if cmd in ("export", "backup"):
        started, timings = time.monotonic(), {}
        manifest = ops.export(settings, target, tools, args.quiesced, scratch, timings)
        size = sum(f["size"] for f in manifest["files"].values())
        return {
            "bundle": manifest["bundle"],
            "bytes": size,
            "seconds": round(time.monotonic() - started, 2),
            "steps": timings,
            "target": target.description,
        }
    if cmd in ("import", "restore"):
        started, timings = time.monotonic(), {}
        manifest = ops.load(
            settings,
            target,
            args.bundle,
            tools,
            force=args.force,
            migrate=args.migrate,
            scratch=scratch,
            log=_log,
            timings=timings,
        )
        seconds = round(time.monotonic() - started, 2)
        return {"restored": manifest["bundle"], "seconds": seconds, "steps": timings}
    if cmd == "verify":
        return {
            "verified": checks.verify(target, args.bundle, scratch, settings if args.live else None)
        }
    if cmd == "list":
        return checks.listing(target)
    if cmd == "prune":
        return {"deleted": checks.prune(target, args.keep_last)}
    if cmd == "drill":
        checks.drill(settings, target, args.bundle, tools, scratch, args.redis_db, log=_log)
        return {"drill": "passed", "bundle": args.bundle}
    raise AssertionError(cmd)


def _log(message: str) -> None:
    print(f"aiwfe-data: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(dir=args.scratch, prefix="aiwfe-data-") as tmp:
            result = dispatch(args, Path(tmp))
    except Refusal as exc:
        print(f"aiwfe-data: refused: {exc}", file=sys.stderr)
        return 2
    except Mismatch as exc:
        print(f"aiwfe-data: MISMATCH: {exc}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except Exception as exc:  # exit 1 means "mismatch": anything else is 3, with its cause
        traceback.print_exc()
        print(f"aiwfe-data: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

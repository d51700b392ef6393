"""python -m ci.bench: measure the consolidation's claims and the harness's own speed.

Writes build/bench/results.json, build/bench/bench.png and build/bench/table.md, and prints
the Markdown table. Not a pass/fail gate: the exit code is 0 when the measurements ran,
whether or not the targets were met (they are reported as met or missed, with by how much).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ci.bench import gateway, harness, report, tables, topology
from ci.bench.load import ab_binary, ensure_ab
from ci.paths import BUILD, REPO

OUT = BUILD / "bench"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def host_facts() -> dict[str, Any]:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ci.bench", description=__doc__)
    parser.add_argument(
        "--reps", type=int, default=9, help="alternating repetitions per topology (>= 3; default 9)"
    )
    parser.add_argument("--mixed-requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--health-requests", type=int, default=1000)
    parser.add_argument(
        "--gateway-requests",
        type=int,
        default=2000,
        help="ab -n for the gateway vs bare app comparison",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small counts for development (3 reps, 90 mixed requests)",
    )
    parser.add_argument(
        "--only",
        choices=["topology", "gateway", "harness"],
        action="append",
        help="run only these parts (repeatable)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile each topology under the mixed load with py-spy",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.mixed_requests, args.health_requests = 3, 90, 300
        args.gateway_requests = 500
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    os.chdir(REPO)
    parts = set(args.only or ["topology", "gateway", "harness"])
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "nox -s bench  (python -m ci.bench " + " ".join(argv or sys.argv[1:]) + ")",
        "host": host_facts(),
    }
    if parts & {"topology", "gateway"} and not ensure_ab():
        log("ab (apache2-utils) missing and not installable: /api/health uses the asyncio client")
    results["host"]["ab"] = ab_binary()
    began = time.monotonic()

    if parts & {"topology", "gateway"}:
        plan = topology.Plan(
            reps=args.reps,
            health_requests=args.health_requests,
            health_concurrency=args.concurrency,
            mixed_requests=args.mixed_requests,
            mixed_concurrency=args.concurrency,
            warmup_requests=max(30, args.mixed_requests // 4),
        )
        log("starting PostgreSQL (pgvector) and Redis from ci/env/services/, migrating")
        backing = topology.start_backing()
        try:
            if "topology" in parts:
                raw = topology.run(plan, backing, log)
                results["topology"] = report.summarise_topology(raw)
                if args.profile:
                    from ci.bench import profile

                    results["profile"] = profile.run(
                        plan, backing, raw["token"], out_dir / "profiles", log
                    )
            if "topology" in parts:
                from ci.bench import db

                log("database driver diagnostic (shipped engine vs asyncpg statement cache)")
                results["db_driver"] = db.run(backing.env_vars)
            if "gateway" in parts:
                log("gateway vs bare FastAPI app on /api/health")
                raw_gw = gateway.run(
                    backing, args.reps, args.gateway_requests, args.concurrency, log
                )
                results["gateway"] = report.summarise_gateway(raw_gw)
        finally:
            backing.services.stop()

    if "harness" in parts:
        log("render time per profile")
        results["render"] = harness.render_times()
        log("chart test tier")
        results["chart_tests"] = harness.chart_tests()
        results["images"] = harness.image_sizes()

    results["verdicts"] = report.verdicts(results)
    results["missing_keys"] = report.missing_keys(results)
    if results["missing_keys"] and parts == {"topology", "gateway", "harness"}:
        log(f"results lack {results['missing_keys']}")
    results["wall_seconds"] = round(time.monotonic() - began, 1)
    table = tables.markdown(results)
    png = tables.chart(results, out_dir / "bench.png")
    results["chart_png"] = str(png) if png else None
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out_dir / "table.md").write_text(table)
    print(table)
    log(f"results: {out_dir / 'results.json'}" + (f", chart: {png}" if png else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

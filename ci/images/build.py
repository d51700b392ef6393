"""Build AIWFE's eight container images, online or air-gapped.

    python -m ci.images build [--airgap | --online] [NAME ...]
    python -m ci.images plan  [--airgap | --online]       # what would be built, and from where

Online, Dockerfiles start from upstream images (debian:<point>-slim, qdrant/qdrant, ...).
Air-gapped (no container registry answers, or AIWFE_AIRGAP=1), the Debian base is made with
debootstrap (ci/images/base.py) and third-party programs come from Debian packages, PyPI and the Go
module proxy; programs that cannot be built that way are listed with the reason and the image
ships without them (the role that would run them fails with a clear message), never with a
stand-in. Every image is tagged aiwfe/<name>:<appVersion of charts/aiwfe/Chart.yaml>.
Results go to build/images/report.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict

from ci.components import FIRST_PARTY
from ci.images import base as rootfs
from ci.images.context import stage_python_context, stage_ui_context
from ci.images.plan import ALL_IMAGES, chart_version, detect_mode, parts, plan
from ci.images.report import REPORT, merge_report, table
from ci.images.sources import build_one, build_sources, docker_client, failed_source_result
from ci.proc import echo


def cmd_build(mode_flag: str | None, names: list[str]) -> int:
    unknown = [n for n in names if n not in ALL_IMAGES and n != "python-base"]
    if unknown:
        print(f"unknown image(s): {', '.join(unknown)}; known: {', '.join(ALL_IMAGES)}")
        return 2
    mode, reason = detect_mode(mode_flag)
    echo(f"source mode: {mode} ({reason})")
    docker = docker_client()
    started = time.monotonic()
    if mode == "airgap":
        base_image = rootfs.ensure_base(docker)
    else:
        base_image = rootfs.DebianPin.load().online_image
    base_seconds = round(time.monotonic() - started, 1)
    builds = plan(mode, base_image, [n for n in names if n != "python-base"])
    if any(b.name == "python-base" for b in builds):
        stage_python_context()
    if any(b.name == "api-gateway" for b in builds):
        stage_ui_context()
    # Source builds (Go, cgo) run in the background while the images without any build;
    # the images that use them are built once they are done.
    waiting = [b for b in builds if b.source_parts]
    ready = [b for b in builds if not b.source_parts]
    wait_for_sources = build_sources(docker, waiting)
    results = []
    failed_base = False
    for build in ready:
        if failed_base and build.name in FIRST_PARTY:
            results.append(
                {
                    "image": build.tag,
                    "name": build.name,
                    "mode": mode,
                    "seconds": None,
                    "status": "failed",
                    "missing_parts": {},
                    "error_tail": ["python-base failed"],
                }
            )
            continue
        result = build_one(docker, build, mode, k=len(results) + 1, n=len(builds))
        results.append(result)
        if build.name == "python-base" and result["status"] != "built":
            failed_base = True
    source_seconds = wait_for_sources()
    for build in waiting:
        if build.failed_parts:
            results.append(failed_source_result(build, mode, source_seconds.get(build.name, {})))
            continue
        step = {"k": len(results) + 1, "n": len(builds)}
        results.append(build_one(docker, build, mode, source_seconds.get(build.name), **step))
    order = {name: i for i, name in enumerate(("python-base", *ALL_IMAGES))}
    results.sort(key=lambda item: order[item["name"]])
    total = round(time.monotonic() - started, 1)
    report = {
        "mode": mode,
        "mode_reason": reason,
        "base_image": base_image,
        "base_seconds": base_seconds,
        "total_seconds": total,
        "version": chart_version(),
        "images": results,
        "parts": [asdict(p) for p in parts()],
    }
    merged = merge_report(report)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(merged, indent=2) + "\n")
    print(table(results, mode, reason))
    print(f"\ntotal {total:.0f}s (base {base_seconds:.0f}s); report: {REPORT}")
    return 0 if all(r["status"] == "built" for r in results) else 1


def cmd_plan(mode_flag: str | None) -> int:
    mode, reason = detect_mode(mode_flag)
    base = "aiwfe-base/debian (debootstrap)" if mode == "airgap" else "online"
    for build in plan(mode, base, []):
        print(f"{build.tag}: {json.dumps(build.args)}")
        for part, why in build.missing_parts.items():
            print(f"    without {part}: {why}")
    print(f"mode: {mode} ({reason})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.images", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "plan"):
        cmd = sub.add_parser(name)
        group = cmd.add_mutually_exclusive_group()
        group.add_argument("--airgap", dest="mode", action="store_const", const="airgap")
        group.add_argument("--online", dest="mode", action="store_const", const="online")
        if name == "build":
            cmd.add_argument("names", nargs="*", help=f"subset of: {', '.join(ALL_IMAGES)}")
    args = parser.parse_args(argv)
    if args.command == "build":
        return cmd_build(args.mode, args.names)
    return cmd_plan(args.mode)


if __name__ == "__main__":
    sys.exit(main())

"""The build report: build/images/report.json (merged across partial builds) and the table
printed at the end of `python -m ci.images build`."""

from __future__ import annotations

import json

from ci.images.plan import ALL_IMAGES
from ci.paths import BUILD

REPORT = BUILD / "images" / "report.json"


def human_size(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.0f} MB"


def build_time(item: dict) -> str:
    if item.get("seconds") is None:
        return "-"
    text = f"{item['seconds']:.0f}s"
    sources = item.get("source_seconds") or {}
    if sources:
        text += " + source " + ", ".join(f"{p} {s:.0f}s" for p, s in sorted(sources.items()))
    return text


def table(results: list[dict], mode: str, reason: str) -> str:
    rows = [("image", "status", "size", "build time", "source mode")]
    for item in results:
        rows.append(
            (
                item["image"],
                item["status"],
                human_size(item.get("size_bytes")),
                build_time(item),
                "online" if item["mode"] == "online" else "air-gapped",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"source mode: {mode} ({reason})", ""]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    missing = [
        (item["name"], p, why) for item in results for p, why in item["missing_parts"].items()
    ]
    if missing:
        lines += ["", "not buildable in this mode (the image ships without it; its role fails):"]
        for image, part, why in missing:
            lines.append(f"  - {part} (in {image}): {why}")
    failed = [
        (item["name"], p, why)
        for item in results
        for p, why in (item.get("failed_parts") or {}).items()
    ]
    if failed:
        lines += ["", "source builds that failed (their images were not built):"]
        for image, part, why in failed:
            lines.append(f"  - {part} (in {image}): {why}")
    return "\n".join(lines)


def merge_report(report: dict) -> dict:
    """A partial build (some names) keeps the other images' entries of the same mode."""
    if not REPORT.exists():
        return report
    try:
        previous = json.loads(REPORT.read_text())
    except ValueError:
        return report
    if previous.get("mode") != report["mode"]:
        return report
    built = {item["name"] for item in report["images"]}
    kept = [item for item in previous.get("images", []) if item["name"] not in built]
    order = {name: i for i, name in enumerate(("python-base", *ALL_IMAGES))}
    merged = dict(report, images=sorted(kept + report["images"], key=lambda i: order[i["name"]]))
    return merged

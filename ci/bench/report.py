"""From raw repetitions to results.json, the Markdown table and the PNG chart."""

from __future__ import annotations

from typing import Any

from ci.bench.stats import paired_ratios, per_thousand, spread, verdict

MIB = 2**20
# (results key, figure, target, direction): consolidated / split, or gateway / bare app.
TARGETS = [
    ("topology.p50_ratio", "mixed p50 latency", 0.5, "max"),
    ("topology.p99_ratio", "mixed p99 latency", 0.6, "max"),
    ("topology.rss_ratio", "total RSS", 0.6, "max"),
    ("topology.cpu_ratio", "CPU s / 1,000 requests", 0.7, "max"),
    ("gateway.health_throughput_ratio", "gateway /api/health throughput vs bare", 0.8, "min"),
]
RENDER_TARGET_S = 1.0


def topology_metrics(rep: dict[str, Any]) -> dict[str, float]:
    """The per-repetition figures the topology comparison is made of."""
    mixed = rep["mixed"]
    services = mixed["usage"]["services"]
    backing = mixed["usage"]["backing"]
    health = rep["health"]
    return {
        "p50_ms": mixed["p50_ms"],
        "p95_ms": mixed["p95_ms"],
        "p99_ms": mixed["p99_ms"],
        "throughput_rps": mixed["throughput_rps"],
        "rss_mib": services["rss_peak_bytes"] / MIB,
        # Postgres + Redis RSS is not split by variant (they serve every variant at once),
        # so only their CPU, used while this variant was measured, is added.
        "cpu_s_per_1k": per_thousand(services["cpu_seconds"], mixed["completed"]),
        "cpu_with_backing_s_per_1k": per_thousand(
            services["cpu_seconds"] + backing["cpu_seconds"], mixed["completed"]
        ),
        **(
            {
                "serial_p50_ms": rep["serial"]["p50_ms"],
                "serial_p99_ms": rep["serial"]["p99_ms"],
                **{
                    f"serial_{call}_p50_ms": figures["p50_ms"]
                    for call, figures in sorted(rep["serial"].get("by_call", {}).items())
                },
            }
            if rep.get("serial", {}).get("completed")
            else {}
        ),
        **(
            {
                "steps_p50_ms": rep["steps"]["p50_ms"],
                "steps_p99_ms": rep["steps"]["p99_ms"],
                "steps_rps": rep["steps"]["throughput_rps"],
                "steps_cpu_s_per_1k": per_thousand(
                    rep["steps"]["usage"]["services"]["cpu_seconds"], rep["steps"]["completed"]
                ),
            }
            if rep.get("steps", {}).get("completed")
            else {}
        ),
        "health_rps": health["throughput_rps"],
        "health_p50_ms": health.get("p50_ms", 0.0),
        "health_p99_ms": health.get("p99_ms", 0.0),
        "idle_rss_mib": rep["idle_rss_bytes"] / MIB,
        "startup_s": rep["startup_s"],
        "processes": rep["processes"],
        **{
            f"{call}_p50_ms": figures["p50_ms"]
            for call, figures in sorted(mixed["by_call"].items())
        },
    }


RATIO_KEYS = {
    "p50_ratio": "p50_ms",
    "p95_ratio": "p95_ms",
    "p99_ratio": "p99_ms",
    "rss_ratio": "rss_mib",
    "cpu_ratio": "cpu_s_per_1k",
    "throughput_ratio": "throughput_rps",
    "cpu_with_backing_ratio": "cpu_with_backing_s_per_1k",
    "health_throughput_ratio": "health_rps",
    "serial_p50_ratio": "serial_p50_ms",
    "serial_p99_ratio": "serial_p99_ms",
    "steps_p50_ratio": "steps_p50_ms",
    "steps_p99_ratio": "steps_p99_ms",
    "steps_throughput_ratio": "steps_rps",
    "steps_cpu_ratio": "steps_cpu_s_per_1k",
}


def summarise_topology(raw: dict[str, Any]) -> dict[str, Any]:
    reps = raw["reps"]
    per = {name: [topology_metrics(r) for r in reps[name]] for name in ("consolidated", "split")}
    if not per["consolidated"] or len(per["consolidated"]) != len(per["split"]):
        raise ValueError("the topologies need the same, non-zero number of repetitions")
    medians: dict[str, dict[str, Any]] = {}
    for name, rows in per.items():
        medians[name] = {key: spread([row[key] for row in rows]) for key in rows[0]}
    out: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    for ratio_key, metric in RATIO_KEYS.items():
        if not all(metric in row for rows in per.values() for row in rows):
            continue
        paired = paired_ratios(
            [r[metric] for r in per["consolidated"]], [r[metric] for r in per["split"]]
        )
        out[ratio_key] = paired["ratio"]
        detail[ratio_key] = paired
    what_if: dict[str, Any] = {}
    for name, variant_reps in reps.items():
        if name in per or not variant_reps or len(variant_reps) != len(per["split"]):
            continue
        rows = [topology_metrics(r) for r in variant_reps]
        what_if[name] = {
            "medians": {key: spread([row[key] for row in rows]) for key in rows[0]},
            **{
                ratio_key: paired_ratios(
                    [r[metric] for r in rows], [r[metric] for r in per["split"]]
                )["ratio"]
                for ratio_key, metric in RATIO_KEYS.items()
                if ratio_key in out and all(metric in r for r in rows)
            },
        }
    if what_if:
        out["what_if"] = {
            "note": "prototypes of the proposed fix (ci/bench/embedded.py), not shipped modes: "
            "the gateway hosts the five modules in-process (embedded), and two replicas of it "
            "with connections balanced between them (embedded-x2); ratios are variant / split",
            **what_if,
        }
    out.update(
        ratio_detail=detail,
        consolidated=medians["consolidated"],
        split=medians["split"],
        plan=raw["plan"],
        raw=reps,
    )
    return out


def summarise_gateway(raw: dict[str, Any]) -> dict[str, Any]:
    gateway = [r["throughput_rps"] for r in raw["reps"]["gateway"]]
    bare = [r["throughput_rps"] for r in raw["reps"]["bare"]]
    paired = paired_ratios(gateway, bare)
    out: dict[str, Any] = {}
    if all(r.get("usage") for name in ("gateway", "bare") for r in raw["reps"][name]):
        # CPU the server process used per request: unlike throughput, it hardly depends on
        # how much of the host the server got, so it stays meaningful on a busy machine.
        cpu = {
            name: [
                r["usage"]["cpu_seconds"] * 1000 / max(1, r.get("complete", 0))
                for r in raw["reps"][name]
            ]
            for name in ("gateway", "bare")
        }
        out = {
            "gateway_cpu_ms_per_request": spread(cpu["gateway"]),
            "bare_cpu_ms_per_request": spread(cpu["bare"]),
            # bare CPU / gateway CPU: the throughput ratio when both are CPU-bound alone.
            "cpu_normalised_throughput_ratio": paired_ratios(cpu["bare"], cpu["gateway"])["ratio"],
        }
    return {
        "health_throughput_ratio": paired["ratio"],
        "ratio_detail": paired,
        **out,
        "gateway_rps": spread(gateway),
        "bare_rps": spread(bare),
        "gateway_p50_ms": spread([r.get("p50_ms", 0.0) for r in raw["reps"]["gateway"]]),
        "bare_p50_ms": spread([r.get("p50_ms", 0.0) for r in raw["reps"]["bare"]]),
        "requests": raw["requests"],
        "concurrency": raw["concurrency"],
        "tool": raw["reps"]["gateway"][0].get("tool"),
        "raw": raw["reps"],
    }


def lookup(results: dict[str, Any], dotted: str) -> Any:
    node: Any = results
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def verdicts(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, label, target, direction in TARGETS:
        value = lookup(results, key)
        if isinstance(value, int | float):
            out[key] = {"figure": label, **verdict(value, target, direction)}
    for profile, seconds in (lookup(results, "render.seconds") or {}).items():
        out[f"render.seconds.{profile}"] = {
            "figure": f"render {profile}",
            **verdict(seconds, RENDER_TARGET_S, "max"),
        }
    return out


# ---- Markdown ---------------------------------------------------------------------------


REQUIRED_KEYS = (
    "topology.p50_ratio",
    "topology.p99_ratio",
    "topology.rss_ratio",
    "topology.cpu_ratio",
    "gateway.health_throughput_ratio",
)


def missing_keys(results: dict[str, Any]) -> list[str]:
    """The keys results.json promises (numeric) that this results dict lacks."""
    missing = [
        key
        for key in REQUIRED_KEYS
        if not isinstance(lookup(results, key), int | float)
        or isinstance(lookup(results, key), bool)
    ]
    seconds = lookup(results, "render.seconds")
    if not isinstance(seconds, dict) or not seconds:
        missing.append("render.seconds.<profile>")
    else:
        missing += [
            f"render.seconds.{profile}"
            for profile, value in seconds.items()
            if not isinstance(value, int | float)
        ]
    return missing

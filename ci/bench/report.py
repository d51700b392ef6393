"""From raw repetitions to results.json, the Markdown table and the PNG chart."""

from __future__ import annotations

from pathlib import Path
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


def _fmt(stat: dict[str, Any], digits: int = 1) -> str:
    return f"{stat['median']:.{digits}f} (±{stat['rel_spread'] * 50:.0f}%)"


def _mark(v: dict[str, Any] | None) -> str:
    if v is None:
        return "-"
    return "met" if v["met"] else f"MISSED by {v['miss_pct']:.0f}%"


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    checks = results.get("verdicts", {})
    topo = results.get("topology")
    if topo:
        c, s = topo["consolidated"], topo["split"]
        plan = topo["plan"]
        lines += [
            f"Topology, consolidated (gateway + 1 cognitive process) vs split (gateway + 5), "
            f"median of {plan['reps']} alternating repetitions (± half the min-max spread); "
            f"mixed workload {plan['mixed_requests']} requests at concurrency "
            f"{plan['mixed_concurrency']}, health `ab -n {plan['health_requests']} "
            f"-c {plan['health_concurrency']}`:",
            "",
            "| figure | consolidated | split | ratio | target | verdict |",
            "|---|---:|---:|---:|---:|---|",
        ]
        rows = [
            ("mixed p50 (ms)", "p50_ms", "p50_ratio", 1),
            ("mixed p95 (ms)", "p95_ms", "p95_ratio", 1),
            ("mixed p99 (ms)", "p99_ms", "p99_ratio", 1),
            ("mixed throughput (req/s)", "throughput_rps", "throughput_ratio", 1),
            ("RSS, service processes (MiB)", "rss_mib", "rss_ratio", 0),
            ("CPU s / 1,000 requests", "cpu_s_per_1k", "cpu_ratio", 2),
            (
                "CPU incl. Postgres + Redis (s / 1k)",
                "cpu_with_backing_s_per_1k",
                "cpu_with_backing_ratio",
                2,
            ),
            ("/api/health throughput (req/s)", "health_rps", "health_throughput_ratio", 0),
            ("mixed p50 at concurrency 1 (ms)", "serial_p50_ms", "serial_p50_ratio", 1),
            ("mixed p99 at concurrency 1 (ms)", "serial_p99_ms", "serial_p99_ratio", 1),
            ("workflow steps via coordination, p50 (ms)", "steps_p50_ms", "steps_p50_ratio", 1),
            ("workflow steps, p99 (ms)", "steps_p99_ms", "steps_p99_ratio", 1),
            ("workflow steps, throughput (req/s)", "steps_rps", "steps_throughput_ratio", 1),
            ("workflow steps, CPU s / 1,000", "steps_cpu_s_per_1k", "steps_cpu_ratio", 2),
        ]
        for label, metric, ratio_key, digits in rows:
            if ratio_key not in topo:
                continue
            v = checks.get(f"topology.{ratio_key}")
            target = f"{v['op']} {v['target']}" if v else ""
            lines.append(
                f"| {label} | {_fmt(c[metric], digits)} | {_fmt(s[metric], digits)} | "
                f"{topo[ratio_key]:.2f} | {target} | {_mark(v)} |"
            )
        for prefix, label in (("", "p50"), ("serial_", "p50 at concurrency 1,")):
            for call in ("memory_search", "decision", "workflow_create"):
                key = f"{prefix}{call}_p50_ms"
                if key in c and key in s:
                    ratio = c[key]["median"] / s[key]["median"] if s[key]["median"] else 0
                    lines.append(
                        f"| {label} {call.replace('_', ' ')} (ms) | {_fmt(c[key])} | "
                        f"{_fmt(s[key])} | {ratio:.2f} | | |"
                    )
        lines.append("")
        variants = {k: v for k, v in topo.get("what_if", {}).items() if isinstance(v, dict)}
        if variants:
            names = list(variants)
            lines += [
                "What-if, the proposed fix prototyped: the gateway hosting the five modules "
                "in-process (ci/bench/embedded.py), one process and two replicas; not shipped "
                "modes; same run, ratios against split:",
                "",
                "| figure | "
                + " | ".join(names)
                + " | split | "
                + " | ".join(f"ratio {n}" for n in names)
                + " | target |",
                "|---|" + "---:|" * (2 * len(names) + 2),
            ]
            for label, metric, ratio_key, digits in rows[:6] + rows[8:10]:
                if not all(ratio_key in v for v in variants.values()):
                    continue
                v = checks.get(f"topology.{ratio_key}")
                target = f"{v['op']} {v['target']}" if v else ""
                values = " | ".join(_fmt(w["medians"][metric], digits) for w in variants.values())
                ratios = " | ".join(f"{w[ratio_key]:.2f}" for w in variants.values())
                lines.append(
                    f"| {label} | {values} | {_fmt(s[metric], digits)} | {ratios} | {target} |"
                )
            lines.append("")
    dbd = results.get("db_driver")
    if dbd:
        shipped, cached = dbd["shipped"], dbd["statement_cache"]
        lines += [
            f"Database driver diagnostic: one small SELECT, {dbd['queries_per_rep']} queries x "
            f"{dbd['reps']} alternating runs, through the services' engine vs asyncpg's "
            "statement cache:",
            "",
            "| per query | shipped engine | statement cache on | ratio |",
            "|---|---:|---:|---:|",
            f"| wall (ms) | {shipped['wall_ms']:.3f} | {cached['wall_ms']:.3f} | "
            f"{dbd['wall_ratio']:.2f} |",
            f"| client CPU (ms) | {shipped['client_cpu_ms']:.3f} | "
            f"{cached['client_cpu_ms']:.3f} | {dbd['cpu_ratio']:.2f} |",
            "",
        ]
    gw = results.get("gateway")
    if gw:
        v = checks.get("gateway.health_throughput_ratio")
        lines += [
            f"Gateway efficiency, /api/health with {gw['tool']} -n {gw['requests']} "
            f"-c {gw['concurrency']}, median of {gw['gateway_rps']['n']} alternating runs:",
            "",
            "| figure | aiwfe-gateway | bare FastAPI | ratio | target | verdict |",
            "|---|---:|---:|---:|---:|---|",
            f"| throughput (req/s) | {_fmt(gw['gateway_rps'], 0)} | {_fmt(gw['bare_rps'], 0)} "
            f"| {gw['health_throughput_ratio']:.2f} | >= 0.8 | {_mark(v)} |",
            f"| p50 (ms) | {_fmt(gw['gateway_p50_ms'], 2)} | {_fmt(gw['bare_p50_ms'], 2)} | | | |",
            *(
                [
                    f"| server CPU per request (ms) | "
                    f"{_fmt(gw['gateway_cpu_ms_per_request'], 3)} | "
                    f"{_fmt(gw['bare_cpu_ms_per_request'], 3)} | "
                    f"{gw['cpu_normalised_throughput_ratio']:.2f} (bare / gateway) | | |"
                ]
                if "cpu_normalised_throughput_ratio" in gw
                else []
            ),
            "",
        ]
    render = results.get("render", {})
    if render.get("seconds") or render.get("errors"):
        lines += [
            "Harness speed:",
            "",
            "| figure | value | target | verdict |",
            "|---|---:|---:|---|",
        ]
        for profile, seconds in sorted(render.get("seconds", {}).items()):
            v = checks.get(f"render.seconds.{profile}")
            cpu = render.get("cpu_seconds", {}).get(profile)
            extra = f" (helm CPU {cpu:.2f} s)" if cpu is not None else ""
            lines.append(
                f"| render umbrella, {profile} | {seconds:.2f} s{extra} | < 1 s | {_mark(v)} |"
            )
        for profile, error in sorted(render.get("errors", {}).items()):
            first = error.splitlines()[0] if error else "failed"
            lines.append(f"| render umbrella, {profile} | FAILED: {first[:80]} | < 1 s | - |")
    elif render.get("skipped"):
        lines += [f"Render: skipped ({render['skipped']})", ""]
    chart_tests = results.get("chart_tests", {})
    if "seconds" in chart_tests:
        status = "passed" if chart_tests["exit_code"] == 0 else "FAILED"
        lines.append(
            f"| chart test tier (pytest tests/chart) | {chart_tests['seconds']:.1f} s | | "
            f"{status}: {chart_tests['summary'][:60]} |"
        )
    elif chart_tests.get("skipped"):
        lines.append(f"| chart test tier | skipped: {chart_tests['skipped']} | | |")
    images = results.get("images", {})
    for name, row in sorted(images.get("images", {}).items()):
        budget = f"<= {row['budget_mb']} MB" if row["budget_mb"] else "none"
        ok = "-" if row["within_budget"] is None else ("met" if row["within_budget"] else "OVER")
        lines.append(f"| image {name} | {row['size_mb']:.0f} MB | {budget} | {ok} |")
    if images.get("skipped"):
        lines.append(f"| images | skipped: {images['skipped']} | | |")
    lines += profile_lines(results.get("profile") or {})
    return "\n".join(lines).rstrip() + "\n"


def profile_lines(profile: dict[str, Any]) -> list[str]:
    """Per process: seconds of running Python (py-spy, GIL held) and where they went."""
    if not profile or profile.get("skipped"):
        return []
    lines = [
        "",
        "Profile (py-spy, samples with the GIL held, i.e. running Python), one run each:",
        "",
        "| run | process | Python s | where (share of samples) |",
        "|---|---|---:|---|",
    ]
    for run, data in profile.items():
        for process, folded in data.get("processes", {}).items():
            if not folded.get("samples"):
                continue
            top = ", ".join(f"{k} {v:.0%}" for k, v in list(folded["buckets"].items())[:4])
            lines.append(f"| {run} | {process} | {folded['gil_seconds']:.2f} | {top} |")
    return lines


# ---- PNG --------------------------------------------------------------------------------


def chart(results: dict[str, Any], path: Path) -> Path | None:
    """Latency percentiles and RSS, consolidated vs split (median, min-max whiskers)."""
    topo = results.get("topology")
    if not topo:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {"consolidated": topo["consolidated"], "split": topo["split"]}
    for name, variant in topo.get("what_if", {}).items():
        if isinstance(variant, dict):
            series[f"{name} (what-if)"] = variant["medians"]
    names = list(series)
    colours = dict(zip(names, ("#2b6cb0", "#dd6b20", "#718096", "#a0aec0"), strict=False))
    fig, (lat_ax, rss_ax, cpu_ax) = plt.subplots(
        1, 3, figsize=(14, 4.8), gridspec_kw={"width_ratios": [3, 1.5, 1.5]}
    )
    metrics = ("p50_ms", "p95_ms", "p99_ms")
    width = 0.8 / len(names)

    def whiskers(stats: list[dict[str, Any]]) -> list[list[float]]:
        return [
            [st["median"] - st["min"] for st in stats],
            [st["max"] - st["median"] for st in stats],
        ]

    for index, name in enumerate(names):
        stats = [series[name][m] for m in metrics]
        offset = (index - (len(names) - 1) / 2) * width
        xs = [i + offset for i in range(len(metrics))]
        lat_ax.bar(
            xs,
            [st["median"] for st in stats],
            width,
            yerr=whiskers(stats),
            capsize=4,
            label=name,
            color=colours[name],
        )
    lat_ax.set_xticks(range(len(metrics)), ["p50", "p95", "p99"])
    lat_ax.set_ylabel("ms")
    lat_ax.set_title(
        f"mixed workload latency (p50 ratio {topo['p50_ratio']:.2f}, "
        f"p99 ratio {topo['p99_ratio']:.2f})",
        fontsize=10,
    )
    lat_ax.legend(fontsize=8)
    for ax, metric, title, unit, key in (
        (rss_ax, "rss_mib", "RSS of service processes", "MiB", "rss_ratio"),
        (cpu_ax, "cpu_s_per_1k", "CPU per 1,000 requests", "CPU s", "cpu_ratio"),
    ):
        stats = [series[name][metric] for name in names]
        ax.bar(
            range(len(names)),
            [st["median"] for st in stats],
            yerr=whiskers(stats),
            capsize=4,
            color=[colours[n] for n in names],
        )
        ax.set_xticks(range(len(names)), [n.split(" ")[0] for n in names], fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(f"{title} (ratio {topo[key]:.2f})", fontsize=10)
    fig.suptitle("AIWFE cognitive services: consolidated vs split (loopback, same host)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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

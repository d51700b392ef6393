"""The bench's human-readable output: the markdown tables of docs/bench.md (one function
per section) and the chart of the headline ratios."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci.bench.report import MIB  # noqa: F401 - re-used by chart()


def _fmt(stat: dict[str, Any], digits: int = 1) -> str:
    return f"{stat['median']:.{digits}f} (±{stat['rel_spread'] * 50:.0f}%)"


def _mark(v: dict[str, Any] | None) -> str:
    if v is None:
        return "-"
    return "met" if v["met"] else f"MISSED by {v['miss_pct']:.0f}%"


def markdown(results: dict[str, Any]) -> str:
    """docs/bench.md's tables, one section per measurement present in `results`."""
    checks = results.get("verdicts", {})
    lines: list[str] = []
    if results.get("topology"):
        lines += topology_lines(results["topology"], checks)
        lines += what_if_lines(results["topology"], checks)
    if results.get("db_driver"):
        lines += db_driver_lines(results["db_driver"])
    if results.get("gateway"):
        lines += gateway_lines(results["gateway"], checks)
    lines += harness_lines(results, checks)
    lines += profile_lines(results.get("profile") or {})
    return "\n".join(lines).rstrip() + "\n"


TOPOLOGY_ROWS = [
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


def topology_lines(topo: dict[str, Any], checks: dict[str, Any]) -> list[str]:
    c, s = topo["consolidated"], topo["split"]
    plan = topo["plan"]
    lines: list[str] = []
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
    for label, metric, ratio_key, digits in TOPOLOGY_ROWS:
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
    return lines


def what_if_lines(topo: dict[str, Any], checks: dict[str, Any]) -> list[str]:
    s = topo["split"]
    lines: list[str] = []
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
        for label, metric, ratio_key, digits in TOPOLOGY_ROWS[:6] + TOPOLOGY_ROWS[8:10]:
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
    return lines


def db_driver_lines(dbd: dict[str, Any]) -> list[str]:
    lines: list[str] = []
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
    return lines


def gateway_lines(gw: dict[str, Any], checks: dict[str, Any]) -> list[str]:
    lines: list[str] = []
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
    return lines


def harness_lines(results: dict[str, Any], checks: dict[str, Any]) -> list[str]:
    lines: list[str] = []
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
    return lines


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

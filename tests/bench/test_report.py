"""From raw repetitions to results.json, the table and the chart; the py-spy folding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci.bench import profile, report, tables

MIB = 2**20


def rep(p50: float, p99: float, rss_mib: float, cpu: float, rps: float = 100.0) -> dict[str, Any]:
    """One repetition as topology.run_rep records it (600 completed mixed requests)."""
    usage = {
        "services": {"cpu_seconds": cpu, "rss_peak_bytes": int(rss_mib * MIB)},
        "backing": {"cpu_seconds": 1.0, "rss_peak_bytes": 100 * MIB},
    }
    by_call = {
        name: {"count": 200, "p50_ms": p50, "p95_ms": p99, "p99_ms": p99}
        for name in ("memory_search", "decision", "workflow_create")
    }
    return {
        "topology": "x",
        "startup_s": 2.0,
        "idle_rss_bytes": int(rss_mib * MIB),
        "processes": 2,
        "health": {"throughput_rps": 1000.0, "p50_ms": 4.0, "p99_ms": 9.0},
        "mixed": {
            "completed": 600,
            "p50_ms": p50,
            "p95_ms": (p50 + p99) / 2,
            "p99_ms": p99,
            "throughput_rps": rps,
            "by_call": by_call,
            "usage": usage,
        },
    }


PLAN = {
    "reps": 3,
    "mixed_requests": 600,
    "mixed_concurrency": 10,
    "health_requests": 1000,
    "health_concurrency": 10,
}


def topology_raw() -> dict[str, Any]:
    return {
        "plan": PLAN,
        "reps": {
            "consolidated": [rep(10, 30, 200, 3.0), rep(12, 33, 210, 3.3), rep(11, 60, 205, 3.6)],
            "split": [rep(20, 50, 600, 6.0), rep(22, 55, 610, 6.0), rep(26, 40, 590, 3.0)],
        },
    }


def gateway_raw() -> dict[str, Any]:
    return {
        "requests": 1000,
        "concurrency": 10,
        "reps": {
            "gateway": [
                {
                    "throughput_rps": r,
                    "p50_ms": 5.0,
                    "tool": "ab",
                    "complete": 1000,
                    "usage": {"cpu_seconds": cpu},
                }
                for r, cpu in ((900, 0.5), (950, 0.4), (800, 0.6))
            ],
            "bare": [
                {
                    "throughput_rps": r,
                    "p50_ms": 4.0,
                    "tool": "ab",
                    "complete": 1000,
                    "usage": {"cpu_seconds": cpu},
                }
                for r, cpu in ((1000, 0.2), (1200, 0.3), (1100, 0.25))
            ],
        },
    }


def results() -> dict[str, Any]:
    out: dict[str, Any] = {
        "topology": report.summarise_topology(topology_raw()),
        "gateway": report.summarise_gateway(gateway_raw()),
        "render": {"seconds": {"dev": 0.2, "prod": 1.5}},
    }
    out["verdicts"] = report.verdicts(out)
    return out


def test_topology_ratios_are_consolidated_over_split_medians() -> None:
    topo = results()["topology"]
    assert topo["p50_ratio"] == pytest.approx(11 / 22, abs=1e-4)
    assert topo["p99_ratio"] == pytest.approx(33 / 50, abs=1e-4)
    assert topo["rss_ratio"] == pytest.approx(205 / 600, abs=1e-4)
    # CPU per 1,000 requests: 3.3 s / 600 requests vs 6.0 s / 600 requests
    assert topo["cpu_ratio"] == pytest.approx(3.3 / 6.0, abs=1e-3)
    assert topo["consolidated"]["cpu_s_per_1k"]["median"] == pytest.approx(5.5)
    assert topo["ratio_detail"]["p50_ratio"]["per_rep"] == [0.5, 0.5455, 0.4231]
    assert topo["consolidated"]["p50_ms"]["n"] == 3
    assert topo["raw"]["split"][0]["mixed"]["p50_ms"] == 20


def test_unequal_repetitions_are_refused() -> None:
    raw = topology_raw()
    raw["reps"]["split"].pop()
    with pytest.raises(ValueError):
        report.summarise_topology(raw)


def test_gateway_ratio_and_verdicts() -> None:
    res = results()
    assert res["gateway"]["health_throughput_ratio"] == pytest.approx(900 / 1100, abs=1e-4)
    # CPU per request: gateway median 0.5 ms, bare 0.25 ms -> CPU-bound throughput ratio 0.5
    assert res["gateway"]["gateway_cpu_ms_per_request"]["median"] == pytest.approx(0.5)
    assert res["gateway"]["cpu_normalised_throughput_ratio"] == pytest.approx(0.5)
    checks = res["verdicts"]
    assert checks["topology.p50_ratio"]["met"]  # 0.5 <= 0.5
    assert not checks["topology.p99_ratio"]["met"]  # 0.66 > 0.6
    assert checks["topology.p99_ratio"]["miss_pct"] == pytest.approx(10.0)
    assert checks["gateway.health_throughput_ratio"]["met"]
    assert checks["render.seconds.dev"]["met"]
    assert not checks["render.seconds.prod"]["met"]


def test_results_shape_has_every_promised_key_and_is_json() -> None:
    res = results()
    assert report.missing_keys(res) == []
    for key in report.REQUIRED_KEYS:
        assert isinstance(report.lookup(res, key), float)
    decoded = json.loads(json.dumps(res))
    assert decoded["render"]["seconds"]["dev"] == 0.2
    del res["render"]
    res["gateway"].pop("health_throughput_ratio")
    assert report.missing_keys(res) == [
        "gateway.health_throughput_ratio",
        "render.seconds.<profile>",
    ]


def test_markdown_names_every_target_and_its_outcome() -> None:
    table = tables.markdown(results())
    assert "| mixed p50 (ms) | 11.0" in table
    assert "MISSED by 10%" in table  # p99
    assert "| render umbrella, prod | 1.50 s | < 1 s | MISSED by 50% |" in table
    assert "aiwfe-gateway" in table and "bare FastAPI" in table


def test_chart_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tables.chart(results(), tmp_path / "bench.png")
    assert path is not None
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tables.chart({}, tmp_path / "none.png") is None


COLLAPSED = """\
main (app.py:1);Runner.run (asyncio/runners.py:118) 500
main (app.py:1);handle (aiwfe/gateway/app.py:10);post (httpx/_client.py:5) 30
main (app.py:1);handle (aiwfe/gateway/app.py:10);execute (asyncpg/connection.py:377) 50
main (app.py:1);handle (aiwfe/gateway/app.py:10) 20
worker (threading.py:1);Condition.wait (threading.py:327) 999
"""


def test_profile_fold_skips_idle_frames_and_buckets_the_rest() -> None:
    folded = profile.fold(COLLAPSED)
    assert folded["samples"] == 100
    assert folded["gil_seconds"] == pytest.approx(100 / profile.RATE_HZ)
    assert folded["buckets"]["database (sqlalchemy/asyncpg)"] == 0.5
    assert folded["buckets"]["http client (httpx/httpcore/h11)"] == 0.3
    assert folded["buckets"]["aiwfe code"] == 0.2
    assert folded["top_leaf_frames"][0]["frame"].startswith("execute (asyncpg")


def test_what_if_and_serial_figures_are_reported_apart_from_the_headline() -> None:
    raw = topology_raw()
    for name, p50 in (("consolidated", 5.0), ("split", 8.0)):
        for r in raw["reps"][name]:
            r["serial"] = {"completed": 150, "p50_ms": p50, "p99_ms": 2 * p50}
    raw["reps"]["embedded"] = [rep(30, 90, 100, 1.2), rep(33, 99, 100, 1.2), rep(31, 93, 100, 1.2)]
    topo = report.summarise_topology(raw)
    assert topo["p50_ratio"] == pytest.approx(11 / 22, abs=1e-4)  # headline unchanged
    assert topo["serial_p50_ratio"] == pytest.approx(5 / 8)
    what_if = topo["what_if"]["embedded"]
    assert what_if["p50_ratio"] == pytest.approx(31 / 22, abs=1e-4)
    assert what_if["rss_ratio"] == pytest.approx(100 / 600, abs=1e-4)
    assert "serial_p50_ratio" not in what_if  # the embedded reps had no serial pass
    table = tables.markdown({"topology": topo, "verdicts": {}})
    assert "What-if" in table and "| mixed p50 at concurrency 1 (ms) | 5.0" in table
    assert "| CPU s / 1,000 requests | 2.00 (±0%) | 10.00 (±25%) | 0.20 |" in table

"""The bench's arithmetic: percentiles, spreads, paired ratios, verdicts."""

from __future__ import annotations

import random

import pytest

from ci.bench import stats


@pytest.mark.parametrize(
    ("pct", "expected"),
    [(0, 1.0), (25, 1.75), (50, 2.5), (75, 3.25), (100, 4.0), (99, 3.97)],
)
def test_percentile_interpolates_like_numpy_linear(pct: float, expected: float) -> None:
    assert stats.percentile([4, 1, 3, 2], pct) == pytest.approx(expected)


def test_percentile_of_one_value_and_order_independence() -> None:
    assert stats.percentile([7.5], 99) == 7.5
    values = [random.Random(1).uniform(0, 100) for _ in range(501)]
    shuffled = list(values)
    random.Random(2).shuffle(shuffled)
    assert stats.percentile(values, 50) == stats.percentile(shuffled, 50)
    # an odd-sized sample's p50 is its middle element
    assert stats.percentile(values, 50) == sorted(values)[250]


@pytest.mark.parametrize("bad", [-1, 100.5])
def test_percentile_rejects_bad_input(bad: float) -> None:
    with pytest.raises(ValueError):
        stats.percentile([1, 2], bad)
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_latency_summary_converts_seconds_to_milliseconds() -> None:
    summary = stats.latency_summary([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p95_ms"] == pytest.approx(95.05)
    assert summary["p99_ms"] == pytest.approx(99.01)
    assert summary["max_ms"] == pytest.approx(100)
    assert summary["mean_ms"] == pytest.approx(50.5)


def test_spread_reports_median_and_relative_range() -> None:
    result = stats.spread([10.0, 12.0, 9.0, 11.0, 30.0])
    assert result["median"] == 11.0
    assert (result["min"], result["max"]) == (9.0, 30.0)
    assert result["rel_spread"] == pytest.approx((30 - 9) / 11, abs=1e-4)
    assert result["n"] == 5
    with pytest.raises(ValueError):
        stats.spread([])


def test_ratio_and_paired_ratios() -> None:
    assert stats.ratio(1, 4) == 0.25
    with pytest.raises(ValueError):
        stats.ratio(1, 0)
    paired = stats.paired_ratios([10, 20, 30], [20, 20, 60])
    assert paired["ratio"] == pytest.approx(20 / 20)  # median 20 / median 20
    assert paired["per_rep"] == [0.5, 1.0, 0.5]
    assert (paired["per_rep_min"], paired["per_rep_max"]) == (0.5, 1.0)
    with pytest.raises(ValueError):
        stats.paired_ratios([1, 2], [1])


def test_per_thousand() -> None:
    assert stats.per_thousand(2.5, 500) == 5.0
    with pytest.raises(ValueError):
        stats.per_thousand(1.0, 0)


def test_verdict_says_by_how_much_a_target_is_missed() -> None:
    met = stats.verdict(0.45, 0.5, "max")
    assert met["met"] and met["miss_pct"] == 0 and met["op"] == "<="
    missed = stats.verdict(0.75, 0.5, "max")
    assert not missed["met"] and missed["miss_pct"] == 50.0
    low = stats.verdict(0.6, 0.8, "min")
    assert not low["met"] and low["miss_pct"] == 25.0 and low["op"] == ">="
    assert stats.verdict(0.8, 0.8, "min")["met"]
    with pytest.raises(ValueError):
        stats.verdict(1, 1, "sideways")

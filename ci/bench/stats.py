"""The arithmetic behind every figure the bench reports (pure functions, unit-tested)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(values: Iterable[float], pct: float) -> float:
    """The pct-th percentile (0..100) with linear interpolation between closest ranks.

    The same definition as numpy's default ("linear"): p0 is the minimum, p100 the maximum.
    """
    data = sorted(values)
    if not data:
        raise ValueError("percentile of an empty sample")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, not {pct}")
    rank = (len(data) - 1) * pct / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(data[low])
    return data[low] + (data[high] - data[low]) * (rank - low)


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds of latencies given in seconds."""
    if not latencies_s:
        raise ValueError("no latencies")
    ms = [v * 1000 for v in latencies_s]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Median of repeated measurements and how far they spread around it.

    `rel_spread` is (max - min) / median: 0.1 means the repetitions lie within 10% of the
    median's size of each other.
    """
    if not values:
        raise ValueError("no values")
    median = statistics.median(values)
    low, high = min(values), max(values)
    rel = (high - low) / median if median else 0.0
    return {
        "median": round(median, 6),
        "min": round(low, 6),
        "max": round(high, 6),
        "rel_spread": round(rel, 4),
        "n": len(values),
        "values": [round(v, 6) for v in values],
    }


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, refusing a zero or negative denominator."""
    if denominator <= 0:
        raise ValueError(f"ratio with a non-positive denominator ({denominator})")
    return round(numerator / denominator, 4)


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """Ratio of medians, plus the per-repetition ratios (rep i of A / rep i of B).

    The per-repetition ratios pair measurements taken back to back, so host noise that drifts
    over minutes cancels; their min..max says how stable the headline ratio is.
    """
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("paired ratios need two equally long, non-empty series")
    pairs = [ratio(a, b) for a, b in zip(numerators, denominators, strict=True)]
    return {
        "ratio": ratio(statistics.median(numerators), statistics.median(denominators)),
        "per_rep": pairs,
        "per_rep_min": min(pairs),
        "per_rep_max": max(pairs),
    }


def per_thousand(total: float, requests: int) -> float:
    """A total (e.g. CPU seconds) spread over requests, per 1,000 requests."""
    if requests <= 0:
        raise ValueError("no requests")
    return round(total * 1000 / requests, 4)


def verdict(value: float, target: float, direction: str) -> dict[str, Any]:
    """Whether `value` meets `target`; `direction` is "max" (value <= target) or "min".

    `miss_pct` says by how much a missed target was missed, relative to the target.
    """
    if direction == "max":
        met = value <= target
        miss = (value - target) / target if not met else 0.0
    elif direction == "min":
        met = value >= target
        miss = (target - value) / target if not met else 0.0
    else:
        raise ValueError(f"direction is max or min, not {direction!r}")
    return {
        "value": value,
        "target": target,
        "op": "<=" if direction == "max" else ">=",
        "met": met,
        "miss_pct": round(miss * 100, 1),
    }

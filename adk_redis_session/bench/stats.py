"""Latency statistics: percentiles and a summary of one measured workload."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Summary", "percentile", "summarize"]


def percentile(values: Sequence[float], q: float) -> float:
    """Returns the `q`-th percentile (0-100) by linear interpolation.

    Args:
        values: The samples, in any order; must not be empty.
        q: The percentile, from 0 to 100.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    fraction = rank - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


@dataclass(frozen=True)
class Summary:
    """Latency percentiles (ms) and throughput of a list of samples."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    ops_per_s: float


def summarize(latencies_ms: Sequence[float], wall_s: float | None = None) -> Summary:
    """Summarizes latencies.

    Args:
        latencies_ms: One latency per operation, in milliseconds.
        wall_s: The wall time the operations took together. When given (for
            concurrent runs), throughput is ``ops / wall_s``; otherwise the
            operations ran one after another and it is ``1000 / mean``.
    """
    mean = sum(latencies_ms) / len(latencies_ms)
    if wall_s is not None:
        ops_per_s = len(latencies_ms) / wall_s if wall_s > 0 else math.inf
    else:
        ops_per_s = 1000.0 / mean if mean > 0 else math.inf
    return Summary(
        p50_ms=percentile(latencies_ms, 50),
        p95_ms=percentile(latencies_ms, 95),
        p99_ms=percentile(latencies_ms, 99),
        mean_ms=mean,
        ops_per_s=ops_per_s,
    )

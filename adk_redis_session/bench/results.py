"""The records a benchmark run produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import BenchConfig

__all__ = ["BenchRun", "Result", "SetupInfo"]


@dataclass
class Result:
    """One backend on one workload at one history length and delay.

    Attributes:
        backend: Backend key.
        label: Backend's human name.
        workload: Workload key (``chat_turn``, ``append``, ``recent``,
            ``concurrent``).
        history: Events in the session when measured (nominal).
        delay_ms: One-way delay added by the proxy (0: loopback).
        ops: Successful timed operations.
        p50_ms: Median latency (None when no operation succeeded).
        p95_ms: 95th percentile latency.
        p99_ms: 99th percentile latency.
        mean_ms: Mean latency.
        ops_per_s: Throughput (concurrent run: appends per second of wall
            time; else one operation after another).
        wall_s: Wall time of the timed part.
        round_trips: Network round trips of one operation (None: in-process
            backend or not counted).
        speedup_vs_postgres: DatabaseSessionService/PostgreSQL's p50 divided
            by this p50 (concurrent run: this throughput divided by its).
        errors: Operations that raised.
        stale_reloads: StaleSessionError reloads.
        first_error: Description of the first error.
        reference: True for an in-process backend's loopback numbers repeated
            next to delayed runs (it has no network to delay).
        concurrency: Coroutines of the concurrent run.
        gc_full_collections: Full (generation 2) garbage collections during
            the timed part; each stalls the operation it lands in.
        gc_max_pause_ms: The longest of those pauses.
        gc_total_pause_ms: All garbage collection pauses together.
        latencies_ms: Every timed latency (raw data).
    """

    backend: str
    label: str
    workload: str
    history: int
    delay_ms: float
    ops: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    ops_per_s: float | None = None
    wall_s: float = 0.0
    round_trips: int | None = None
    speedup_vs_postgres: float | None = None
    errors: int = 0
    stale_reloads: int = 0
    first_error: str | None = None
    reference: bool = False
    concurrency: int | None = None
    gc_full_collections: int = 0
    gc_max_pause_ms: float = 0.0
    gc_total_pause_ms: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)


@dataclass
class SetupInfo:
    """What building one backend's session histories cost (not measured)."""

    backend: str
    sessions: int
    events: int
    seconds: float


@dataclass
class BenchRun:
    """Everything one run produced.

    Attributes:
        config: What was run.
        results: One entry per backend, workload, history and delay.
        setups: History building cost per backend.
        proxy_overhead: `measure_proxy_overhead` per delay, with
            ``delay_ms`` added.
        servers: Server versions (``redis``, ``postgres``) and whether the
            benchmark started them.
        started_at: ISO 8601 UTC start time.
        elapsed_s: Wall time of the whole run.
    """

    config: BenchConfig
    results: list[Result] = field(default_factory=list)
    setups: list[SetupInfo] = field(default_factory=list)
    proxy_overhead: list[dict[str, float]] = field(default_factory=list)
    servers: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    elapsed_s: float = 0.0

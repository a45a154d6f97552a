"""What a benchmark run measures: backends, workloads, sizes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .backends import BACKENDS

__all__ = ["ALL_WORKLOADS", "BenchConfig"]

ALL_WORKLOADS = ("chat_turn", "append", "recent", "concurrent")


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and choices of one run; the defaults are the full benchmark.

    Attributes:
        histories: History lengths of the chat turn. The append runs at the
            smallest and largest, the ``num_recent_events`` read at the
            largest, unless `append_histories` / `recent_histories` say.
        append_histories: History lengths of the append-only runs.
        recent_histories: History lengths of the recent-events read.
        delays_ms: One-way delays of the network runs.
        backends: Backend keys (see `BACKENDS`).
        workloads: Workload keys to run (see `ALL_WORKLOADS`).
        network: Whether to run the delayed (network) runs at all.
        count_round_trips: Whether to count round trips per operation.
        ops: Timed operations per run at loopback (histories below
            `large_history`); append runs time twice as many.
        ops_large: The same at `large_history` events and more.
        large_history: Where a history counts as large.
        delay_ops: Timed operations per delayed run.
        delay_ops_large: The same at a large history.
        recent_ops: Timed ``num_recent_events`` reads.
        concurrency: Sessions, each with its own coroutine, in the
            concurrent run.
        concurrency_ops: Timed appends of the concurrent run, in total.
        concurrency_history: Events each concurrent session starts with.
        warmup: Untimed operations before each timed run.
        redis_url: Redis to use; None: ``REDIS_URL`` or a local server.
        database_url: PostgreSQL (``postgresql+asyncpg://``) to use; None:
            ``DATABASE_URL`` or a local server.
    """

    histories: tuple[int, ...] = (10, 100, 1000)
    append_histories: tuple[int, ...] | None = None
    recent_histories: tuple[int, ...] | None = None
    delays_ms: tuple[float, ...] = (0.25, 1.0)
    backends: tuple[str, ...] = tuple(BACKENDS)
    workloads: tuple[str, ...] = ALL_WORKLOADS
    network: bool = True
    count_round_trips: bool = True
    ops: int = 100
    ops_large: int = 20
    large_history: int = 1000
    delay_ops: int = 30
    delay_ops_large: int = 8
    recent_ops: int = 200
    concurrency: int = 50
    concurrency_ops: int = 2000
    concurrency_history: int = 10
    warmup: int = 2
    redis_url: str | None = None
    database_url: str | None = None

    @classmethod
    def quick(cls, **changes: Any) -> BenchConfig:
        """A run of seconds: two short histories, few operations."""
        base = cls(
            histories=(10, 100),
            ops=5,
            ops_large=3,
            delay_ops=3,
            delay_ops_large=2,
            recent_ops=10,
            concurrency=10,
            concurrency_ops=100,
            warmup=1,
        )
        return dataclasses.replace(base, **changes)

    def __post_init__(self) -> None:
        unknown = [b for b in self.backends if b not in BACKENDS]
        if unknown:
            raise ValueError(f"unknown backends {unknown}")
        bad = [w for w in self.workloads if w not in ALL_WORKLOADS]
        if bad:
            raise ValueError(f"unknown workloads {bad}")
        if not self.histories or min(self.histories) < 1:
            raise ValueError("histories must be positive")
        if any(d < 0 for d in self.delays_ms):
            raise ValueError("delays must be >= 0")

    def append_at(self) -> tuple[int, ...]:
        """History lengths of the append-only runs."""
        if self.append_histories is not None:
            return self.append_histories
        return tuple(sorted({min(self.histories), max(self.histories)}))

    def recent_at(self) -> tuple[int, ...]:
        """History lengths of the ``num_recent_events`` reads."""
        if self.recent_histories is not None:
            return self.recent_histories
        return (max(self.histories),)

    def ops_for(self, workload: str, history: int, delayed: bool) -> int:
        """Timed operations of one run."""
        if workload == "recent":
            return self.recent_ops
        large = history >= self.large_history
        if delayed:
            ops = self.delay_ops_large if large else self.delay_ops
        else:
            ops = self.ops_large if large else self.ops
        return ops * 2 if workload == "append" else ops

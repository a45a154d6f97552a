"""A seconds-long benchmark for the end of the demo."""

from __future__ import annotations

from typing import TextIO

from .backends import BACKENDS
from .config import BenchConfig
from .results import Result
from .runner import run_benchmark

__all__ = ["run_quick"]

_BACKENDS = ("redis", "sqlite", "inmemory")
_CHAT_HISTORY = 100
_APPEND_HISTORY = 1000


def _p50(results: list[Result], backend: str, workload: str) -> float | None:
    for result in results:
        if result.backend == backend and result.workload == workload:
            return result.p50_ms
    return None


def _cell(value: float | None) -> str:
    return "failed" if value is None else f"{value:8.2f} ms"


async def run_quick(
    redis_url: str | None = None, *, ops: int = 20, progress: TextIO | None = None
) -> str:
    """Times a chat turn at 100 events and an append at 1,000 events.

    Compares `RedisSessionService`, ``DatabaseSessionService`` on SQLite (a
    temporary file) and ``InMemorySessionService``; no PostgreSQL, no
    network simulation. Takes seconds (building the 1,000-event SQLite
    session dominates).

    Args:
        redis_url: The Redis to use; None: ``REDIS_URL`` or a local
            ``redis-server`` started and stopped here.
        ops: Timed operations per workload.
        progress: Where progress lines go (None: silent).

    Returns:
        A short text summary to print.
    """
    config = BenchConfig(
        histories=(_CHAT_HISTORY,),
        append_histories=(_APPEND_HISTORY,),
        recent_histories=(),
        backends=_BACKENDS,
        workloads=("chat_turn", "append"),
        network=False,
        count_round_trips=False,
        ops=ops,
        ops_large=max(1, ops // 2),  # append runs time twice ops_large
        warmup=2,
        redis_url=redis_url,
    )
    run = await run_benchmark(config, progress=progress)
    chat = f"chat turn @{_CHAT_HISTORY} events"
    append = f"append @{_APPEND_HISTORY:,} events"
    lines = [
        f"Quick benchmark: p50 of {ops} operations each "
        "(full comparison: adk-redis-session bench)",
        f"{'':38}{chat:>24}{append:>24}",
    ]
    for key in _BACKENDS:
        lines.append(
            f"{BACKENDS[key].label:38}"
            f"{_cell(_p50(run.results, key, 'chat_turn')):>24}"
            f"{_cell(_p50(run.results, key, 'append')):>24}"
        )
    for other in ("sqlite", "inmemory"):
        ratios = []
        for workload, name in (("chat_turn", "chat turn"), ("append", "append")):
            ours = _p50(run.results, "redis", workload)
            theirs = _p50(run.results, other, workload)
            if ours and theirs:
                ratio = theirs / ours
                if ratio >= 1:
                    ratios.append(f"{name} {ratio:.1f}x faster")
                else:
                    ratios.append(f"{name} {1 / ratio:.1f}x slower")
        if ratios:
            lines.append(
                f"RedisSessionService vs {BACKENDS[other].label}: {', '.join(ratios)}"
            )
    return "\n".join(lines)

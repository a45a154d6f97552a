"""Smoke test of the benchmark: tiny sizes, every backend, every workload.

Runs against the test session's redis-server and a throwaway PostgreSQL
(skipped when its binaries are missing). Checks that numbers come out and the
reports are written; it never asserts on timings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from adk_redis_session.bench.backends import BACKENDS
from adk_redis_session.bench.config import BenchConfig
from adk_redis_session.bench.report import format_table, render_chart, write_json
from adk_redis_session.bench.runner import run_benchmark
from adk_redis_session.bench.servers import LocalPostgres, postgres_bin_dir
from adk_redis_session.testing import LocalRedisServer

pytestmark = pytest.mark.redis

WORKLOADS = ("chat_turn", "append", "recent", "concurrent")


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    if postgres_bin_dir() is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "apt-get install -y postgresql or run scripts/ensure_postgres.sh"
        )
    with LocalPostgres() as server:
        yield server


def _tiny(redis_url: str, database_url: str) -> BenchConfig:
    return BenchConfig(
        histories=(3,),
        delays_ms=(0.25,),
        ops=3,
        ops_large=2,
        delay_ops=2,
        delay_ops_large=2,
        recent_ops=3,
        concurrency=4,
        concurrency_ops=8,
        concurrency_history=2,
        warmup=1,
        redis_url=redis_url,
        database_url=database_url,
    )


async def test_benchmark_produces_numbers_json_and_chart(
    redis_server: LocalRedisServer, postgres: LocalPostgres, tmp_path: Path
) -> None:
    config = _tiny(redis_server.url, postgres.url)
    run = await run_benchmark(config, progress=None)

    measured = [r for r in run.results if not r.reference]
    seen = {(r.backend, r.workload, r.delay_ms) for r in measured}
    for backend in BACKENDS.values():
        for workload in WORKLOADS:
            assert (backend.key, workload, 0.0) in seen
        if backend.has_network:
            for workload in ("chat_turn", "append"):
                assert (backend.key, workload, 0.25) in seen
        else:
            assert any(
                r.reference and r.backend == backend.key and r.delay_ms == 0.25
                for r in run.results
            )
    for r in measured:
        assert r.errors == 0, (r.backend, r.workload, r.first_error)
        assert r.ops > 0 and len(r.latencies_ms) == r.ops
        assert r.p50_ms is not None and r.p95_ms is not None
        assert r.p99_ms is not None
        assert 0 < r.p50_ms <= r.p95_ms <= r.p99_ms
        assert r.ops_per_s is not None and r.ops_per_s > 0
        assert r.speedup_vs_postgres is not None
        if BACKENDS[r.backend].has_network:
            assert r.round_trips is not None and r.round_trips >= 1
        else:
            assert r.round_trips is None
    for r in measured:
        if r.backend == "redis" and r.workload in ("append", "recent", "concurrent"):
            assert r.round_trips == 1, r
    assert [o["delay_ms"] for o in run.proxy_overhead] == [0.25]
    assert {s.backend for s in run.setups} == set(BACKENDS)
    assert run.servers["redis"] and run.servers["postgres"]

    json_path = tmp_path / "results.json"
    write_json(run, json_path, command="pytest")
    document = json.loads(json_path.read_text())
    assert document["machine"]["command"] == "pytest"
    assert document["machine"]["packages"]["google-adk"]
    assert len(document["results"]) == len(run.results)

    chart = tmp_path / "chart.png"
    render_chart(run, chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 10_000

    table = format_table(run)
    for backend in BACKENDS:
        assert backend in table

    # Servers the benchmark did not start get their data removed again.
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        leftovers = [k async for k in client.scan_iter(match="bench*")]
    finally:
        await client.aclose()
    assert leftovers == []

"""The benchmark's infrastructure: the delay proxy and the throwaway servers."""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from adk_redis_session.bench import servers
from adk_redis_session.bench.proxy import DelayProxy, EchoServer, measure_proxy_overhead
from adk_redis_session.bench.servers import LocalPostgres, postgres_bin_dir
from adk_redis_session.testing import LocalRedisServer


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < size:
        chunk = sock.recv(min(1 << 20, size - got))
        assert chunk, f"connection closed after {got} of {size} bytes"
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _echo_round(port: int, payload: bytes) -> bytes:
    """Sends payload from a thread while reading the echo, then half-closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        data = _recv_exactly(sock, len(payload))
        sender.join(10)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1) == b""  # EOF travels through the proxy both ways
        return data


@pytest.mark.parametrize("process", [False, True], ids=["threads", "process"])
def test_proxy_forwards_large_payloads_both_ways(
    echo: EchoServer, process: bool
) -> None:
    payload = os.urandom(1 << 20)
    with DelayProxy("127.0.0.1", echo.port, delay_ms=0.5, process=process) as proxy:
        assert _echo_round(proxy.port, payload) == payload


def test_proxy_serves_concurrent_connections(echo: EchoServer) -> None:
    results: dict[int, bool] = {}

    def worker(i: int, port: int) -> None:
        payload = os.urandom(200_000 + i)
        results[i] = _echo_round(port, payload) == payload

    with DelayProxy("127.0.0.1", echo.port, delay_ms=0.2, process=False) as proxy:
        threads = [
            threading.Thread(target=worker, args=(i, proxy.port)) for i in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert results == dict.fromkeys(range(6), True)


@pytest.mark.parametrize("process", [False, True], ids=["threads", "process"])
def test_delay_applies_in_both_directions(echo: EchoServer, process: bool) -> None:
    with (
        DelayProxy("127.0.0.1", echo.port, delay_ms=2.0, process=process) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock,
    ):
        for _ in range(5):
            start = time.perf_counter()
            sock.sendall(b"ping")
            assert _recv_exactly(sock, 4) == b"ping"
            assert time.perf_counter() - start >= 0.004


@pytest.mark.parametrize("process", [False, True], ids=["threads", "process"])
def test_stop_closes_open_connections(echo: EchoServer, process: bool) -> None:
    proxy = DelayProxy("127.0.0.1", echo.port, process=process).start()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"x")
        assert _recv_exactly(sock, 1) == b"x"
        proxy.stop()
        assert sock.recv(1) == b""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()


def test_url_for_rewrites_only_host_and_port() -> None:
    proxy = DelayProxy("127.0.0.1", 1)
    proxy.port = 4242
    assert proxy.url_for("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:4242/0"
    assert (
        proxy.url_for("postgresql+asyncpg://postgres:pw@db.example:5432/bench?x=1")
        == "postgresql+asyncpg://postgres:pw@127.0.0.1:4242/bench?x=1"
    )
    with pytest.raises(ValueError):
        proxy.url_for("sqlite:///tmp/x.db")


def test_measure_proxy_overhead_reports_sane_numbers() -> None:
    result = measure_proxy_overhead(0.25, n=50, process=False)
    assert set(result) == {
        "direct_p50_ms",
        "direct_p99_ms",
        "proxied_p50_ms",
        "proxied_p99_ms",
        "expected_added_ms",
        "overhead_p50_ms",
    }
    assert all(math.isfinite(v) for v in result.values())
    assert result["expected_added_ms"] == 0.5
    assert result["proxied_p50_ms"] >= 0.5
    assert 0 < result["direct_p50_ms"] <= result["direct_p99_ms"]


@pytest.mark.redis
async def test_redis_client_through_proxy(redis_server: LocalRedisServer) -> None:
    with DelayProxy("127.0.0.1", redis_server.port, delay_ms=0.5) as proxy:
        client = aioredis.Redis.from_url(proxy.url_for(redis_server.url))
        try:
            assert await client.ping()
            key = f"bench-infra-{os.getpid()}"
            await client.set(key, b"v" * 100_000)
            assert await client.get(key) == b"v" * 100_000
            await client.delete(key)
        finally:
            await client.aclose()


def test_servers_reexports_local_redis_server() -> None:
    assert servers.LocalRedisServer is LocalRedisServer


def test_local_postgres_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "postgres_bin_dir", lambda: None)
    with pytest.raises(RuntimeError, match="apt-get install -y postgresql"):
        LocalPostgres().start()


@pytest.mark.skipif(
    postgres_bin_dir() is None,
    reason="PostgreSQL server binaries (initdb, pg_ctl) not found; "
    "run scripts/ensure_postgres.sh",
)
async def test_local_postgres_starts_serves_and_cleans_up() -> None:
    asyncpg = pytest.importorskip("asyncpg")
    with LocalPostgres() as pg:
        assert pg.url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
        assert pg.url.endswith("/bench")
        data_dir = pg.dir
        assert data_dir is not None and data_dir.is_dir()
        conn = await asyncpg.connect(pg.url.replace("+asyncpg", "", 1))
        try:
            assert await conn.fetchval("select 1") == 1
            assert await conn.fetchval("show fsync") == "on"
        finally:
            await conn.close()
    assert not data_dir.exists()
    assert pg.dir is None

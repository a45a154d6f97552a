"""Fixtures for the memory tests.

``memory`` is parametrized over ADK's ``InMemoryMemoryService`` (the
reference), ``RedisMemoryService`` and ``PostgresMemoryService``, for the
contract all must keep. ``redis_memory`` is ours alone, on the test
redis-server under the test's own key prefix. The postgres runs share one
throwaway PostgreSQL per test session (skipped when its binaries are
missing); each test gets its own tables (its key prefix as table prefix),
dropped afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.memory import InMemoryMemoryService
from google.adk.memory.base_memory_service import BaseMemoryService
from google.adk.sessions.session import Session
from google.genai import types
from sqlalchemy import text

from adk_redis_session.bench.servers import LocalPostgres, postgres_bin_dir
from adk_redis_session.memory_service import RedisMemoryService
from adk_redis_session.pg_memory_service import PostgresMemoryService

MakeEvent = Callable[..., Event]
MakeSession = Callable[..., Session]


NO_POSTGRES = pytest.mark.skipif(
    postgres_bin_dir() is None,
    reason="PostgreSQL server binaries (initdb, pg_ctl) not found; install them "
    "with scripts/ensure_postgres.sh or apt-get install postgresql",
)


@pytest.fixture(
    params=[
        pytest.param("inmemory", id="inmemory"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
        # RedisMemoryService on a local 3-master Redis Cluster.
        pytest.param(
            "redis", id="redis-cluster", marks=[pytest.mark.redis, pytest.mark.cluster]
        ),
        pytest.param("postgres", id="postgres", marks=NO_POSTGRES),
    ]
)
def memory_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def memory_postgres() -> Iterator[LocalPostgres]:
    """A throwaway PostgreSQL for this test session (started on first use)."""
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    with LocalPostgres(database="adk_memory_tests") as server:
        yield server


async def drop_memory_tables(service: PostgresMemoryService) -> None:
    """Drops the service's tables (a test's own, named by its prefix)."""
    names = ", ".join(
        f"{service.table_prefix}_{kind}"
        for kind in ("meta", "users", "entries", "deleted")
    )
    async with service.engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE IF EXISTS {names}"))


@contextlib.asynccontextmanager
async def open_pg_memory(
    server: LocalPostgres, table_prefix: str
) -> AsyncIterator[PostgresMemoryService]:
    """A service with its own tables on ``server``, dropped afterwards."""
    service = PostgresMemoryService(db_url=server.url, table_prefix=table_prefix)
    try:
        yield service
    finally:
        try:
            await drop_memory_tables(service)
        finally:
            await service.aclose()


@pytest.fixture
async def pg_memory(
    memory_postgres: LocalPostgres, key_prefix: str
) -> AsyncIterator[PostgresMemoryService]:
    """``PostgresMemoryService`` on the session's server, own tables per test."""
    async with open_pg_memory(memory_postgres, key_prefix) as service:
        yield service


@pytest.fixture
def postgres_access(
    memory_backend: str, request: pytest.FixtureRequest
) -> LocalPostgres | None:
    """The session's PostgreSQL; None (and no server) for the other backends."""
    if memory_backend != "postgres":
        return None
    server: LocalPostgres = request.getfixturevalue("memory_postgres")
    return server


@pytest.fixture
def redis_access(
    memory_backend: str, request: pytest.FixtureRequest
) -> aioredis.Redis | None:
    """The test redis-server's client; None (and no server) for in-memory runs."""
    if memory_backend != "redis":
        return None
    if request.node.callspec.id.startswith("redis-cluster"):
        cluster_client: aioredis.Redis = request.getfixturevalue("redis_cluster_client")
        return cluster_client
    client: aioredis.Redis = request.getfixturevalue("redis_client")
    return client


@pytest.fixture
async def memory(
    redis_access: aioredis.Redis | None,
    postgres_access: LocalPostgres | None,
    key_prefix: str,
) -> AsyncIterator[BaseMemoryService]:
    """An empty memory service of the parametrized backend."""
    if postgres_access is not None:
        async with open_pg_memory(postgres_access, key_prefix) as service:
            yield service
        return
    if redis_access is None:
        yield InMemoryMemoryService()
        return
    service = RedisMemoryService(client=redis_access, key_prefix=key_prefix)
    try:
        yield service
    finally:
        await service.aclose()


@pytest.fixture
async def redis_memory(
    redis_client: aioredis.Redis, key_prefix: str
) -> AsyncIterator[RedisMemoryService]:
    """Our service on the test server, under this test's prefix."""
    service = RedisMemoryService(client=redis_client, key_prefix=key_prefix)
    try:
        yield service
    finally:
        await service.aclose()


@pytest.fixture
def make_event() -> MakeEvent:
    """Builds a text event; a counter keeps default timestamps increasing."""
    clock = [1_700_000_000.0]

    def make(
        text: str | None = "hello",
        *,
        author: str = "user",
        timestamp: float | None = None,
        parts: list[types.Part] | None = None,
        **fields: Any,
    ) -> Event:
        if timestamp is None:
            clock[0] += 60.0
            timestamp = clock[0]
        if parts is None and text is not None:
            parts = [types.Part(text=text)]
        if parts is not None:
            role = "user" if author == "user" else "model"
            fields["content"] = types.Content(role=role, parts=parts)
        return Event(author=author, invocation_id="inv", timestamp=timestamp, **fields)

    return make


@pytest.fixture
def make_session() -> MakeSession:
    def make(
        events: list[Event],
        *,
        app_name: str = "app",
        user_id: str = "alice",
        session_id: str = "s1",
    ) -> Session:
        return Session(
            id=session_id, app_name=app_name, user_id=user_id, events=list(events)
        )

    return make

"""Fixtures for the memory tests.

``memory`` is parametrized over ADK's ``InMemoryMemoryService`` (the
reference) and ``RedisMemoryService``, for the contract both must keep.
``redis_memory`` is ours alone, on the test redis-server under the test's
own key prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.memory import InMemoryMemoryService
from google.adk.memory.base_memory_service import BaseMemoryService
from google.adk.sessions.session import Session
from google.genai import types

from adk_redis_session.memory_service import RedisMemoryService

MakeEvent = Callable[..., Event]
MakeSession = Callable[..., Session]


@pytest.fixture(
    params=[
        pytest.param("inmemory", id="inmemory"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def memory_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis_access(
    memory_backend: str, request: pytest.FixtureRequest
) -> aioredis.Redis | None:
    """The test redis-server's client; None (and no server) for in-memory runs."""
    if memory_backend != "redis":
        return None
    client: aioredis.Redis = request.getfixturevalue("redis_client")
    return client


@pytest.fixture
async def memory(
    redis_access: aioredis.Redis | None, key_prefix: str
) -> AsyncIterator[BaseMemoryService]:
    """An empty memory service of the parametrized backend."""
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

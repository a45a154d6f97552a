"""Fixtures for the session-service contract: every test runs on every backend.

The reference backend is ADK's own ``InMemorySessionService``; the backend under
test is ``RedisSessionService``, which must behave like ADK's
``DatabaseSessionService`` (and like the in-memory service wherever the database
service is silent). It runs on one redis-server (``redis``, and ``redis-nocache``
without its event cache) and on a local 3-master Redis Cluster
(``redis-cluster``); all three are ``backend == "redis"`` to the tests.
``adk_redis_session`` is imported lazily so the in-memory half of the suite runs
even when the Redis implementation does not import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions import BaseSessionService, InMemorySessionService, Session
from google.adk.sessions.base_session_service import GetSessionConfig
from google.genai import types

MakeEvent = Callable[..., Event]
Reload = Callable[..., Awaitable[Session]]
MakePeer = Callable[[], Awaitable[BaseSessionService]]


@pytest.fixture(
    params=[
        pytest.param("inmemory", id="inmemory"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
        pytest.param("redis", id="redis-nocache", marks=pytest.mark.redis),
        pytest.param(
            "redis", id="redis-cluster", marks=[pytest.mark.redis, pytest.mark.cluster]
        ),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """Which backend this test instance runs against."""
    return str(request.param)


@pytest.fixture
def event_cache_size(request: pytest.FixtureRequest) -> int:
    """The Redis service's event cache: on by default, off for redis-nocache."""
    return 0 if request.node.callspec.id.startswith("redis-nocache") else 10_000


@pytest.fixture
def redis_access(
    backend: str, request: pytest.FixtureRequest
) -> tuple[str, Any] | None:
    """(url, client) of the test redis-server or cluster; None for in-memory.

    A plain fixture, so ``getfixturevalue`` runs outside the event loop and the
    in-memory runs never start a redis-server. The client is a
    ``redis.asyncio.Redis`` or, for ``redis-cluster``, a ``RedisCluster``.
    """
    if backend != "redis":
        return None
    if request.node.callspec.id.startswith("redis-cluster"):
        cluster = request.getfixturevalue("redis_cluster")
        return cluster.url, request.getfixturevalue("redis_cluster_client")
    server = request.getfixturevalue("redis_server")
    client = request.getfixturevalue("redis_client")
    return server.url, client


@pytest.fixture
async def service(
    backend: str,
    redis_access: tuple[str, Any] | None,
    key_prefix: str,
    event_cache_size: int,
) -> AsyncIterator[BaseSessionService]:
    """A fresh, empty session service of the parametrized backend."""
    if redis_access is None:
        yield InMemorySessionService()
        return
    from adk_redis_session import RedisSessionService

    svc = RedisSessionService(
        client=redis_access[1],
        key_prefix=key_prefix,
        event_cache_size=event_cache_size,
    )
    try:
        yield svc
    finally:
        await svc.aclose()


@pytest.fixture
async def make_peer(
    service: BaseSessionService,
    redis_access: tuple[str, Any] | None,
    key_prefix: str,
    event_cache_size: int,
) -> AsyncIterator[MakePeer]:
    """Makes another service instance over the same storage as ``service``.

    For Redis that is a new service on a new connection with the same key
    prefix, as a second process would have. In-memory storage lives inside the
    service object, so the only way to share it is to share the object.
    """
    owned: list[tuple[Any, Any]] = []

    async def make() -> BaseSessionService:
        if redis_access is None:
            return service
        from adk_redis_session import RedisSessionService

        # Same client class (Redis or RedisCluster), new connections.
        client = type(redis_access[1]).from_url(redis_access[0])
        peer = RedisSessionService(
            client=client, key_prefix=key_prefix, event_cache_size=event_cache_size
        )
        owned.append((peer, client))
        return peer

    try:
        yield make
    finally:
        for peer, client in owned:
            await peer.aclose()
            await client.aclose()


@pytest.fixture
def make_event() -> MakeEvent:
    """Builds an event with explicit author and invocation id."""

    def make(
        text: str | None = "hi",
        *,
        state_delta: dict[str, Any] | None = None,
        timestamp: float | None = None,
        author: str = "agent",
        invocation_id: str = "inv-1",
        **fields: Any,
    ) -> Event:
        if text is not None:
            fields["content"] = types.Content(
                role="model", parts=[types.Part(text=text)]
            )
        if timestamp is not None:
            fields["timestamp"] = timestamp
        return Event(
            author=author,
            invocation_id=invocation_id,
            actions=EventActions(state_delta=dict(state_delta or {})),
            **fields,
        )

    return make


@pytest.fixture
def reload(service: BaseSessionService) -> Reload:
    """Reads a session back from ``service``, failing the test if it is gone."""

    async def load(
        session: Session,
        config: GetSessionConfig | None = None,
        via: BaseSessionService | None = None,
    ) -> Session:
        loaded = await (via or service).get_session(
            app_name=session.app_name,
            user_id=session.user_id,
            session_id=session.id,
            config=config,
        )
        assert loaded is not None, f"session {session.id!r} not found"
        return loaded

    return load

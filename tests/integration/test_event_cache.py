"""The event cache on a real server: fewer bytes, never a wrong answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from google.adk.sessions.base_session_service import GetSessionConfig

from adk_redis_session import RedisSessionService
from adk_redis_session.testing import LocalRedisServer

from ._proxy import CountingProxy
from .test_cost import APP, USER, _event

pytestmark = pytest.mark.redis


@pytest.fixture
async def proxy(redis_server: LocalRedisServer) -> AsyncIterator[CountingProxy]:
    p = await CountingProxy(redis_server.port).start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def cached(
    proxy: CountingProxy, key_prefix: str
) -> AsyncIterator[RedisSessionService]:
    client = aioredis.Redis(host="127.0.0.1", port=proxy.port)
    try:
        yield RedisSessionService(client=client, key_prefix=key_prefix)
    finally:
        await client.aclose()


@pytest.fixture
async def writer(redis_client: aioredis.Redis, key_prefix: str) -> RedisSessionService:
    """Another process's view: its own service, no shared cache."""
    return RedisSessionService(
        client=redis_client, key_prefix=key_prefix, event_cache_size=0
    )


async def _history(svc: RedisSessionService, n: int, sid: str = "s"):
    session = await svc.create_session(app_name=APP, user_id=USER, session_id=sid)
    for i in range(n):
        await svc.append_event(session, _event(i))
    return session


async def _get(svc: RedisSessionService, sid: str = "s", config=None):
    got = await svc.get_session(
        app_name=APP, user_id=USER, session_id=sid, config=config
    )
    assert got is not None
    return got


async def test_second_read_fetches_only_new_events(
    cached: RedisSessionService, writer: RedisSessionService, proxy: CountingProxy
) -> None:
    session = await _history(writer, 100)
    await _get(cached)
    proxy.reset()
    await _get(cached)
    unchanged = proxy.reset()
    await writer.append_event(session, _event(100))
    proxy.reset()
    after_one = await _get(cached)
    one_new = proxy.reset()
    full = await _get(writer)
    assert after_one.events == full.events
    assert len(after_one.events) == 101
    assert unchanged.round_trips == one_new.round_trips == 1
    assert unchanged.bytes_received < 1000  # state and metadata, no events
    event_bytes = len(_event(100).model_dump_json(exclude_none=True))
    assert (
        event_bytes
        < one_new.bytes_received - unchanged.bytes_received
        < 2 * (event_bytes)
    )


async def test_own_appends_are_not_fetched_back(
    cached: RedisSessionService, proxy: CountingProxy
) -> None:
    session = await _history(cached, 10)
    await _get(cached)
    await cached.append_event(session, _event(10))
    await cached.append_event(session, _event(11))
    proxy.reset()
    got = await _get(cached)
    assert [e.id for e in got.events] == [e.id for e in session.events]
    assert proxy.reset().bytes_received < 1000


async def test_cached_reads_return_independent_copies(
    cached: RedisSessionService,
) -> None:
    await _history(cached, 5)
    for _ in range(3):  # cold, promoted, copied
        got = await _get(cached)
        got.events[0].content.parts[0].text = "mutated"
        got.events[0].actions.state_delta["turn"] = -1
        got.events.pop()
    again = await _get(cached)
    assert len(again.events) == 5
    assert again.events[0].content.parts[0].text.startswith("message 000000")
    assert again.events[0].actions.state_delta["turn"] == 0


async def test_recent_and_after_timestamp_reads_use_and_fill_the_cache(
    cached: RedisSessionService, writer: RedisSessionService, proxy: CountingProxy
) -> None:
    session = await _history(writer, 50)
    recent = GetSessionConfig(num_recent_events=5)
    assert [e.id for e in (await _get(cached, config=recent)).events] == [
        e.id for e in session.events[-5:]
    ]
    await writer.append_event(session, _event(50))
    proxy.reset()
    got = await _get(cached, config=recent)
    assert [e.id for e in got.events] == [e.id for e in session.events[-5:]]
    event_bytes = len(_event(50).model_dump_json(exclude_none=True))
    assert proxy.reset().bytes_received < 1000 + 2 * event_bytes
    after = GetSessionConfig(after_timestamp=session.events[47].timestamp)
    got = await _get(cached, config=after)
    assert [e.id for e in got.events] == [e.id for e in session.events[47:]]
    both = GetSessionConfig(after_timestamp=session.events[40].timestamp)
    both.num_recent_events = 3
    got = await _get(cached, config=both)
    assert [e.id for e in got.events] == [e.id for e in session.events[-3:]]


async def test_recreated_session_never_serves_the_old_events(
    cached: RedisSessionService, writer: RedisSessionService
) -> None:
    await _history(writer, 5)
    await _get(cached)
    await writer.delete_session(app_name=APP, user_id=USER, session_id="s")
    fresh = await _history(writer, 3)  # same id, new incarnation
    got = await _get(cached)
    assert [e.id for e in got.events] == [e.id for e in fresh.events]


async def test_out_of_order_append_falls_back_to_full_reads(
    cached: RedisSessionService, writer: RedisSessionService
) -> None:
    session = await _history(writer, 5)
    await _get(cached)
    late = _event(2)  # a timestamp older than the last event's
    late.id = "late"
    await writer.append_event(session, late)
    got = await _get(cached)
    assert [e.timestamp for e in got.events] == sorted(e.timestamp for e in got.events)
    assert len(got.events) == 6
    assert got.events[3].id == "late"  # ties break on id bytes: "l" > hex digits

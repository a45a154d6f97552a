"""What each operation costs on the wire: round trips and bytes.

Counted by a proxy between the client and a real redis-server, so the
numbers are what the network sees, not what the code intends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.base_session_service import GetSessionConfig
from google.genai import types

from adk_redis_session import RedisSessionService
from adk_redis_session.testing import LocalRedisServer

from ._proxy import CountingProxy

pytestmark = pytest.mark.redis

APP, USER = "cost-app", "cost-user"


def _event(i: int) -> Event:
    return Event(
        author="model" if i % 2 else "user",
        invocation_id=f"inv-{i // 2}",
        content=types.Content(
            role="model" if i % 2 else "user",
            parts=[types.Part(text=f"message {i:06d} " + "x" * 200)],
        ),
        actions=EventActions(state_delta={"turn": i, "user:turns": i}),
        timestamp=1_700_000_000.0 + i,  # distinct and increasing
    )


@pytest.fixture
async def proxy(redis_server: LocalRedisServer) -> AsyncIterator[CountingProxy]:
    p = await CountingProxy(redis_server.port).start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def service(
    proxy: CountingProxy, key_prefix: str
) -> AsyncIterator[RedisSessionService]:
    client = aioredis.Redis(host="127.0.0.1", port=proxy.port)
    # The wire protocol without the client-side event cache; the cache's
    # savings are measured by the tests at the end of this module.
    svc = RedisSessionService(client=client, key_prefix=key_prefix, event_cache_size=0)
    try:
        yield svc
    finally:
        await client.aclose()


async def _session_with_history(svc: RedisSessionService, n: int, sid: str):
    session = await svc.create_session(app_name=APP, user_id=USER, session_id=sid)
    for i in range(n):
        await svc.append_event(session, _event(i))
    return session


async def test_append_event_is_one_round_trip(
    service: RedisSessionService, proxy: CountingProxy
) -> None:
    session = await _session_with_history(service, 2, "s1")  # scripts loaded
    proxy.reset()
    await service.append_event(session, _event(2))
    assert proxy.reset().round_trips == 1


async def test_get_session_is_one_round_trip(
    service: RedisSessionService, proxy: CountingProxy
) -> None:
    await _session_with_history(service, 5, "s1")
    for config in (
        None,
        GetSessionConfig(num_recent_events=2),
        GetSessionConfig(num_recent_events=0),
        GetSessionConfig(after_timestamp=1.0),
    ):
        await service.get_session(
            app_name=APP, user_id=USER, session_id="s1", config=config
        )  # loads the script on first use
        proxy.reset()
        got = await service.get_session(
            app_name=APP, user_id=USER, session_id="s1", config=config
        )
        assert got is not None
        assert proxy.reset().round_trips == 1, config


async def test_create_delete_user_state_are_one_round_trip(
    service: RedisSessionService, proxy: CountingProxy
) -> None:
    await _session_with_history(service, 1, "warm")
    await service.delete_session(app_name=APP, user_id=USER, session_id="warm")
    proxy.reset()
    await service.create_session(app_name=APP, user_id=USER, session_id="s2")
    assert proxy.reset().round_trips == 1
    await service.get_user_state(app_name=APP, user_id=USER)
    assert proxy.reset().round_trips == 1
    await service.delete_session(app_name=APP, user_id=USER, session_id="s2")
    assert proxy.reset().round_trips == 1


async def test_list_sessions_round_trips_do_not_grow_with_sessions(
    service: RedisSessionService, proxy: CountingProxy
) -> None:
    for i in range(20):
        await _session_with_history(service, 1, f"s{i}")
    await service.list_sessions(app_name=APP)  # loads the script
    proxy.reset()
    listed = await service.list_sessions(app_name=APP, user_id=USER)
    assert len(listed.sessions) == 20
    assert proxy.reset().round_trips == 2
    listed = await service.list_sessions(app_name=APP)
    assert len(listed.sessions) == 20
    assert proxy.reset().round_trips == 3


async def test_append_bytes_do_not_grow_with_history(
    service: RedisSessionService, proxy: CountingProxy
) -> None:
    short = await _session_with_history(service, 10, "short")
    long = await _session_with_history(service, 1000, "long")
    # Same event content in both sessions: only the history length differs.
    proxy.reset()
    await service.append_event(short, _event(10_000))
    at_10 = proxy.reset()
    await service.append_event(long, _event(10_000))
    at_1000 = proxy.reset()
    assert at_10.round_trips == at_1000.round_trips == 1
    # Only the revision digits in the marker and the lengths of the float
    # texts (timestamps) may differ: a few bytes of ~1.2 KB.
    assert abs(at_1000.bytes_sent - at_10.bytes_sent) <= 0.03 * at_10.bytes_sent
    assert abs(at_1000.bytes_received - at_10.bytes_received) <= 8
    assert at_10.bytes_sent < 4096  # the event and its envelope, no history


async def test_num_recent_events_transfers_only_k_events(
    service: RedisSessionService, proxy: CountingProxy
) -> None:
    await _session_with_history(service, 200, "s1")
    cfg_all = None
    cfg_5 = GetSessionConfig(num_recent_events=5)
    await service.get_session(app_name=APP, user_id=USER, session_id="s1")
    proxy.reset()
    full = await service.get_session(
        app_name=APP, user_id=USER, session_id="s1", config=cfg_all
    )
    full_bytes = proxy.reset().bytes_received
    recent = await service.get_session(
        app_name=APP, user_id=USER, session_id="s1", config=cfg_5
    )
    recent_bytes = proxy.reset().bytes_received
    assert full is not None and recent is not None
    assert len(recent.events) == 5
    per_event = full_bytes / 200
    assert recent_bytes < 8 * per_event  # 5 events plus state and metadata


async def test_after_timestamp_does_not_transfer_older_events(
    service: RedisSessionService, proxy: CountingProxy
) -> None:
    session = await _session_with_history(service, 200, "s1")
    cutoff = session.events[195].timestamp
    await service.get_session(app_name=APP, user_id=USER, session_id="s1")
    proxy.reset()
    full = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
    full_bytes = proxy.reset().bytes_received
    tail = await service.get_session(
        app_name=APP,
        user_id=USER,
        session_id="s1",
        config=GetSessionConfig(after_timestamp=cutoff),
    )
    tail_bytes = proxy.reset().bytes_received
    assert full is not None and tail is not None
    assert [e.id for e in tail.events] == [e.id for e in full.events[195:]]
    assert tail_bytes < 8 * (full_bytes / 200)

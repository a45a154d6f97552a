"""Regressions found in review, each named for what broke."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from google.adk.errors import StaleSessionError
from google.adk.events.event import Event
from google.genai import types

from adk_redis_session import CorruptedDataError, RedisSessionService
from adk_redis_session.testing import LocalRedisServer

from ._proxy import CountingProxy

pytestmark = pytest.mark.redis

APP, USER = "reg-app", "reg-user"


def _event(text: str, ts: float) -> Event:
    return Event(
        author="user",
        invocation_id="inv",
        content=types.Content(role="user", parts=[types.Part(text=text)]),
        timestamp=ts,
    )


@pytest.fixture
def service(redis_client: aioredis.Redis, key_prefix: str) -> RedisSessionService:
    return RedisSessionService(client=redis_client, key_prefix=key_prefix)


async def test_resending_an_old_event_does_not_roll_the_marker_back(
    service: RedisSessionService,
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    first = _event("one", 1000.0)
    await service.append_event(session, first)
    await service.append_event(session, _event("two", 1001.0))
    marker, updated = session._storage_update_marker, session.last_update_time

    await service.append_event(session, first)  # already held: a no-op

    assert (session._storage_update_marker, session.last_update_time) == (
        marker,
        updated,
    )
    await service.append_event(session, _event("three", 1002.0))  # not stale


async def test_stale_copy_resending_the_latest_event_is_still_stale(
    service: RedisSessionService,
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(session, _event("one", 1000.0))
    stale = copy.deepcopy(session)
    missed = _event("missed", 1001.0)
    latest = _event("latest", 1002.0)
    await service.append_event(session, missed)
    await service.append_event(session, latest)

    with pytest.raises(StaleSessionError):
        await service.append_event(stale, copy.deepcopy(latest))
    with pytest.raises(StaleSessionError):
        await service.append_event(stale, _event("next", 1003.0))


async def test_create_retried_after_a_lost_reply_returns_the_session(
    service: RedisSessionService,
) -> None:
    real = service._create_script

    async def reply_lost_then_retried(**kwargs: Any) -> Any:
        await real(**kwargs)  # applied, but the caller never saw the reply
        return await real(**kwargs)

    service._create_script = reply_lost_then_retried  # type: ignore[assignment]
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"k": 1, "user:u": 2}
    )
    service._create_script = real
    assert session.state == {"k": 1, "user:u": 2}
    stored = await service.get_session(
        app_name=APP, user_id=USER, session_id=session.id
    )
    assert stored is not None and stored.state == session.state
    await service.append_event(session, _event("works", 1000.0))


@pytest.mark.parametrize("ttl", [1e15, float(2**63)])
def test_huge_ttl_is_rejected_up_front(
    redis_client: aioredis.Redis, ttl: float
) -> None:
    # It used to pass, then fail in PEXPIREAT after the session was written.
    with pytest.raises(ValueError, match="100 years"):
        RedisSessionService(client=redis_client, ttl_seconds=ttl)


async def test_meta_without_incarnation_is_reported_corrupted(
    service: RedisSessionService, redis_client: aioredis.Redis
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER, session_id="s")
    meta = service._keys.session(APP, USER, "s").meta
    await redis_client.hdel(meta, "inc")
    with pytest.raises(CorruptedDataError, match="'s'"):
        await service.get_session(app_name=APP, user_id=USER, session_id="s")
    with pytest.raises(CorruptedDataError, match="'s'"):
        await service.append_event(session, _event("x", 1000.0))
    with pytest.raises(CorruptedDataError, match="'s'"):
        await service.create_session(app_name=APP, user_id=USER, session_id="s")
    with pytest.raises(CorruptedDataError, match="'s'"):
        await service.list_sessions(app_name=APP, user_id=USER)


async def test_listing_many_expired_sessions_is_not_a_round_trip_each(
    redis_server: LocalRedisServer, key_prefix: str
) -> None:
    proxy = await CountingProxy(redis_server.port).start()
    client = aioredis.Redis(port=proxy.port)
    try:
        svc = RedisSessionService(client=client, key_prefix=key_prefix, ttl_seconds=0.3)
        for n in range(30):
            await svc.create_session(app_name=APP, user_id=USER, session_id=f"s{n}")
        await svc.list_sessions(app_name=APP, user_id=USER)  # scripts loaded
        await asyncio.sleep(0.5)
        keep = RedisSessionService(client=client, key_prefix=key_prefix)
        await keep.create_session(app_name=APP, user_id=USER, session_id="live")
        proxy.reset()
        listed = await svc.list_sessions(app_name=APP, user_id=USER)
        assert [s.id for s in listed.sessions] == ["live"]
        assert proxy.reset().round_trips <= 3
        user = svc._keys.user(APP, USER)
        assert await client.zrange(user.sessions, 0, -1) == [b"live"]
    finally:
        await client.aclose()
        await proxy.stop()


async def test_append_without_ttl_keeps_a_ttl_session_expiring(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    with_ttl = RedisSessionService(
        client=redis_client, key_prefix=key_prefix, ttl_seconds=60
    )
    without = RedisSessionService(client=redis_client, key_prefix=key_prefix)
    session = await with_ttl.create_session(app_name=APP, user_id=USER)
    event = _event("first", 1000.0)
    event.actions.state_delta["k"] = 1
    await without.append_event(session, event)
    for key in with_ttl._keys.session(APP, USER, session.id):
        assert await redis_client.pttl(key) > 0, key


def test_synchronous_client_is_rejected(redis_server: LocalRedisServer) -> None:
    sync = redis.Redis(port=redis_server.port)
    try:
        with pytest.raises(TypeError, match=r"redis\.asyncio"):
            RedisSessionService(client=sync)  # type: ignore[arg-type]
    finally:
        sync.close()


async def test_state_key_that_is_not_utf8_is_reported_corrupted(
    service: RedisSessionService, redis_client: aioredis.Redis
) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="s")
    await redis_client.hset(service._keys.session(APP, USER, "s").state, b"\xff", "1")
    with pytest.raises(CorruptedDataError, match="'s'"):
        await service.get_session(app_name=APP, user_id=USER, session_id="s")

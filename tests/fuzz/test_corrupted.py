"""Corrupted stored data: a clear error naming what is broken; others unaffected.

tests/integration/test_delete_and_errors.py covers garbage events, session
state, user state through ``get_user_state``, metadata and keys of the wrong
type. This file adds the rest: garbage in the shared ``user:`` / ``app:``
state hashes as seen by ``get_session``/``list_sessions``, garbage members
in the session and user indexes, truncated events, and a broken dedupe/order
index; in every case the sessions that do not share the broken key keep
working.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.base_session_service import GetSessionConfig

from adk_redis_session import (
    CorruptedDataError,
    RedisSessionError,
    RedisSessionService,
)
from adk_redis_session._keys import KeySchema

pytestmark = pytest.mark.redis

APP, OTHER_APP = "app", "other-app"


def event(owner: str, timestamp: float | None = None, **delta: object) -> Event:
    made = Event(
        author="agent",
        invocation_id="inv",
        custom_metadata={"owner": owner},
        actions=EventActions(state_delta=dict(delta)),
    )
    if timestamp is not None:
        made.timestamp = timestamp
    return made


@pytest.fixture
async def service(
    redis_client: aioredis.Redis, key_prefix: str
) -> AsyncIterator[RedisSessionService]:
    svc = RedisSessionService(client=redis_client, key_prefix=key_prefix)
    try:
        yield svc
    finally:
        await svc.aclose()


@pytest.fixture
def schema(key_prefix: str) -> KeySchema:
    return KeySchema(key_prefix)


@pytest.fixture
def fresh(redis_client: aioredis.Redis, key_prefix: str) -> RedisSessionService:
    """A second service with no event cache: reads come from Redis."""
    return RedisSessionService(
        client=redis_client, key_prefix=key_prefix, event_cache_size=0
    )


async def populate(service: RedisSessionService) -> None:
    """victim and bystander users in APP, and a user of OTHER_APP."""
    for app, user, sid in (
        (APP, "victim", "v1"),
        (APP, "bystander", "b1"),
        (OTHER_APP, "victim", "o1"),
    ):
        session = await service.create_session(
            app_name=app,
            user_id=user,
            session_id=sid,
            state={"k": sid, "user:u": user, "app:a": app},
        )
        await service.append_event(session, event(sid, k=f"{sid}-2"))


async def assert_readable(
    service: RedisSessionService, app: str, user: str, sid: str
) -> None:
    got = await service.get_session(app_name=app, user_id=user, session_id=sid)
    assert got is not None
    assert [e.custom_metadata for e in got.events] == [{"owner": sid}]
    assert got.state["k"] == f"{sid}-2"


async def test_garbage_in_user_state_names_the_user_and_spares_others(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
) -> None:
    await populate(service)
    await redis_client.hset(schema.user(APP, "victim").state, "u", "{garbage")
    with pytest.raises(CorruptedDataError, match="'victim'") as info:
        await fresh.get_session(app_name=APP, user_id="victim", session_id="v1")
    assert "'u'" in str(info.value)
    with pytest.raises(CorruptedDataError, match="'victim'"):
        await fresh.list_sessions(app_name=APP, user_id="victim")
    # Not shared with the victim: the other user, the same user id elsewhere.
    await assert_readable(fresh, APP, "bystander", "b1")
    await assert_readable(fresh, OTHER_APP, "victim", "o1")
    listed = await fresh.list_sessions(app_name=APP, user_id="bystander")
    assert [s.id for s in listed.sessions] == ["b1"]


async def test_garbage_in_app_state_names_the_app_and_spares_other_apps(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
) -> None:
    await populate(service)
    await redis_client.hset(schema.app(APP).state, "a", b"\xff\xfe not json")
    for user, sid in (("victim", "v1"), ("bystander", "b1")):
        with pytest.raises(CorruptedDataError, match=f"app '{APP}'"):
            await fresh.get_session(app_name=APP, user_id=user, session_id=sid)
    with pytest.raises(CorruptedDataError, match=f"app '{APP}'"):
        await fresh.list_sessions(app_name=APP)
    await assert_readable(fresh, OTHER_APP, "victim", "o1")
    assert len((await fresh.list_sessions(app_name=OTHER_APP)).sessions) == 1


async def test_garbage_member_in_a_users_session_index(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
) -> None:
    await populate(service)
    await redis_client.zadd(schema.user(APP, "victim").sessions, {b"\xc3\x28": 1.0})
    with pytest.raises(CorruptedDataError, match="session index") as info:
        await fresh.list_sessions(app_name=APP, user_id="victim")
    assert "victim" in str(info.value)
    with pytest.raises(CorruptedDataError):
        await fresh.list_sessions(app_name=APP)  # lists every user of APP
    # Reads by id never use the index.
    await assert_readable(fresh, APP, "victim", "v1")
    listed = await fresh.list_sessions(app_name=APP, user_id="bystander")
    assert [s.id for s in listed.sessions] == ["b1"]
    assert len((await fresh.list_sessions(app_name=OTHER_APP)).sessions) == 1


async def test_index_member_without_a_session_is_skipped_and_pruned(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
) -> None:
    await populate(service)
    index = schema.user(APP, "victim").sessions
    await redis_client.zadd(index, {"ghost": 1.0})
    listed = await fresh.list_sessions(app_name=APP, user_id="victim")
    assert [s.id for s in listed.sessions] == ["v1"]
    assert await redis_client.zrange(index, 0, -1) == [b"v1"]


async def test_garbage_member_in_an_apps_user_index(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
) -> None:
    await populate(service)
    await redis_client.zadd(schema.app(APP).users, {b"\xff": "+inf"})
    with pytest.raises(CorruptedDataError, match="user index") as info:
        await fresh.list_sessions(app_name=APP)
    assert APP in str(info.value)
    # Listing one user and reading by id do not use the app's user index.
    listed = await fresh.list_sessions(app_name=APP, user_id="bystander")
    assert [s.id for s in listed.sessions] == ["b1"]
    await assert_readable(fresh, APP, "victim", "v1")
    assert len((await fresh.list_sessions(app_name=OTHER_APP)).sessions) == 1


async def test_truncated_event_names_the_session_and_spares_others(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
) -> None:
    await populate(service)
    victim = await service.get_session(app_name=APP, user_id="victim", session_id="v1")
    assert victim is not None
    await service.append_event(victim, event("v1-late"))
    events_key = schema.session(APP, "victim", "v1").events
    whole = await redis_client.lindex(events_key, 0)
    await redis_client.lset(events_key, 0, whole[: len(whole) // 2])
    with pytest.raises(CorruptedDataError, match="'v1'") as info:
        await fresh.get_session(app_name=APP, user_id="victim", session_id="v1")
    assert "event #0" in str(info.value)
    # The newest event alone is intact and readable.
    got = await fresh.get_session(
        app_name=APP,
        user_id="victim",
        session_id="v1",
        config=GetSessionConfig(num_recent_events=1),
    )
    assert got is not None
    assert [e.custom_metadata for e in got.events] == [{"owner": "v1-late"}]
    # Appending never reads the history: the session still takes events.
    await fresh.append_event(got, event("v1-later"))
    assert await redis_client.llen(events_key) == 3
    # Listing does not read events.
    listed = await fresh.list_sessions(app_name=APP, user_id="victim")
    assert [s.id for s in listed.sessions] == ["v1"]
    await assert_readable(fresh, APP, "bystander", "b1")
    await assert_readable(fresh, OTHER_APP, "victim", "o1")


async def test_stored_event_without_fields_is_reported_corrupted(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
) -> None:
    await populate(service)
    await redis_client.lset(schema.session(APP, "victim", "v1").events, 0, "{}")
    with pytest.raises(CorruptedDataError, match="'v1'"):
        await fresh.get_session(app_name=APP, user_id="victim", session_id="v1")


async def out_of_order_victim(service: RedisSessionService) -> Event:
    """The victim session with events appended out of timestamp order, so
    reads take the order from the timestamp and id indexes."""
    victim = await service.get_session(app_name=APP, user_id="victim", session_id="v1")
    assert victim is not None
    early = event("v1-early", timestamp=1.0)
    await service.append_event(victim, early)
    return early


BROKEN_INDEXES = {
    "dedupe record overwritten": lambda r, keys, early: r.hset(
        keys.ids, early.id, "garbage"
    ),
    "timestamp index entry without its event": lambda r, keys, early: r.zadd(
        keys.ts, {"ghost": 5.0}
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN_INDEXES))
async def test_broken_order_index_fails_the_read_and_spares_others(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
    broken: str,
) -> None:
    await populate(service)
    early = await out_of_order_victim(service)
    keys = schema.session(APP, "victim", "v1")
    await BROKEN_INDEXES[broken](redis_client, keys, early)
    with pytest.raises(RedisSessionError, match="'v1'"):
        await fresh.get_session(app_name=APP, user_id="victim", session_id="v1")
    await assert_readable(fresh, APP, "bystander", "b1")
    await assert_readable(fresh, OTHER_APP, "victim", "o1")


@pytest.mark.parametrize("broken", list(BROKEN_INDEXES))
async def test_broken_order_index_is_reported_corrupted(
    service: RedisSessionService,
    fresh: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
    broken: str,
) -> None:
    await populate(service)
    early = await out_of_order_victim(service)
    keys = schema.session(APP, "victim", "v1")
    await BROKEN_INDEXES[broken](redis_client, keys, early)
    with pytest.raises(CorruptedDataError, match="'v1'"):
        await fresh.get_session(app_name=APP, user_id="victim", session_id="v1")

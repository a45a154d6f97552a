"""Sliding expiry: which keys get a TTL, when it is refreshed, what expiry does.

Waits are short (TTLs of 0.5-1 s) and the tests poll for the expiry they wait
for instead of sleeping a fixed time; where two sessions must be on different
sides of their deadlines they are created half a TTL apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions

from adk_redis_session import RedisSessionService
from adk_redis_session._keys import KeySchema

pytestmark = pytest.mark.redis

APP = "ttl-app"
USER = "alice"

MakeService = Callable[..., Awaitable[RedisSessionService]]


def event(**state: Any) -> Event:
    return Event(
        author="agent",
        invocation_id="inv",
        actions=EventActions(state_delta=dict(state)),
    )


@pytest.fixture
async def make_service(
    redis_client: aioredis.Redis, key_prefix: str
) -> AsyncIterator[MakeService]:
    made: list[RedisSessionService] = []

    async def make(**kwargs: Any) -> RedisSessionService:
        svc = RedisSessionService(client=redis_client, key_prefix=key_prefix, **kwargs)
        made.append(svc)
        return svc

    try:
        yield make
    finally:
        for svc in made:
            await svc.aclose()


@pytest.fixture
def schema(key_prefix: str) -> KeySchema:
    return KeySchema(key_prefix)


async def wait_until_gone(
    client: aioredis.Redis, key: str, timeout: float = 5.0
) -> None:
    """Polls until ``key`` no longer exists (EXISTS also expires it lazily)."""
    deadline = time.monotonic() + timeout
    while await client.exists(key):
        assert time.monotonic() < deadline, f"{key} did not expire in {timeout}s"
        await asyncio.sleep(0.02)


async def full_session(service: RedisSessionService, session_id: str) -> list[str]:
    """Creates a session that has every per-session key; returns those keys."""
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id=session_id, state={"k": 1}
    )
    await service.append_event(session, event(step=1))
    return list(KeySchema(service.key_prefix).session(APP, USER, session_id))


async def test_every_session_and_user_index_key_gets_a_ttl(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(ttl_seconds=5)
    keys = await full_session(service, "s1")
    user = schema.user(APP, USER)
    for key in [*keys, user.sessions, user.expiry]:
        pttl = await redis_client.pttl(key)
        assert 0 < pttl <= 5000, (key, pttl)


async def test_fractional_ttl_is_kept_in_milliseconds(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(ttl_seconds=0.75)
    await service.create_session(app_name=APP, user_id=USER, session_id="s1")
    pttl = await redis_client.pttl(schema.session(APP, USER, "s1").meta)
    assert 0 < pttl <= 750


async def test_append_refreshes_the_ttl_of_every_key(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(ttl_seconds=1.0)
    keys = await full_session(service, "s1")
    user = schema.user(APP, USER)
    keys += [user.sessions, user.expiry]
    await asyncio.sleep(0.5)
    before = {k: await redis_client.pttl(k) for k in keys}
    session = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
    assert session is not None
    await service.append_event(session, event(step=2))
    after = {k: await redis_client.pttl(k) for k in keys}
    for key in keys:
        assert 0 < before[key] < 600, (key, before[key])
        assert after[key] > before[key] + 250, (key, before[key], after[key])
        assert after[key] > 750, (key, after[key])


async def test_get_returns_none_after_expiry(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(ttl_seconds=0.5)
    await full_session(service, "s1")
    await wait_until_gone(redis_client, schema.session(APP, USER, "s1").meta)
    assert (
        await service.get_session(app_name=APP, user_id=USER, session_id="s1") is None
    )


async def test_append_after_expiry_raises_not_found_and_writes_nothing(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(ttl_seconds=0.5)
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id="s1", state={"k": 1}
    )
    keys = schema.session(APP, USER, "s1")
    await wait_until_gone(redis_client, keys.meta)
    with pytest.raises(SessionNotFoundError):
        await service.append_event(session, event(step=1))
    assert await redis_client.exists(*keys) == 0


async def expire_first_of_two(
    make_service: MakeService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
    first: tuple[str, str],
    second: tuple[str, str],
) -> RedisSessionService:
    """Creates (user, session) ``first``, then ``second`` half a TTL later, and
    returns once ``first`` has expired while ``second`` is still alive."""
    service = await make_service(ttl_seconds=1.0)
    await service.create_session(app_name=APP, user_id=first[0], session_id=first[1])
    await asyncio.sleep(0.5)
    await service.create_session(app_name=APP, user_id=second[0], session_id=second[1])
    await wait_until_gone(redis_client, schema.session(APP, *first).meta)
    assert await redis_client.exists(schema.session(APP, *second).meta)
    return service


async def test_list_no_longer_lists_an_expired_session(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await expire_first_of_two(
        make_service, redis_client, schema, (USER, "old"), (USER, "new")
    )
    listed = await service.list_sessions(app_name=APP, user_id=USER)
    assert [s.id for s in listed.sessions] == ["new"]


async def test_list_prunes_an_expired_session_from_the_user_index(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await expire_first_of_two(
        make_service, redis_client, schema, (USER, "old"), (USER, "new")
    )
    user = schema.user(APP, USER)
    assert b"old" in await redis_client.zrange(user.sessions, 0, -1)
    await service.list_sessions(app_name=APP, user_id=USER)
    assert await redis_client.zrange(user.sessions, 0, -1) == [b"new"]
    assert await redis_client.zrange(user.expiry, 0, -1) == [b"new"]


async def test_list_all_users_drops_an_expired_user_from_the_app_index(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await expire_first_of_two(
        make_service, redis_client, schema, ("gone-user", "s1"), ("live-user", "s2")
    )
    users_key = schema.app(APP).users
    assert sorted(await redis_client.zrange(users_key, 0, -1)) == [
        b"gone-user",
        b"live-user",
    ]
    listed = await service.list_sessions(app_name=APP)
    assert [(s.user_id, s.id) for s in listed.sessions] == [("live-user", "s2")]
    assert await redis_client.zrange(users_key, 0, -1) == [b"live-user"]


async def test_user_state_has_no_ttl_by_default(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(ttl_seconds=5)
    await service.create_session(app_name=APP, user_id=USER, state={"user:x": 1})
    assert await redis_client.pttl(schema.user(APP, USER).state) == -1


async def test_user_state_ttl_applies_to_user_state(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(user_state_ttl_seconds=5)
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"user:x": 1}
    )
    key = schema.user(APP, USER).state
    assert 0 < await redis_client.pttl(key) <= 5000
    await service.append_event(session, event(**{"user:y": 2}))
    assert 0 < await redis_client.pttl(key) <= 5000


async def test_app_state_has_no_ttl_by_default(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(ttl_seconds=5, user_state_ttl_seconds=5)
    await service.create_session(app_name=APP, user_id=USER, state={"app:x": 1})
    assert await redis_client.pttl(schema.app(APP).state) == -1


async def test_app_state_ttl_applies_to_app_state(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    service = await make_service(app_state_ttl_seconds=5)
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"app:x": 1}
    )
    key = schema.app(APP).state
    assert 0 < await redis_client.pttl(key) <= 5000
    await service.append_event(session, event(**{"app:y": 2}))
    assert 0 < await redis_client.pttl(key) <= 5000


async def test_no_ttl_means_no_key_expires(
    make_service: MakeService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    schema: KeySchema,
) -> None:
    service = await make_service(ttl_seconds=None)
    session = await service.create_session(
        app_name=APP,
        user_id=USER,
        session_id="s1",
        state={"k": 1, "user:u": 1, "app:a": 1},
    )
    await service.append_event(session, event(k=2))
    await service.list_sessions(app_name=APP)
    keys = {k.decode() for k in await redis_client.keys(f"{key_prefix}*")}
    user, app = schema.user(APP, USER), schema.app(APP)
    written = {*schema.session(APP, USER, "s1"), user.state, user.sessions, *app}
    assert written <= keys
    for key in keys:
        assert await redis_client.pttl(key) == -1, key


async def test_session_without_ttl_stays_listed_after_ttl_session_expires(
    make_service: MakeService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    # E.g. a deployment that turns TTLs on: older sessions keep no TTL.
    forever = await make_service(ttl_seconds=None)
    expiring = await make_service(ttl_seconds=0.3)
    await forever.create_session(app_name=APP, user_id=USER, session_id="keep")
    await expiring.create_session(app_name=APP, user_id=USER, session_id="tmp")
    await wait_until_gone(redis_client, schema.session(APP, USER, "tmp").meta)
    assert await redis_client.exists(schema.session(APP, USER, "keep").meta)
    listed = await forever.list_sessions(app_name=APP, user_id=USER)
    assert [s.id for s in listed.sessions] == ["keep"]

"""Delete leaves nothing behind; outages, corruption and misuse raise clearly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.session import Session
from google.genai import types

from adk_redis_session import (
    CorruptedDataError,
    EventIdConflictError,
    RedisSessionError,
    RedisSessionService,
    StoreUnavailableError,
)
from adk_redis_session._keys import KeySchema
from adk_redis_session.testing import LocalRedisServer, free_port

APP = "app"
USER = "alice"


def event(text: str = "hi", **state: Any) -> Event:
    return Event(
        author="agent",
        invocation_id="inv",
        content=types.Content(role="model", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=dict(state)),
    )


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


async def all_keys(client: aioredis.Redis, prefix: str) -> set[str]:
    return {k.decode() for k in await client.keys(f"{prefix}:*")}


# -- delete ---------------------------------------------------------------


@pytest.mark.redis
async def test_delete_without_shared_state_leaves_no_keys(
    service: RedisSessionService, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id="s1", state={"k": 1}
    )
    await service.append_event(session, event(k=2))
    await service.append_event(session, event())
    assert await all_keys(redis_client, key_prefix)
    await service.delete_session(app_name=APP, user_id=USER, session_id="s1")
    assert await all_keys(redis_client, key_prefix) == set()


@pytest.mark.redis
async def test_delete_with_ttl_leaves_no_keys(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    service = RedisSessionService(
        client=redis_client, key_prefix=key_prefix, ttl_seconds=60
    )
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id="s1", state={"k": 1}
    )
    await service.append_event(session, event(k=2))
    await service.delete_session(app_name=APP, user_id=USER, session_id="s1")
    assert await all_keys(redis_client, key_prefix) == set()


@pytest.mark.redis
async def test_delete_keeps_only_non_empty_user_and_app_state(
    service: RedisSessionService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    schema: KeySchema,
) -> None:
    session = await service.create_session(
        app_name=APP,
        user_id=USER,
        session_id="s1",
        state={"k": 1, "user:u": 1, "app:a": 1},
    )
    await service.append_event(session, event(**{"user:v": 2}))
    await service.delete_session(app_name=APP, user_id=USER, session_id="s1")
    user_state, app_state = schema.user(APP, USER).state, schema.app(APP).state
    assert await all_keys(redis_client, key_prefix) == {user_state, app_state}
    assert await redis_client.hlen(user_state) == 2
    assert await redis_client.hlen(app_state) == 1


@pytest.mark.redis
async def test_delete_of_one_session_keeps_the_users_other_sessions_indexed(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="s1")
    await service.create_session(app_name=APP, user_id=USER, session_id="s2")
    await service.delete_session(app_name=APP, user_id=USER, session_id="s1")
    assert await redis_client.zrange(schema.user(APP, USER).sessions, 0, -1) == [b"s2"]
    assert await redis_client.zrange(schema.app(APP).users, 0, -1) == [USER.encode()]
    listed = await service.list_sessions(app_name=APP)
    assert [s.id for s in listed.sessions] == ["s2"]


# -- unreachable Redis -------------------------------------------------------


def unreachable_url(password: str | None = None) -> tuple[str, int]:
    port = free_port()
    auth = f":{password}@" if password else ""
    return f"redis://{auth}127.0.0.1:{port}/0", port


Operation = Callable[[RedisSessionService], Awaitable[object]]

OPERATIONS: dict[str, Operation] = {
    "create": lambda s: s.create_session(app_name=APP, user_id=USER),
    "get": lambda s: s.get_session(app_name=APP, user_id=USER, session_id="s1"),
    "list_user": lambda s: s.list_sessions(app_name=APP, user_id=USER),
    "list_app": lambda s: s.list_sessions(app_name=APP),
    "delete": lambda s: s.delete_session(app_name=APP, user_id=USER, session_id="s"),
    "user_state": lambda s: s.get_user_state(app_name=APP, user_id=USER),
    "append": lambda s: s.append_event(
        Session(id="s1", app_name=APP, user_id=USER), event()
    ),
}


@pytest.fixture
async def unreachable() -> AsyncIterator[tuple[RedisSessionService, int]]:
    url, port = unreachable_url()
    svc = RedisSessionService.from_url(url, socket_connect_timeout=0.5)
    try:
        yield svc, port
    finally:
        await svc.aclose()


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_unreachable_redis_raises_store_unavailable(
    unreachable: tuple[RedisSessionService, int], operation: str
) -> None:
    service, port = unreachable
    with pytest.raises(StoreUnavailableError) as info:
        await OPERATIONS[operation](service)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert isinstance(info.value, ConnectionError)


async def test_unreachable_get_raises_instead_of_returning_none(
    unreachable: tuple[RedisSessionService, int],
) -> None:
    service, _ = unreachable
    with pytest.raises(StoreUnavailableError):
        await service.get_session(app_name=APP, user_id=USER, session_id="s1")


@pytest.mark.parametrize("operation", ["get", "create", "list_app"])
async def test_unreachable_error_never_shows_the_password(operation: str) -> None:
    url, port = unreachable_url(password="s3cret")
    service = RedisSessionService.from_url(url, socket_connect_timeout=0.5)
    try:
        with pytest.raises(StoreUnavailableError) as info:
            await OPERATIONS[operation](service)
    finally:
        await service.aclose()
    text = f"{info.value} {info.value!r}"
    assert f"127.0.0.1:{port}" in text
    assert "s3cret" not in text


async def test_timeout_raises_store_unavailable() -> None:
    # A listener that accepts the connection but never answers.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    service = RedisSessionService.from_url(
        f"redis://127.0.0.1:{port}/0", socket_timeout=0.3
    )
    try:
        with pytest.raises(StoreUnavailableError) as info:
            await service.get_session(app_name=APP, user_id=USER, session_id="s1")
        assert f"127.0.0.1:{port}" in str(info.value)
    finally:
        await service.aclose()
        server.close()
        await server.wait_closed()


# -- corrupted data ----------------------------------------------------------


@pytest.mark.redis
async def test_garbage_event_raises_corrupted_naming_the_session(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id="victim-session"
    )
    await service.append_event(session, event("one"))
    await service.append_event(session, event("two"))
    await redis_client.lset(
        schema.session(APP, USER, "victim-session").events, 1, "garbage{"
    )
    with pytest.raises(CorruptedDataError, match="victim-session"):
        await service.get_session(
            app_name=APP, user_id=USER, session_id="victim-session"
        )


@pytest.mark.redis
async def test_garbage_event_does_not_affect_another_session(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    for sid in ("victim", "bystander"):
        session = await service.create_session(
            app_name=APP, user_id=USER, session_id=sid
        )
        await service.append_event(session, event(sid))
    await redis_client.lset(schema.session(APP, USER, "victim").events, 0, "garbage")
    loaded = await service.get_session(
        app_name=APP, user_id=USER, session_id="bystander"
    )
    assert loaded is not None
    assert [e.content.parts[0].text for e in loaded.events] == ["bystander"]


@pytest.mark.redis
async def test_invalid_json_in_session_state_raises_corrupted(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    await service.create_session(
        app_name=APP, user_id=USER, session_id="s1", state={"k": 1}
    )
    await redis_client.hset(schema.session(APP, USER, "s1").state, "k", "{not json")
    with pytest.raises(CorruptedDataError, match="s1"):
        await service.get_session(app_name=APP, user_id=USER, session_id="s1")


@pytest.mark.redis
async def test_invalid_json_in_session_state_breaks_list_with_corrupted(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    await service.create_session(
        app_name=APP, user_id=USER, session_id="s1", state={"k": 1}
    )
    await redis_client.hset(schema.session(APP, USER, "s1").state, "k", "{not json")
    with pytest.raises(CorruptedDataError, match="s1"):
        await service.list_sessions(app_name=APP, user_id=USER)


@pytest.mark.redis
async def test_invalid_json_in_user_state_raises_corrupted(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    await service.create_session(app_name=APP, user_id=USER, state={"user:u": 1})
    await redis_client.hset(schema.user(APP, USER).state, "u", "nope")
    with pytest.raises(CorruptedDataError):
        await service.get_user_state(app_name=APP, user_id=USER)


@pytest.mark.redis
@pytest.mark.parametrize("field", ["updated", "rev"])
async def test_corrupted_meta_breaks_list_with_corrupted(
    service: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
    field: str,
) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="s1")
    await redis_client.hset(schema.session(APP, USER, "s1").meta, field, "garbage")
    with pytest.raises(CorruptedDataError):
        await service.list_sessions(app_name=APP, user_id=USER)


@pytest.mark.redis
@pytest.mark.parametrize("field", ["updated", "rev"])
async def test_corrupted_meta_breaks_get_with_corrupted(
    service: RedisSessionService,
    redis_client: aioredis.Redis,
    schema: KeySchema,
    field: str,
) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="s1")
    await redis_client.hset(schema.session(APP, USER, "s1").meta, field, "garbage")
    with pytest.raises(CorruptedDataError):
        await service.get_session(app_name=APP, user_id=USER, session_id="s1")


async def snapshot(client: aioredis.Redis, schema: KeySchema) -> dict[str, object]:
    session = schema.session(APP, USER, "s1")
    user = schema.user(APP, USER)
    app = schema.app(APP)
    return {
        "meta": await client.hgetall(session.meta),
        "state": await client.hgetall(session.state),
        "events": await client.get(session.events),
        "ts": await client.zrange(session.ts, 0, -1, withscores=True),
        "ids": await client.hgetall(session.ids),
        "user_state": await client.hgetall(user.state),
        "user_sessions": await client.zrange(user.sessions, 0, -1, withscores=True),
        "app_state": await client.hgetall(app.state),
        "app_users": await client.zrange(app.users, 0, -1, withscores=True),
    }


@pytest.mark.redis
async def test_events_key_of_wrong_type_fails_append_without_writing(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    session = await service.create_session(
        app_name=APP,
        user_id=USER,
        session_id="s1",
        state={"k": 1, "user:u": 1, "app:a": 1},
    )
    await service.append_event(session, event("one", k=2))
    await redis_client.set(schema.session(APP, USER, "s1").events, "a string")
    before = await snapshot(redis_client, schema)
    with pytest.raises(CorruptedDataError):
        await service.append_event(
            session, event("two", k=3, **{"user:u": 2, "app:a": 2})
        )
    assert await snapshot(redis_client, schema) == before


async def dump_all(client: aioredis.Redis, prefix: str) -> dict[bytes, object]:
    """Every key under ``prefix`` with its serialized value and whether it
    expires: equal dumps mean nothing was written."""
    return {
        key: (await client.dump(key), await client.pttl(key) > 0)
        for key in sorted(await client.keys(f"{prefix}:*"))
    }


# Keys an append writes after the events LIST: a wrong type there is only
# caught by checking every key before the first write.
LATER_KEYS = {
    "ts": lambda schema: schema.session(APP, USER, "s1").ts,
    "ids": lambda schema: schema.session(APP, USER, "s1").ids,
    "meta": lambda schema: schema.session(APP, USER, "s1").meta,
    "state": lambda schema: schema.session(APP, USER, "s1").state,
    "user_state": lambda schema: schema.user(APP, USER).state,
    "user_sessions": lambda schema: schema.user(APP, USER).sessions,
    "app_state": lambda schema: schema.app(APP).state,
}


@pytest.mark.redis
@pytest.mark.parametrize("which", list(LATER_KEYS))
async def test_any_key_of_wrong_type_fails_append_without_writing(
    service: RedisSessionService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    schema: KeySchema,
    which: str,
) -> None:
    session = await service.create_session(
        app_name=APP,
        user_id=USER,
        session_id="s1",
        state={"k": 1, "user:u": 1, "app:a": 1},
    )
    await service.append_event(session, event("one", k=2))
    await redis_client.delete(LATER_KEYS[which](schema))
    await redis_client.set(LATER_KEYS[which](schema), "a string")
    before = await dump_all(redis_client, key_prefix)
    with pytest.raises(CorruptedDataError):
        await service.append_event(
            session, event("two", k=3, **{"user:u": 2, "app:a": 2})
        )
    assert await dump_all(redis_client, key_prefix) == before


SHARED_KEYS = {
    "user_state": lambda schema: schema.user(APP, USER).state,
    "user_sessions": lambda schema: schema.user(APP, USER).sessions,
    "user_expiry": lambda schema: schema.user(APP, USER).expiry,
    "app_state": lambda schema: schema.app(APP).state,
    "app_users": lambda schema: schema.app(APP).users,
}


@pytest.mark.redis
@pytest.mark.parametrize("which", list(SHARED_KEYS))
async def test_shared_key_of_wrong_type_fails_create_without_writing(
    service: RedisSessionService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    schema: KeySchema,
    which: str,
) -> None:
    await redis_client.set(SHARED_KEYS[which](schema), "a string")
    before = await dump_all(redis_client, key_prefix)
    with pytest.raises(CorruptedDataError):
        await service.create_session(
            app_name=APP,
            user_id=USER,
            session_id="s1",
            state={"k": 1, "user:u": 1, "app:a": 1},
        )
    assert await dump_all(redis_client, key_prefix) == before


@pytest.mark.redis
async def test_events_key_of_wrong_type_fails_get_with_corrupted(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER, session_id="s1")
    await service.append_event(session, event("one"))
    await redis_client.set(schema.session(APP, USER, "s1").events, "a string")
    with pytest.raises(CorruptedDataError):
        await service.get_session(app_name=APP, user_id=USER, session_id="s1")


@pytest.mark.redis
async def test_different_event_with_stored_id_raises_conflict(
    service: RedisSessionService,
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    first = await service.append_event(session, event("original"))
    clash = event("something else")
    clash.id = first.id
    with pytest.raises(EventIdConflictError, match=first.id):
        await service.append_event(session, clash)


@pytest.mark.redis
async def test_event_id_conflict_writes_nothing(
    service: RedisSessionService, redis_client: aioredis.Redis, schema: KeySchema
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER, session_id="s1")
    first = await service.append_event(session, event("original", k=1))
    clash = event("something else", k=2)
    clash.id = first.id
    events_key = schema.session(APP, USER, "s1").events
    before = (
        await redis_client.hgetall(schema.session(APP, USER, "s1").meta),
        await redis_client.lrange(events_key, 0, -1),
        await redis_client.hgetall(schema.session(APP, USER, "s1").state),
    )
    with pytest.raises(EventIdConflictError):
        await service.append_event(session, clash)
    after = (
        await redis_client.hgetall(schema.session(APP, USER, "s1").meta),
        await redis_client.lrange(events_key, 0, -1),
        await redis_client.hgetall(schema.session(APP, USER, "s1").state),
    )
    assert after == before


# -- constructor and lifecycle ------------------------------------------------


@pytest.mark.redis
async def test_uri_with_agents_dir_builds_a_working_service(
    redis_server: LocalRedisServer, key_prefix: str
) -> None:
    service = RedisSessionService(
        uri=redis_server.url, agents_dir="x", key_prefix=key_prefix
    )
    try:
        created = await service.create_session(app_name=APP, user_id=USER)
        loaded = await service.get_session(
            app_name=APP, user_id=USER, session_id=created.id
        )
        assert loaded is not None
    finally:
        await service.aclose()


def test_neither_client_nor_uri_raises_value_error() -> None:
    with pytest.raises(ValueError):
        RedisSessionService()


def test_both_client_and_uri_raise_value_error() -> None:
    client = aioredis.Redis()  # connects lazily: no I/O here
    with pytest.raises(ValueError):
        RedisSessionService(client=client, uri="redis://127.0.0.1:1/0")


@pytest.mark.parametrize(
    "option", ["ttl_seconds", "user_state_ttl_seconds", "app_state_ttl_seconds"]
)
@pytest.mark.parametrize("value", [-1, -0.001, float("nan"), float("inf")])
def test_invalid_ttl_raises_value_error(option: str, value: float) -> None:
    with pytest.raises(ValueError):
        RedisSessionService(uri="redis://127.0.0.1:1/0", **{option: value})


@pytest.mark.parametrize("bad", ["", "a{b", "a}b"])
def test_bad_key_prefix_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        RedisSessionService(uri="redis://127.0.0.1:1/0", key_prefix=bad)


async def test_aclose_twice_is_fine() -> None:
    service = RedisSessionService.from_url("redis://127.0.0.1:1/0")
    await service.aclose()
    await service.aclose()


async def client_ids_named(client: aioredis.Redis, name: str) -> set[int]:
    return {int(c["id"]) for c in await client.client_list() if c["name"] == name}


async def wait_for_no_clients_named(
    client: aioredis.Redis, name: str, timeout: float = 3.0
) -> None:
    deadline = time.monotonic() + timeout
    while await client_ids_named(client, name):
        assert time.monotonic() < deadline, f"connection {name!r} still open"
        await asyncio.sleep(0.02)


@pytest.mark.redis
async def test_aclose_keeps_an_injected_client_open(
    redis_server: LocalRedisServer, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    injected = aioredis.Redis.from_url(redis_server.url, client_name="injected")
    try:
        service = RedisSessionService(client=injected, key_prefix=key_prefix)
        await service.create_session(app_name=APP, user_id=USER)
        connection_id = await injected.client_id()
        await service.aclose()
        # Same server-side connection: the service did not disconnect it.
        assert await client_ids_named(redis_client, "injected") == {connection_id}
        assert await injected.client_id() == connection_id
        assert await injected.ping()
    finally:
        await injected.aclose()


@pytest.mark.redis
async def test_aclose_closes_a_client_the_service_created(
    redis_server: LocalRedisServer, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    service = RedisSessionService.from_url(
        redis_server.url, key_prefix=key_prefix, client_name="owned"
    )
    await service.create_session(app_name=APP, user_id=USER)
    assert await client_ids_named(redis_client, "owned")
    await service.aclose()
    await wait_for_no_clients_named(redis_client, "owned")


@pytest.mark.redis
@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_closed_service_raises_redis_session_error(
    redis_client: aioredis.Redis, key_prefix: str, operation: str
) -> None:
    service = RedisSessionService(client=redis_client, key_prefix=key_prefix)
    await service.aclose()
    with pytest.raises(RedisSessionError):
        await OPERATIONS[operation](service)


@pytest.mark.redis
async def test_async_with_closes_the_service(
    redis_server: LocalRedisServer, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    async with RedisSessionService.from_url(
        redis_server.url, key_prefix=key_prefix, client_name="ctx-owned"
    ) as service:
        await service.create_session(app_name=APP, user_id=USER)
        assert await client_ids_named(redis_client, "ctx-owned")
    await wait_for_no_clients_named(redis_client, "ctx-owned")
    with pytest.raises(RedisSessionError):
        await service.get_session(app_name=APP, user_id=USER, session_id="s1")

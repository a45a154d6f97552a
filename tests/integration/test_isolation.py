"""Hostile ids never reach into another tenant's data or another prefix.

Each hostile id is used as app name, user id and session id, next to a
neighbour id a naive key scheme (raw concatenation, glob patterns, percent
decoding, hash tags) would confuse it with. Every read, list and delete must
see only the data of its own ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple

import pytest
import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions

from adk_redis_session import RedisSessionService
from adk_redis_session.testing import LocalRedisServer

pytestmark = pytest.mark.redis

# (hostile id, neighbours a naive scheme would confuse it with)
HOSTILE: list[tuple[str, tuple[str, ...]]] = [
    ("*", ("a",)),
    ("?", ("a",)),
    ("[ab]", ("a", "b")),
    ("{x}", ("x",)),
    ("}{", ("x",)),
    ("a:b", ("a", "b")),
    ("|", ("a",)),
    (" ", ("",)),
    ("\n", ("",)),
    ("\U0001f99c", ("?",)),
    ("x" * 5000, ("x" * 4999,)),
    ("%2A", ("*",)),
    ("", ("%",)),
]
ROLES = ["app", "user", "session"]


def hostile_id(value: tuple[str, tuple[str, ...]]) -> str:
    hostile = value[0]
    return f"len{len(hostile)}" if len(hostile) > 20 else repr(hostile)


class Coords(NamedTuple):
    app: str
    user: str
    session: str


def place(role: str, value: str) -> Coords:
    """Puts ``value`` in one role; the other two ids are fixed."""
    if role == "app":
        return Coords(value, "user", "session")
    if role == "user":
        return Coords("app", value, "session")
    return Coords("app", "user", value)


def marked_event(owner: str) -> Event:
    return Event(
        author="agent",
        invocation_id="inv",
        custom_metadata={"owner": owner},
        actions=EventActions(state_delta={"last": owner}),
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


async def populate(
    service: RedisSessionService, role: str, ids: list[str]
) -> list[Coords]:
    """Creates one session per id in ``role``, each marked with its id."""
    placed = []
    for value in ids:
        coords = place(role, value)
        session = await service.create_session(
            app_name=coords.app,
            user_id=coords.user,
            session_id=coords.session,
            state={"owner": value, "user:owner": value, "app:owner": value},
        )
        await service.append_event(session, marked_event(value))
        placed.append(coords)
    return placed


def scenario_ids(value: tuple[str, tuple[str, ...]]) -> list[str]:
    hostile, neighbours = value
    return [hostile, *neighbours]


HOSTILE_PARAMS = pytest.mark.parametrize("value", HOSTILE, ids=hostile_id)
ROLE_PARAMS = pytest.mark.parametrize("role", ROLES)


@ROLE_PARAMS
@HOSTILE_PARAMS
async def test_get_sees_only_own_session(
    service: RedisSessionService, role: str, value: tuple[str, tuple[str, ...]]
) -> None:
    ids = scenario_ids(value)
    placed = await populate(service, role, ids)
    for owner, coords in zip(ids, placed, strict=True):
        loaded = await service.get_session(
            app_name=coords.app, user_id=coords.user, session_id=coords.session
        )
        assert loaded is not None
        assert (loaded.app_name, loaded.user_id, loaded.id) == coords
        assert loaded.state["owner"] == owner
        assert loaded.state["last"] == owner
        assert [e.custom_metadata for e in loaded.events] == [{"owner": owner}]


@ROLE_PARAMS
@HOSTILE_PARAMS
async def test_list_for_user_sees_only_own_sessions(
    service: RedisSessionService, role: str, value: tuple[str, tuple[str, ...]]
) -> None:
    placed = await populate(service, role, scenario_ids(value))
    for coords in placed:
        listed = await service.list_sessions(app_name=coords.app, user_id=coords.user)
        expected = sorted(
            c.session for c in placed if (c.app, c.user) == (coords.app, coords.user)
        )
        assert sorted(s.id for s in listed.sessions) == expected
        assert {(s.app_name, s.user_id) for s in listed.sessions} == {
            (coords.app, coords.user)
        }


@ROLE_PARAMS
@HOSTILE_PARAMS
async def test_list_for_app_never_returns_other_apps(
    service: RedisSessionService, role: str, value: tuple[str, tuple[str, ...]]
) -> None:
    placed = await populate(service, role, scenario_ids(value))
    for app in {c.app for c in placed}:
        listed = await service.list_sessions(app_name=app)
        got = sorted((s.app_name, s.user_id, s.id) for s in listed.sessions)
        assert got == sorted(c for c in placed if c.app == app)


@pytest.mark.parametrize("role", ["app", "user"])
@HOSTILE_PARAMS
async def test_user_state_sees_only_own_user(
    service: RedisSessionService, role: str, value: tuple[str, tuple[str, ...]]
) -> None:
    ids = scenario_ids(value)
    placed = await populate(service, role, ids)
    for owner, coords in zip(ids, placed, strict=True):
        state = await service.get_user_state(app_name=coords.app, user_id=coords.user)
        assert state == {"owner": owner}


@HOSTILE_PARAMS
async def test_app_state_sees_only_own_app(
    service: RedisSessionService, value: tuple[str, tuple[str, ...]]
) -> None:
    ids = scenario_ids(value)
    placed = await populate(service, "app", ids)
    for owner, coords in zip(ids, placed, strict=True):
        loaded = await service.get_session(
            app_name=coords.app, user_id=coords.user, session_id=coords.session
        )
        assert loaded is not None
        assert loaded.state["app:owner"] == owner


@ROLE_PARAMS
@HOSTILE_PARAMS
@pytest.mark.parametrize("victim", [0, 1], ids=["del-hostile", "del-neighbour"])
async def test_delete_removes_only_its_own_session(
    service: RedisSessionService,
    role: str,
    value: tuple[str, tuple[str, ...]],
    victim: int,
) -> None:
    ids = scenario_ids(value)
    placed = await populate(service, role, ids)
    gone = placed[victim]
    await service.delete_session(
        app_name=gone.app, user_id=gone.user, session_id=gone.session
    )
    assert (
        await service.get_session(
            app_name=gone.app, user_id=gone.user, session_id=gone.session
        )
        is None
    )
    for owner, coords in zip(ids, placed, strict=True):
        if coords == gone:
            continue
        loaded = await service.get_session(
            app_name=coords.app, user_id=coords.user, session_id=coords.session
        )
        assert loaded is not None, f"deleting {gone} removed {coords}"
        assert loaded.state["owner"] == owner
        assert len(loaded.events) == 1
        listed = await service.list_sessions(app_name=coords.app, user_id=coords.user)
        assert coords.session in {s.id for s in listed.sessions}


# Ids that differ only in where a naive scheme would put its separator.
SPLIT_PAIRS = [
    (Coords("a:b", "c", "s"), Coords("a", "b:c", "s")),
    (Coords("app", "a:b", "c"), Coords("app", "a", "b:c")),
    (Coords("a:b", "c", "d"), Coords("a", "b", "c:d")),
    (Coords("a}{b", "c", "s"), Coords("a", "b}{c", "s")),
    (Coords("app", "u}:s:v", "w"), Coords("app", "u", "v}:s:w")),
    (Coords("app", "u", "x:meta"), Coords("app", "u", "x")),
    (Coords("a", "u}:user", "s"), Coords("a", "u", "s")),
]


@pytest.mark.parametrize(("left", "right"), SPLIT_PAIRS, ids=str)
async def test_separator_in_ids_does_not_merge_tenants(
    service: RedisSessionService, left: Coords, right: Coords
) -> None:
    for owner, coords in (("left", left), ("right", right)):
        session = await service.create_session(
            app_name=coords.app,
            user_id=coords.user,
            session_id=coords.session,
            state={"owner": owner, "user:owner": owner},
        )
        await service.append_event(session, marked_event(owner))
    await service.delete_session(
        app_name=left.app, user_id=left.user, session_id=left.session
    )
    loaded = await service.get_session(
        app_name=right.app, user_id=right.user, session_id=right.session
    )
    assert loaded is not None
    assert loaded.state["owner"] == "right"
    assert [e.custom_metadata for e in loaded.events] == [{"owner": "right"}]
    assert await service.get_user_state(app_name=right.app, user_id=right.user) == {
        "owner": "right"
    }
    listed = await service.list_sessions(app_name=right.app, user_id=right.user)
    assert [s.id for s in listed.sessions] == [right.session]


@pytest.mark.parametrize("pattern", ["*", "?", "[ab]", "a*", "*:*", "{a}", "%2A"])
async def test_list_with_glob_user_matches_no_other_user(
    service: RedisSessionService, pattern: str
) -> None:
    for user in ["a", "b", "ab", "a:b", "x"]:
        await service.create_session(app_name="app", user_id=user, session_id="s")
    listed = await service.list_sessions(app_name="app", user_id=pattern)
    assert listed.sessions == []


@pytest.mark.parametrize("pattern", ["*", "?", "[ab]", "a*", ""])
async def test_get_with_glob_ids_matches_nothing(
    service: RedisSessionService, pattern: str
) -> None:
    await service.create_session(app_name="a", user_id="a", session_id="a")
    for role in ROLES:
        probe = Coords("a", "a", "a")._replace(**{role: pattern})
        assert (
            await service.get_session(
                app_name=probe.app, user_id=probe.user, session_id=probe.session
            )
            is None
        )
    assert await service.get_user_state(app_name="a", user_id=pattern) == {}


@pytest.fixture
async def private_db(redis_server: LocalRedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client of an otherwise unused database, emptied first."""
    base = redis_server.url.rsplit("/", 1)[0]
    client = aioredis.Redis.from_url(f"{base}/11")
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@ROLE_PARAMS
@HOSTILE_PARAMS
async def test_every_key_written_starts_with_prefix(
    private_db: aioredis.Redis,
    key_prefix: str,
    role: str,
    value: tuple[str, tuple[str, ...]],
) -> None:
    service = RedisSessionService(
        client=private_db,
        key_prefix=key_prefix,
        ttl_seconds=60,
        user_state_ttl_seconds=60,
        app_state_ttl_seconds=60,
    )
    placed = await populate(service, role, scenario_ids(value))
    await service.list_sessions(app_name=placed[0].app)
    # KEYS is fine in a test on a private database; it sees every key.
    keys = [k.decode() for k in await private_db.keys("*")]
    assert keys
    outside = [k[:80] for k in keys if not k.startswith(f"{key_prefix}:")]
    assert outside == []
    same_prefix = await private_db.keys(f"{key_prefix}*")
    assert len(same_prefix) == len(keys)
    await service.aclose()

"""Fast smoke tests of the service on fakeredis (the real-server suite is the proof).

The scripts use no ``redis.sha1hex`` (the event digest is computed client-side),
so fakeredis runs them unpatched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import fakeredis
import pytest
from google.adk.errors import StaleSessionError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.genai import types

from adk_redis_session import RedisSessionService

APP = "app"
USER = "alice"


def make_event(text: str, **state: object) -> Event:
    return Event(
        author="agent",
        invocation_id="inv-1",
        content=types.Content(role="model", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=dict(state)),
    )


async def fake_client() -> fakeredis.aioredis.FakeRedis:
    return fakeredis.aioredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
async def service() -> AsyncIterator[RedisSessionService]:
    client = await fake_client()
    svc = RedisSessionService(client=client, key_prefix="unit")
    try:
        yield svc
    finally:
        await svc.aclose()
        await client.aclose()


async def test_create_then_get_returns_state(service: RedisSessionService) -> None:
    created = await service.create_session(
        app_name=APP,
        user_id=USER,
        session_id="s1",
        state={"k": 1, "user:u": "x", "app:a": [1, 2]},
    )
    loaded = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
    assert loaded is not None
    assert loaded.id == created.id == "s1"
    assert loaded.state == {"k": 1, "user:u": "x", "app:a": [1, 2]}
    assert loaded.events == []


async def test_append_then_get_returns_events_and_state(
    service: RedisSessionService,
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    first = await service.append_event(session, make_event("one", step=1))
    second = await service.append_event(session, make_event("two", step=2))
    loaded = await service.get_session(
        app_name=APP, user_id=USER, session_id=session.id
    )
    assert loaded is not None
    assert [e.id for e in loaded.events] == [first.id, second.id]
    assert [e.content.parts[0].text for e in loaded.events] == ["one", "two"]
    assert loaded.state == {"step": 2}


async def test_list_returns_sessions_of_user(service: RedisSessionService) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="a")
    await service.create_session(app_name=APP, user_id=USER, session_id="b")
    await service.create_session(app_name=APP, user_id="bob", session_id="c")
    mine = await service.list_sessions(app_name=APP, user_id=USER)
    everyone = await service.list_sessions(app_name=APP)
    assert sorted(s.id for s in mine.sessions) == ["a", "b"]
    assert sorted((s.user_id, s.id) for s in everyone.sessions) == [
        (USER, "a"),
        (USER, "b"),
        ("bob", "c"),
    ]


async def test_delete_removes_session(service: RedisSessionService) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="a")
    await service.create_session(app_name=APP, user_id=USER, session_id="b")
    await service.delete_session(app_name=APP, user_id=USER, session_id="a")
    assert (
        await service.get_session(app_name=APP, user_id=USER, session_id="a")
    ) is None
    listed = await service.list_sessions(app_name=APP, user_id=USER)
    assert [s.id for s in listed.sessions] == ["b"]


async def test_stale_session_object_is_rejected(service: RedisSessionService) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    other = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
    assert other is not None
    await service.append_event(other, make_event("from the other writer"))
    with pytest.raises(StaleSessionError):
        await service.append_event(session, make_event("from the stale writer"))


async def test_user_state_is_readable(service: RedisSessionService) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"user:lang": "de"}
    )
    await service.append_event(session, make_event("x", **{"user:tz": "CET"}))
    assert await service.get_user_state(app_name=APP, user_id=USER) == {
        "lang": "de",
        "tz": "CET",
    }

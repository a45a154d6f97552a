"""Test data for migrations: several apps, users and sessions, written through
ADK's own services, and an independent check that two stores agree."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.platform import time as platform_time
from google.adk.sessions.base_session_service import BaseSessionService
from google.adk.sessions.database_session_service import DatabaseSessionService
from google.adk.sessions.session import Session
from google.genai import types

from adk_redis_session import RedisSessionService

APP = "support"
OTHER_APP = "billing"
#: Sub-microsecond fractions: event timestamps must survive exactly.
BASE = 1_700_000_000.123456789


@contextlib.asynccontextmanager
async def open_service(url: str, prefix: str) -> AsyncIterator[BaseSessionService]:
    """An ADK session service on ``url`` (Redis with ``prefix``, or a database)."""
    if url.startswith("redis"):
        redis = RedisSessionService.from_url(url, key_prefix=prefix, event_cache_size=0)
        try:
            yield redis
        finally:
            await redis.aclose()
    else:
        db = DatabaseSessionService(url)
        try:
            yield db
        finally:
            await db.close()


@contextlib.contextmanager
def clock(ts: float) -> Iterator[None]:
    platform_time.set_time_provider(lambda: ts)
    try:
        yield
    finally:
        platform_time.reset_time_provider()


def text_event(
    ts: float, author: str, text: str, delta: dict[str, Any] | None = None
) -> Event:
    role = "user" if author == "user" else "model"
    return Event(
        invocation_id=f"inv-{int(ts) % 1000}",
        author=author,
        timestamp=ts,
        content=types.Content(role=role, parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=delta or {}),
    )


def call_events(ts: float, delta: dict[str, Any]) -> list[Event]:
    """A function call and its response (the response carries ``delta``)."""
    call = Event(
        invocation_id="inv-tool",
        author="helper",
        timestamp=ts,
        content=types.Content(
            role="model",
            parts=[
                types.Part(
                    function_call=types.FunctionCall(
                        id="call-1", name="lookup", args={"q": "wifi", "n": 3}
                    )
                )
            ],
        ),
    )
    response = Event(
        invocation_id="inv-tool",
        author="helper",
        timestamp=ts + 0.25,
        content=types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        id="call-1",
                        name="lookup",
                        response={"result": "reboot", "steps": [1, 2.5, None]},
                    )
                )
            ],
        ),
        actions=EventActions(state_delta=delta),
    )
    return [call, response]


async def make_session(
    service: BaseSessionService,
    app: str,
    user: str,
    sid: str,
    created: float,
    state: dict[str, Any],
    events: list[Event],
) -> Session:
    with clock(created):
        session = await service.create_session(
            app_name=app, user_id=user, session_id=sid, state=state
        )
    for event in events:
        await service.append_event(session, event)
    return session


async def populate(service: BaseSessionService) -> dict[str, int]:
    """Writes the standard data set; returns its sizes per app."""
    t = BASE
    await make_session(
        service,
        APP,
        "u1",
        "s1",
        t,
        {"topic": "wifi", "user:name": "Ada", "app:plan": "pro", "temp:x": 1},
        [
            text_event(t + 1, "user", "my wifi is down", {"turns": 1}),
            *call_events(
                t + 2, {"ticket": 42, "user:tier": "gold", "temp:scratch": "x"}
            ),
            text_event(t + 3, "helper", "try a reboot", {"app:motd": "hi", "turns": 2}),
        ],
    )
    # No events: only create-time state, and its time.
    await make_session(service, APP, "u1", "s2", t + 4, {"draft": True}, [])
    await make_session(
        service,
        APP,
        "u2",
        "s3",
        t + 5,
        {"topic": "billing", "nested": {"b": 1, "a": [1, 2]}},
        [
            text_event(t + 6, "user", "hello", {"user:name": "Bob"}),
            text_event(t + 7, "helper", "hi Bob", {"topic": "refund", "n": 1.0}),
        ],
    )
    await make_session(
        service,
        APP,
        "u3",
        "s4",
        t + 8,
        {"count": 0},
        [
            text_event(t + 9 + i * 0.001, "user", f"msg {i}", {"count": i + 1})
            for i in range(12)
        ],
    )
    await make_session(
        service,
        OTHER_APP,
        "u1",
        "s5",
        t + 20,
        {"app:currency": "EUR"},
        [text_event(t + 21, "user", "invoice?", {"user:vat": True})],
    )
    return {"sessions": 4, "events": 4 + 0 + 2 + 12, "other_sessions": 1}


def _dump(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "app": session.app_name,
        "user": session.user_id,
        "state": session.state,
        "events": [e.model_dump(mode="json") for e in session.events],
        "timestamps": [e.timestamp for e in session.events],
    }


async def assert_same(
    source: BaseSessionService,
    target: BaseSessionService,
    app: str,
    user: str | None = None,
) -> int:
    """Asserts every source session reads back identically from the target.

    Returns the number of sessions compared.
    """
    listed = await source.list_sessions(app_name=app, user_id=user)
    assert listed.sessions
    for ref in listed.sessions:
        src = await source.get_session(
            app_name=app, user_id=ref.user_id, session_id=ref.id
        )
        dst = await target.get_session(
            app_name=app, user_id=ref.user_id, session_id=ref.id
        )
        assert src is not None
        assert dst is not None, f"{ref.id} missing in the target"
        assert _dump(dst) == _dump(src)
        assert abs(dst.last_update_time - src.last_update_time) <= 1e-6
        assert await target.get_user_state(
            app_name=app, user_id=ref.user_id
        ) == await source.get_user_state(app_name=app, user_id=ref.user_id)
    target_ids = {
        (s.user_id, s.id)
        for s in (await target.list_sessions(app_name=app, user_id=user)).sessions
    }
    assert target_ids == {(s.user_id, s.id) for s in listed.sessions}
    return len(listed.sessions)

"""append_event: what is stored, what is returned, what the live session sees."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions import BaseSessionService, Session
from google.adk.sessions.base_session_service import GetSessionConfig
from google.genai import types

if TYPE_CHECKING:
    from .conftest import MakeEvent, Reload

APP = "contract-app"
USER = "alice"


def rich_event() -> Event:
    """An event using most of what agents put into events."""
    return Event(
        invocation_id="inv-rich",
        author="planner",
        branch="root.planner",
        content=types.Content(
            role="model",
            parts=[
                types.Part(text="Let me look that up: héllo ✓ 😀"),
                types.Part(
                    inline_data=types.Blob(
                        data=b"\x89PNG\x00\xff", mime_type="image/png"
                    )
                ),
                types.Part(
                    text="thinking", thought=True, thought_signature=b"\x01\x02"
                ),
                types.Part(
                    function_call=types.FunctionCall(
                        id="call-1",
                        name="lookup",
                        args={"query": "weather", "days": 3, "units": ["C"]},
                    )
                ),
                types.Part(
                    function_response=types.FunctionResponse(
                        id="call-1",
                        name="lookup",
                        response={"result": {"temp": 21.5, "ok": True}},
                    )
                ),
            ],
        ),
        actions=EventActions(
            state_delta={"topic": "weather", "user:units": "C"},
            artifact_delta={"report.txt": 2},
            transfer_to_agent="forecaster",
            escalate=True,
        ),
        custom_metadata={"trace": {"span": "abc"}, "tags": ["x", "y"]},
        usage_metadata=types.GenerateContentResponseUsageMetadata(
            prompt_token_count=12,
            candidates_token_count=34,
            total_token_count=46,
        ),
        long_running_tool_ids={"call-1"},
    )


async def test_partial_event_is_returned_unchanged_and_not_stored(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    partial = make_event(
        "chunk", partial=True, state_delta={"k": 1, "temp:t": 1, "user:u": 1}
    )
    before = partial.model_copy(deep=True)

    returned = await service.append_event(session, partial)

    assert returned is partial
    assert partial == before  # not even temp-trimmed
    assert session.events == []
    assert session.state == {}
    stored = await reload(session)
    assert stored.events == []
    assert stored.state == {}
    assert await service.get_user_state(app_name=APP, user_id=USER) == {}


async def test_partial_event_for_a_missing_session_is_ignored(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    # Both ADK services return a partial event before looking the session up.
    ghost = Session(app_name=APP, user_id=USER, id="ghost")
    partial = make_event("chunk", partial=True)

    assert await service.append_event(ghost, partial) is partial


async def test_append_returns_the_temp_trimmed_event(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    event = make_event(state_delta={"temp:t": 1, "k": 2})

    returned = await service.append_event(session, event)

    # Both ADK services trim the caller's event in place and return it.
    assert returned is event
    assert returned.actions.state_delta == {"k": 2}


async def test_append_updates_the_live_session(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER, state={"s": 0})
    event = make_event(state_delta={"s": 1, "user:u": 2, "app:a": 3})

    await service.append_event(session, event)

    assert session.events == [event]
    assert session.state == {"s": 1, "user:u": 2, "app:a": 3}


async def test_append_sets_last_update_time_to_the_event_timestamp(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    event = make_event(timestamp=time.time() + 5.0)

    await service.append_event(session, event)

    assert session.last_update_time == pytest.approx(event.timestamp, abs=1e-5)
    stored = await reload(session)
    assert stored.last_update_time == pytest.approx(event.timestamp, abs=1e-5)


async def test_append_to_a_missing_session_raises(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="real")
    ghost = Session(app_name=APP, user_id=USER, id="ghost")

    with pytest.raises(SessionNotFoundError):
        await service.append_event(ghost, make_event())


async def test_append_to_a_deleted_session_raises(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(session, make_event())
    await service.delete_session(app_name=APP, user_id=USER, session_id=session.id)

    with pytest.raises(SessionNotFoundError):
        await service.append_event(session, make_event(state_delta={"k": 1}))

    # Nothing was resurrected by the failed append.
    assert (
        await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
        is None
    )


async def test_append_to_a_missing_session_stores_no_state(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    ghost = Session(app_name=APP, user_id=USER, id="ghost")

    with pytest.raises(SessionNotFoundError):
        await service.append_event(
            ghost, make_event(state_delta={"user:u": 1, "app:a": 1})
        )

    assert await service.get_user_state(app_name=APP, user_id=USER) == {}
    fresh = await service.create_session(app_name=APP, user_id="bob")
    assert fresh.state == {}


async def test_event_round_trip(service: BaseSessionService, reload: Reload) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    event = rich_event()
    expected = event.model_copy(deep=True)

    await service.append_event(session, event)

    (stored_event,) = (await reload(session)).events
    assert stored_event.model_dump(exclude_none=True) == expected.model_dump(
        exclude_none=True
    )
    assert stored_event == expected


async def test_events_are_returned_in_append_order(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    events = [make_event(f"e{n}", invocation_id=f"inv-{n}") for n in range(12)]

    for event in events:
        await service.append_event(session, event)

    assert (await reload(session)).events == events


async def test_created_session_can_append_immediately(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER, state={"s": 0})
    event = make_event(state_delta={"s": 1})

    await service.append_event(session, event)

    stored = await reload(session)
    assert stored.events == [event]
    assert stored.state == {"s": 1}


@pytest.mark.parametrize("source", ["create", "get"])
async def test_consecutive_appends_through_one_object(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent, source: str
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    if source == "get":
        session = await reload(session)
    events = [make_event(f"e{n}", state_delta={"n": n}) for n in range(5)]

    for event in events:
        await service.append_event(session, event)

    stored = await reload(session)
    assert stored.events == events
    assert stored.state == {"n": 4}
    assert session.events == events


async def test_events_with_out_of_order_timestamps_read_back_like_the_database(
    service: BaseSessionService,
    backend: str,
    reload: Reload,
    make_event: MakeEvent,
) -> None:
    # Parallel agents can append an event created earlier after a later one.
    base = time.time() + 100.0
    session = await service.create_session(app_name=APP, user_id=USER)
    for text, offset in [("t1", 1.0), ("t0", 0.0), ("t2", 2.0)]:
        await service.append_event(session, make_event(text, timestamp=base + offset))

    full = await reload(session)
    last_two = await reload(session, GetSessionConfig(num_recent_events=2))

    def texts(s: Session) -> list[str]:
        return [e.content.parts[0].text for e in s.events]

    if backend == "inmemory":
        # InMemory returns events in append order; the database service orders
        # them by timestamp (then id), and the Redis service must follow it.
        assert texts(full) == ["t1", "t0", "t2"]
        assert texts(last_two) == ["t0", "t2"]
        return
    assert texts(full) == ["t0", "t1", "t2"]
    assert texts(last_two) == ["t1", "t2"]

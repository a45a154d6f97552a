"""Stale-writer detection and retry safety of append_event.

ADK's DatabaseSessionService rejects an append through a session object that
storage has moved past (StaleSessionError); the Redis service must too.
InMemorySessionService has no such check: every copy it hands out writes
straight into the one stored session, so a "stale" copy's append is accepted.
Tests here branch on the backend for that and assert what InMemory does.
"""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING

import pytest
from google.adk.errors import StaleSessionError
from google.adk.events.event import Event
from google.adk.sessions import BaseSessionService, Session
from google.adk.sessions.base_session_service import GetSessionConfig

if TYPE_CHECKING:
    from .conftest import MakeEvent, MakePeer, Reload

APP = "contract-app"
USER = "alice"


def without_marker(session: Session, events_upto: int | None = None) -> Session:
    """A hand-built Session for the same ids: no storage marker attached."""
    return Session(
        app_name=session.app_name,
        user_id=session.user_id,
        id=session.id,
        state=dict(session.state),
        events=list(session.events[:events_upto]),
    )


async def test_append_through_a_stale_copy_is_rejected(
    service: BaseSessionService,
    backend: str,
    make_peer: MakePeer,
    reload: Reload,
    make_event: MakeEvent,
) -> None:
    peer = await make_peer()
    created = await service.create_session(app_name=APP, user_id=USER)
    a = await reload(created)
    b = await reload(created, via=peer)
    first = make_event("from a", state_delta={"writer": "a"})
    await service.append_event(a, first)

    late = make_event("from b", state_delta={"writer": "b", "user:u": "b"})
    if backend == "inmemory":
        # No stale detection in InMemory: B's append lands after A's.
        await peer.append_event(b, late)
        assert [e.id for e in (await reload(created)).events] == [first.id, late.id]
        return
    with pytest.raises(StaleSessionError):
        await peer.append_event(b, late)

    stored = await reload(created)
    assert stored.events == [first]
    assert stored.state == {"writer": "a"}
    assert await service.get_user_state(app_name=APP, user_id=USER) == {}
    # Like the database service, the rejected event is not added to B.
    assert b.events == []
    assert "writer" not in b.state


async def test_create_session_object_goes_stale_after_another_write(
    service: BaseSessionService,
    backend: str,
    make_peer: MakePeer,
    reload: Reload,
    make_event: MakeEvent,
) -> None:
    peer = await make_peer()
    created = await service.create_session(app_name=APP, user_id=USER)
    await peer.append_event(await reload(created, via=peer), make_event("other"))

    if backend == "inmemory":
        # No stale detection in InMemory (see module docstring).
        await service.append_event(created, make_event("mine"))
        assert len((await reload(created)).events) == 2
        return
    with pytest.raises(StaleSessionError):
        await service.append_event(created, make_event("mine"))
    assert len((await reload(created)).events) == 1


async def test_reloaded_session_can_append_after_a_stale_error(
    service: BaseSessionService,
    backend: str,
    make_peer: MakePeer,
    reload: Reload,
    make_event: MakeEvent,
) -> None:
    peer = await make_peer()
    created = await service.create_session(app_name=APP, user_id=USER)
    a = await reload(created)
    b = await reload(created, via=peer)
    first = make_event("from a")
    await service.append_event(a, first)
    if backend != "inmemory":  # InMemory never raises here (module docstring).
        with pytest.raises(StaleSessionError):
            await peer.append_event(b, make_event("rejected"))

    b = await reload(created, via=peer)
    second = make_event("from b, reloaded", state_delta={"writer": "b"})
    await peer.append_event(b, second)

    stored = await reload(created)
    assert [e.id for e in stored.events][-1] == second.id
    assert stored.state["writer"] == "b"
    # The session that lost is now the stale one.
    third = make_event("from a again")
    if backend == "inmemory":
        await service.append_event(a, third)
    else:
        with pytest.raises(StaleSessionError):
            await service.append_event(a, third)


async def test_concurrent_appends_through_copies_have_one_winner(
    service: BaseSessionService,
    backend: str,
    make_peer: MakePeer,
    reload: Reload,
    make_event: MakeEvent,
) -> None:
    created = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(created, make_event("before the race"))
    loaded = await reload(created)
    peers = [await make_peer() for _ in range(10)]
    events = [
        make_event(f"racer {n}", state_delta={"winner": n}, invocation_id=f"inv-{n}")
        for n in range(10)
    ]

    # The database service guarantees one winner only with row-level locks
    # (PostgreSQL, MySQL) or within one service instance; Redis must always.
    results = await asyncio.gather(
        *(
            peer.append_event(copy.deepcopy(loaded), event)
            for peer, event in zip(peers, events, strict=True)
        ),
        return_exceptions=True,
    )

    stored = await reload(created)
    if backend == "inmemory":
        # No stale detection in InMemory: every copy's append is accepted.
        assert all(isinstance(r, Event) for r in results), results
        assert len(stored.events) == 11
        return
    winners = [n for n, r in enumerate(results) if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert all(isinstance(r, StaleSessionError) for r in losers), losers
    (winner,) = winners
    assert len(stored.events) == 2
    assert stored.events[-1].id == events[winner].id
    assert stored.state == {"winner": winner}


async def test_retrying_an_append_whose_reply_was_lost_stores_it_once(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    created = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(created, make_event("earlier"))
    loaded = await reload(created)
    as_loaded = copy.deepcopy(loaded)
    event = make_event("retried", state_delta={"k": "v", "user:seen": 1, "temp:t": 1})
    await service.append_event(loaded, event)

    # The caller never saw the reply and retries the same event object with
    # the session as it had it before the first attempt. InMemory dedupes an
    # equal re-delivery; the database service would call this copy stale. The
    # Redis service is required to be retry-safe like InMemory.
    returned = await service.append_event(as_loaded, event)

    assert returned == event
    stored = await reload(created)
    assert [e.id for e in stored.events].count(event.id) == 1
    assert len(stored.events) == 2
    assert stored.state == {"k": "v", "user:seen": 1}


async def test_retry_does_not_block_later_appends(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    created = await service.create_session(app_name=APP, user_id=USER)
    loaded = await reload(created)
    as_loaded = copy.deepcopy(loaded)
    event = make_event("retried")
    await service.append_event(loaded, event)
    await service.append_event(as_loaded, event)

    follow_up = make_event("next")
    await service.append_event(await reload(created), follow_up)

    assert [e.id for e in (await reload(created)).events] == [event.id, follow_up.id]


async def test_retrying_session_object_is_current_afterwards(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    created = await service.create_session(app_name=APP, user_id=USER)
    loaded = await reload(created)
    as_loaded = copy.deepcopy(loaded)
    event = make_event("retried")
    await service.append_event(loaded, event)
    await service.append_event(as_loaded, event)

    # The retry told the caller its event is stored as the latest one, so the
    # same object may go on appending.
    follow_up = make_event("next")
    await service.append_event(as_loaded, follow_up)

    assert [e.id for e in (await reload(created)).events] == [event.id, follow_up.id]


async def test_session_object_from_before_delete_and_recreate_is_stale(
    service: BaseSessionService,
    backend: str,
    reload: Reload,
    make_event: MakeEvent,
) -> None:
    old = await service.create_session(app_name=APP, user_id=USER, session_id="s")
    await service.append_event(old, make_event("old life"))
    await service.delete_session(app_name=APP, user_id=USER, session_id="s")
    new = await service.create_session(app_name=APP, user_id=USER, session_id="s")
    # The new life reaches as many writes as the old object has seen.
    new_event = make_event("new life")
    await service.append_event(new, new_event)

    late = make_event("late write from the old life")
    if backend == "inmemory":
        # No stale detection in InMemory (see module docstring): the write
        # lands in the new session.
        await service.append_event(old, late)
        assert (await reload(new)).events == [new_event, late]
        return
    # The database service's marker is the row's update time, which the new
    # row does not share; the old object must not write into the new session.
    with pytest.raises(StaleSessionError):
        await service.append_event(old, late)
    assert (await reload(new)).events == [new_event]


@pytest.mark.parametrize(
    "config",
    [GetSessionConfig(num_recent_events=0), GetSessionConfig(num_recent_events=1)],
    ids=["no-events", "last-event"],
)
async def test_session_loaded_with_a_config_can_append(
    service: BaseSessionService,
    reload: Reload,
    make_event: MakeEvent,
    config: GetSessionConfig,
) -> None:
    created = await service.create_session(app_name=APP, user_id=USER)
    for n in range(3):
        await service.append_event(created, make_event(f"e{n}"))
    partial_view = await reload(created, config)

    # The database service carries an exact storage marker on every session it
    # returns, so a filtered view is as current as a full one.
    await service.append_event(partial_view, make_event("after"))

    assert len((await reload(created)).events) == 4


async def test_listed_session_can_append(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    created = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(created, make_event("e0"))
    (listed,) = (await service.list_sessions(app_name=APP, user_id=USER)).sessions

    # list_sessions returns sessions without events but with the marker.
    await service.append_event(listed, make_event("after"))

    assert len((await reload(created)).events) == 2


@pytest.mark.parametrize(
    ("appended", "events_kept"),
    [(1, 0), (2, 1)],
    ids=["no-events-known", "older-last-event"],
)
async def test_hand_built_session_behind_storage_is_stale(
    service: BaseSessionService,
    backend: str,
    reload: Reload,
    make_event: MakeEvent,
    appended: int,
    events_kept: int,
) -> None:
    created = await service.create_session(app_name=APP, user_id=USER)
    for n in range(appended):
        await service.append_event(created, make_event(f"e{n}"))
    behind = without_marker(await reload(created), events_upto=events_kept)

    if backend == "inmemory":
        # No stale detection in InMemory (see module docstring).
        await service.append_event(behind, make_event("late"))
        assert len((await reload(created)).events) == appended + 1
        return
    # The database service's fallback for marker-less sessions: storage moved
    # past session.last_update_time and its last event is not the session's.
    with pytest.raises(StaleSessionError):
        await service.append_event(behind, make_event("late"))
    assert len((await reload(created)).events) == appended


@pytest.mark.parametrize("appended", [0, 2], ids=["no-events", "with-events"])
async def test_hand_built_session_matching_storage_is_accepted(
    service: BaseSessionService,
    reload: Reload,
    make_event: MakeEvent,
    appended: int,
) -> None:
    created = await service.create_session(app_name=APP, user_id=USER)
    for n in range(appended):
        await service.append_event(created, make_event(f"e{n}"))
    current = without_marker(await reload(created))
    assert current.last_update_time == 0.0

    event = make_event("next", state_delta={"k": 1})
    await service.append_event(current, event)

    stored = await reload(created)
    assert len(stored.events) == appended + 1
    assert stored.events[-1].id == event.id
    # The service adopted storage's revision: the same object appends again.
    await service.append_event(current, make_event("again"))
    assert len((await reload(created)).events) == appended + 2


async def test_concurrent_appends_through_one_session_object_all_land(
    service: BaseSessionService,
    reload: Reload,
    make_event: MakeEvent,
) -> None:
    # Regression: one Session object shared by concurrent appends used to go
    # stale against itself. DatabaseSessionService serializes appends to one
    # session within a process; every append must land, none twice.
    session = await service.create_session(app_name=APP, user_id=USER)
    events = [make_event(f"m{n}", state_delta={f"k{n}": n}) for n in range(5)]

    await asyncio.gather(*(service.append_event(session, e) for e in events))

    stored = await reload(session)
    assert sorted(e.id for e in stored.events) == sorted(e.id for e in events)
    assert stored.state == {f"k{n}": n for n in range(5)}
    assert [e.id for e in session.events] == [e.id for e in stored.events]

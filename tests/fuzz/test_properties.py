"""Property tests: hostile ids, state and events against the contract.

Hypothesis draws app/user/session ids (any text: unicode, separators,
braces, globs, escapes, empty, NUL), state keys and values (JSON values,
nested, None, large ints, exact floats, any scope prefix) and events (text
parts, function calls and responses with nested args, metadata, deltas).

* Round trip: what ``get_session`` returns is exactly what was created and
  appended: ids, events (as JSON, field by field), and state merged the way
  ADK merges it (``temp:`` dropped, ``app:``/``user:`` shared); listing,
  ``get_user_state`` and delete agree.
* Isolation: two different (app, user, session) triples (often sharing
  parts, or built to collide under a key scheme without escaping: the same
  text cut at a different separator) never see each other's session data;
  ``user:`` state is shared exactly when app and user are equal, ``app:``
  state exactly when the app is.
* Order: events come back in (timestamp, id) order, and ``num_recent_events``
  / ``after_timestamp`` select from that order.

Examples are kept modest (CI budget); ``deadline=None`` because each example
does real round trips.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.adk.events.event import Event
from google.adk.sessions.base_session_service import GetSessionConfig
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adk_redis_session import RedisSessionService

from ._strategies import (
    canonical,
    confusable_triples,
    events,
    ids,
    related_triples,
    scoped,
    states,
    without_temp,
)
from .conftest import Fuzz

pytestmark = pytest.mark.redis

FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

T0 = 1_700_000_000.0


def dump(event: Event) -> str:
    return event.model_dump_json(exclude_none=True)


def same_state(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert canonical(got) == canonical(expected)


@FUZZ
@given(
    app=ids,
    user=ids,
    session_id=ids,
    initial=states,
    appended=st.lists(events(), max_size=4, unique_by=lambda e: e.id),
)
def test_round_trip_is_exact(
    fuzz: Fuzz,
    app: str,
    user: str,
    session_id: str,
    initial: dict[str, Any],
    appended: list[Event],
) -> None:
    fuzz.wipe()

    async def body() -> None:
        service = fuzz.service
        created = await service.create_session(
            app_name=app, user_id=user, session_id=session_id, state=initial
        )
        stored = without_temp(initial)
        assert (created.app_name, created.user_id, created.id) == (
            app,
            user,
            session_id,
        )
        same_state(created.state, stored)
        live = dict(stored)
        for i, event in enumerate(appended):
            event.timestamp = T0 + i
            delta = dict(event.actions.state_delta)
            await service.append_event(created, event)
            stored.update(without_temp(delta))
            live.update(delta)  # temp: reaches the live session only
        same_state(created.state, live)
        for reader in (service, fuzz.fresh_service()):
            got = await reader.get_session(
                app_name=app, user_id=user, session_id=session_id
            )
            assert got is not None
            assert (got.app_name, got.user_id, got.id) == (app, user, session_id)
            # Stored events are the appended ones without their temp: keys.
            assert [dump(e) for e in got.events] == [dump(e) for e in appended]
            same_state(got.state, stored)
        listed = await service.list_sessions(app_name=app, user_id=user)
        assert [s.id for s in listed.sessions] == [session_id]
        same_state(listed.sessions[0].state, stored)
        everyone = await service.list_sessions(app_name=app)
        assert [(s.user_id, s.id) for s in everyone.sessions] == [(user, session_id)]
        same_state(
            await service.get_user_state(app_name=app, user_id=user),
            scoped(stored, "user:"),
        )
        await service.delete_session(app_name=app, user_id=user, session_id=session_id)
        assert (
            await service.get_session(app_name=app, user_id=user, session_id=session_id)
            is None
        )
        assert (await service.list_sessions(app_name=app)).sessions == []

    fuzz.run(body())


@FUZZ
@given(pair=st.one_of(related_triples(), confusable_triples()))
def test_isolation_between_two_id_triples(
    fuzz: Fuzz, pair: tuple[tuple[str, str, str], ...]
) -> None:
    a, b = pair
    assume(a != b)
    fuzz.wipe()
    owners = {"A": a, "B": b}

    def same_user(x: str, y: str) -> bool:
        return owners[x][:2] == owners[y][:2]

    def same_app(x: str, y: str) -> bool:
        return owners[x][0] == owners[y][0]

    async def body() -> None:
        service = fuzz.service
        for tag, (app, user, sid) in owners.items():
            session = await service.create_session(
                app_name=app,
                user_id=user,
                session_id=sid,
                state={"owner": tag, f"user:u{tag}": tag, f"app:a{tag}": tag},
            )
            event = Event(
                author=tag,
                invocation_id=tag,
                custom_metadata={"owner": tag},
                timestamp=T0,
            )
            event.actions.state_delta = {"last": tag, f"user:lu{tag}": tag}
            await service.append_event(session, event)

        async def check(tag: str) -> None:
            app, user, sid = owners[tag]
            got = await fuzz.fresh_service().get_session(
                app_name=app, user_id=user, session_id=sid
            )
            assert got is not None
            assert [e.author for e in got.events] == [tag]
            expected: dict[str, Any] = {"owner": tag, "last": tag}
            for other in owners:
                if same_user(tag, other):
                    expected[f"user:u{other}"] = other
                    expected[f"user:lu{other}"] = other
                if same_app(tag, other):
                    expected[f"app:a{other}"] = other
            assert got.state == expected
            listed = await service.list_sessions(app_name=app, user_id=user)
            assert sorted(s.id for s in listed.sessions) == sorted(
                owners[o][2] for o in owners if same_user(tag, o)
            )
            everyone = await service.list_sessions(app_name=app)
            assert sorted((s.user_id, s.id) for s in everyone.sessions) == sorted(
                owners[o][1:] for o in owners if same_app(tag, o)
            )

        await check("A")
        await check("B")
        app, user, sid = a
        await service.delete_session(app_name=app, user_id=user, session_id=sid)
        assert (
            await service.get_session(app_name=app, user_id=user, session_id=sid)
            is None
        )
        app, user, sid = b
        got = await service.get_session(app_name=app, user_id=user, session_id=sid)
        assert got is not None
        assert [e.author for e in got.events] == ["B"]
        assert got.state["owner"] == "B"

    fuzz.run(body())


@FUZZ
@given(
    stamps=st.lists(
        st.sampled_from([T0, T0 + 0.5, T0 + 1, T0 + 1e-6, T0 - 3]), max_size=8
    ),
    event_ids=st.lists(
        st.text(min_size=1, max_size=6), min_size=8, max_size=8, unique=True
    ),
    recent=st.integers(min_value=0, max_value=9),
    after=st.sampled_from([None, T0 - 3, T0, T0 + 0.5, T0 + 2]),
)
def test_events_come_back_in_timestamp_id_order(
    fuzz: Fuzz,
    stamps: list[float],
    event_ids: list[str],
    recent: int,
    after: float | None,
) -> None:
    fuzz.wipe()

    async def body() -> None:
        service: RedisSessionService = fuzz.service
        session = await service.create_session(
            app_name="order", user_id="u", session_id="s"
        )
        sent = []
        for stamp, event_id in zip(stamps, event_ids[: len(stamps)], strict=True):
            event = Event(id=event_id, author="a", timestamp=stamp)
            await service.append_event(session, event)
            sent.append(event)
        order = sorted(sent, key=lambda e: (e.timestamp, e.id.encode()))
        for reader in (service, fuzz.fresh_service()):
            got = await reader.get_session(
                app_name="order", user_id="u", session_id="s"
            )
            assert got is not None
            assert [e.id for e in got.events] == [e.id for e in order]
            got = await reader.get_session(
                app_name="order",
                user_id="u",
                session_id="s",
                config=GetSessionConfig(
                    num_recent_events=recent, after_timestamp=after
                ),
            )
            assert got is not None
            expected = [e for e in order if after is None or e.timestamp >= after]
            expected = expected[max(0, len(expected) - recent) :] if recent else []
            assert [e.id for e in got.events] == [e.id for e in expected]

    fuzz.run(body())


def test_ids_that_are_not_unicode_are_refused_before_any_write(fuzz: Fuzz) -> None:
    async def body() -> None:
        for app, user, sid in (
            ("\ud800", "u", "s"),
            ("a", "x\udfff", "s"),
            ("a", "u", "\ud83d"),
        ):
            with pytest.raises(ValueError, match="not valid Unicode"):
                await fuzz.service.create_session(
                    app_name=app, user_id=user, session_id=sid
                )
        assert await fuzz.keys() == []

    fuzz.run(body())

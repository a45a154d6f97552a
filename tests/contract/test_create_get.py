"""create_session and get_session."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.sessions import BaseSessionService

if TYPE_CHECKING:
    from .conftest import MakeEvent, Reload

APP = "contract-app"
USER = "alice"


async def test_create_generates_id_when_none_given(
    service: BaseSessionService, reload: Reload
) -> None:
    first = await service.create_session(app_name=APP, user_id=USER)
    second = await service.create_session(app_name=APP, user_id=USER)

    assert first.id
    assert second.id
    assert first.id != second.id
    assert (await reload(first)).id == first.id


async def test_create_keeps_given_id(
    service: BaseSessionService, reload: Reload
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id="my-session"
    )

    assert (session.app_name, session.user_id, session.id) == (
        APP,
        USER,
        "my-session",
    )
    assert session.events == []
    assert (await reload(session)).id == "my-session"


async def test_create_duplicate_id_raises_already_exists(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    original = await service.create_session(
        app_name=APP, user_id=USER, session_id="dup", state={"k": "original"}
    )
    await service.append_event(original, make_event())

    with pytest.raises(AlreadyExistsError):
        await service.create_session(
            app_name=APP, user_id=USER, session_id="dup", state={"k": "second"}
        )

    # The failed create must not have touched the existing session.
    stored = await reload(original)
    assert stored.state == {"k": "original"}
    assert len(stored.events) == 1


@pytest.mark.parametrize(
    ("app_name", "user_id"),
    [("other-app", USER), (APP, "bob")],
    ids=["other-app", "other-user"],
)
async def test_same_id_under_another_app_or_user_is_a_new_session(
    service: BaseSessionService, reload: Reload, app_name: str, user_id: str
) -> None:
    first = await service.create_session(
        app_name=APP, user_id=USER, session_id="shared-id", state={"k": 1}
    )
    second = await service.create_session(
        app_name=app_name, user_id=user_id, session_id="shared-id", state={"k": 2}
    )

    assert (await reload(first)).state == {"k": 1}
    assert (await reload(second)).state == {"k": 2}


async def test_concurrent_creates_of_same_id_exactly_one_wins(
    service: BaseSessionService, reload: Reload
) -> None:
    results = await asyncio.gather(
        *(
            service.create_session(
                app_name=APP, user_id=USER, session_id="race", state={"n": n}
            )
            for n in range(10)
        ),
        return_exceptions=True,
    )

    winners = [n for n, r in enumerate(results) if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert len(losers) == 9
    assert all(isinstance(r, AlreadyExistsError) for r in losers), losers
    stored = await reload(results[winners[0]])
    assert stored.state == {"n": winners[0]}


async def test_create_splits_initial_state_into_scopes(
    service: BaseSessionService, reload: Reload
) -> None:
    session = await service.create_session(
        app_name=APP,
        user_id=USER,
        state={"app:a": "app-value", "user:u": "user-value", "s": "session-value"},
    )
    expected = {"app:a": "app-value", "user:u": "user-value", "s": "session-value"}

    assert session.state == expected
    assert (await reload(session)).state == expected
    assert await service.get_user_state(app_name=APP, user_id=USER) == {
        "u": "user-value"
    }
    # Another user of the same app sees only the app-scoped part.
    bob = await service.create_session(app_name=APP, user_id="bob")
    assert (await reload(bob)).state == {"app:a": "app-value"}
    # Another session of the same user sees app and user scopes, not "s".
    again = await service.create_session(app_name=APP, user_id=USER)
    assert (await reload(again)).state == {
        "app:a": "app-value",
        "user:u": "user-value",
    }


async def test_create_drops_temp_keys_from_initial_state(
    service: BaseSessionService, reload: Reload
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"temp:t": 1, "s": 2}
    )

    assert session.state == {"s": 2}
    assert (await reload(session)).state == {"s": 2}


async def test_create_sets_last_update_time(
    service: BaseSessionService, reload: Reload
) -> None:
    before = time.time()
    session = await service.create_session(app_name=APP, user_id=USER)
    after = time.time()

    assert session.last_update_time > 0
    # Allow for storage rounding timestamps to microseconds.
    assert before - 0.001 <= session.last_update_time <= after + 0.001
    stored = await reload(session)
    assert stored.last_update_time == pytest.approx(session.last_update_time, abs=1e-5)


async def test_created_session_is_a_copy(
    service: BaseSessionService, reload: Reload
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"s": {"nested": 1}, "user:u": [1]}
    )

    session.state["s"]["nested"] = 2
    session.state["user:u"].append(2)
    session.state["added"] = True

    assert (await reload(session)).state == {"s": {"nested": 1}, "user:u": [1]}


@pytest.mark.parametrize(
    ("app_name", "user_id", "session_id"),
    [
        ("no-such-app", USER, "s1"),
        (APP, "no-such-user", "s1"),
        (APP, USER, "no-such-session"),
    ],
    ids=["unknown-app", "unknown-user", "unknown-session"],
)
async def test_get_unknown_session_returns_none(
    service: BaseSessionService, app_name: str, user_id: str, session_id: str
) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="s1")

    found = await service.get_session(
        app_name=app_name, user_id=user_id, session_id=session_id
    )

    assert found is None


async def test_get_returns_events_and_merged_state(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"app:a": 1, "user:u": 2, "s": 3}
    )
    first = make_event("one", state_delta={"s": 30})
    second = make_event("two", state_delta={"user:u": 20, "app:b": 4})
    await service.append_event(session, first)
    await service.append_event(session, second)

    stored = await reload(session)

    assert [e.id for e in stored.events] == [first.id, second.id]
    assert stored.state == {"app:a": 1, "app:b": 4, "user:u": 20, "s": 30}
    assert stored.app_name == APP
    assert stored.user_id == USER


async def test_mutating_returned_state_does_not_change_storage(
    service: BaseSessionService, reload: Reload
) -> None:
    session = await service.create_session(
        app_name=APP,
        user_id=USER,
        state={"s": {"nested": [1]}, "app:a": {"x": 1}, "user:u": "u"},
    )
    loaded = await reload(session)

    loaded.state["s"]["nested"].append(2)
    loaded.state["app:a"]["x"] = 2
    loaded.state["user:u"] = "changed"
    loaded.state["added"] = True
    del loaded.state["s"]

    assert (await reload(session)).state == {
        "s": {"nested": [1]},
        "app:a": {"x": 1},
        "user:u": "u",
    }
    assert await service.get_user_state(app_name=APP, user_id=USER) == {"u": "u"}


async def test_mutating_returned_events_does_not_change_storage(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(session, make_event("one", state_delta={"k": 1}))
    await service.append_event(session, make_event("two"))
    loaded = await reload(session)

    loaded.events[0].content.parts[0].text = "mutated"
    loaded.events[0].actions.state_delta["k"] = 99
    loaded.events.pop()

    stored = await reload(session)
    assert len(stored.events) == 2
    assert stored.events[0].content.parts[0].text == "one"
    assert stored.events[0].actions.state_delta == {"k": 1}


async def test_whitespace_in_session_id(
    service: BaseSessionService, backend: str
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id=" padded "
    )

    if backend == "inmemory":
        # InMemory strips whitespace from session ids on every call; the
        # database service (and Redis) keeps the id exactly as given.
        assert session.id == "padded"
        return
    assert session.id == " padded "
    found = await service.get_session(app_name=APP, user_id=USER, session_id=" padded ")
    assert found is not None
    assert found.id == " padded "
    assert (
        await service.get_session(app_name=APP, user_id=USER, session_id="padded")
        is None
    )

"""list_sessions and delete_session."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from google.adk.sessions import BaseSessionService

if TYPE_CHECKING:
    from .conftest import MakeEvent, Reload

APP = "contract-app"
USER = "alice"


async def listed_ids(
    service: BaseSessionService, app_name: str = APP, user_id: str | None = USER
) -> list[str]:
    response = await service.list_sessions(app_name=app_name, user_id=user_id)
    return [s.id for s in response.sessions]


async def test_listed_sessions_carry_no_events(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(session, make_event("one"))
    await service.append_event(session, make_event("two"))

    response = await service.list_sessions(app_name=APP, user_id=USER)

    assert [s.id for s in response.sessions] == [session.id]
    assert response.sessions[0].events == []


async def test_listed_sessions_carry_merged_state(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    alice = await service.create_session(
        app_name=APP, user_id=USER, state={"app:a": 1, "user:u": "alice", "s": 1}
    )
    await service.create_session(
        app_name=APP, user_id="bob", state={"user:u": "bob", "s": 2}
    )
    await service.append_event(alice, make_event(state_delta={"s": 10}))

    response = await service.list_sessions(app_name=APP, user_id=None)

    by_user = {s.user_id: s.state for s in response.sessions}
    assert by_user == {
        USER: {"app:a": 1, "user:u": "alice", "s": 10},
        "bob": {"app:a": 1, "user:u": "bob", "s": 2},
    }


async def test_listed_sessions_carry_ids_and_update_time(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER, session_id="s1")
    event = make_event()
    await service.append_event(session, event)

    (listed,) = (await service.list_sessions(app_name=APP, user_id=USER)).sessions

    assert (listed.app_name, listed.user_id, listed.id) == (APP, USER, "s1")
    assert listed.last_update_time == pytest.approx(event.timestamp, abs=1e-5)


async def test_list_is_ordered_by_last_update_time_oldest_first(
    service: BaseSessionService,
) -> None:
    for session_id in ("c", "a", "b"):
        await service.create_session(app_name=APP, user_id=USER, session_id=session_id)

    assert await listed_ids(service) == ["c", "a", "b"]


async def test_append_moves_a_session_to_the_end_of_the_list(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    oldest = await service.create_session(app_name=APP, user_id=USER, session_id="x")
    await service.create_session(app_name=APP, user_id=USER, session_id="y")
    await service.create_session(app_name=APP, user_id=USER, session_id="z")

    await service.append_event(await reload(oldest), make_event())

    assert await listed_ids(service) == ["y", "z", "x"]
    assert await listed_ids(service, user_id=None) == ["y", "z", "x"]


async def test_list_without_user_returns_all_users_of_that_app_only(
    service: BaseSessionService,
) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="a1")
    await service.create_session(app_name=APP, user_id="bob", session_id="b1")
    await service.create_session(app_name="other-app", user_id=USER, session_id="o1")
    await service.create_session(app_name=APP, user_id=USER, session_id="a2")

    response = await service.list_sessions(app_name=APP)

    assert [(s.user_id, s.id) for s in response.sessions] == [
        (USER, "a1"),
        ("bob", "b1"),
        (USER, "a2"),
    ]


async def test_list_with_user_returns_only_that_users_sessions(
    service: BaseSessionService,
) -> None:
    await service.create_session(app_name=APP, user_id=USER, session_id="a1")
    await service.create_session(app_name=APP, user_id="bob", session_id="b1")
    await service.create_session(app_name="other-app", user_id=USER, session_id="o1")

    assert await listed_ids(service, user_id=USER) == ["a1"]
    assert await listed_ids(service, user_id="bob") == ["b1"]


@pytest.mark.parametrize(
    ("app_name", "user_id"),
    [("no-such-app", None), ("no-such-app", USER), (APP, "no-such-user")],
    ids=["unknown-app-all-users", "unknown-app", "unknown-user"],
)
async def test_list_for_unknown_app_or_user_is_empty(
    service: BaseSessionService, app_name: str, user_id: str | None
) -> None:
    await service.create_session(app_name=APP, user_id=USER)

    response = await service.list_sessions(app_name=app_name, user_id=user_id)

    assert response.sessions == []


async def test_delete_removes_the_session(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(session, make_event())

    await service.delete_session(app_name=APP, user_id=USER, session_id=session.id)

    assert (
        await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
        is None
    )
    assert await listed_ids(service) == []
    assert await listed_ids(service, user_id=None) == []


@pytest.mark.parametrize(
    ("app_name", "user_id", "session_id"),
    [
        ("no-such-app", USER, "s1"),
        (APP, "no-such-user", "s1"),
        (APP, USER, "no-such-session"),
    ],
    ids=["unknown-app", "unknown-user", "unknown-session"],
)
async def test_deleting_an_unknown_session_is_a_no_op(
    service: BaseSessionService,
    reload: Reload,
    app_name: str,
    user_id: str,
    session_id: str,
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id="s1", state={"k": 1}
    )

    await service.delete_session(
        app_name=app_name, user_id=user_id, session_id=session_id
    )

    assert (await reload(session)).state == {"k": 1}
    assert await listed_ids(service) == ["s1"]


async def test_delete_leaves_other_sessions_alone(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    doomed = await service.create_session(app_name=APP, user_id=USER)
    kept = await service.create_session(app_name=APP, user_id=USER, state={"s": "kept"})
    bobs = await service.create_session(app_name=APP, user_id="bob")
    kept_event = make_event("kept")
    await service.append_event(kept, kept_event)
    await service.append_event(doomed, make_event("doomed"))

    await service.delete_session(app_name=APP, user_id=USER, session_id=doomed.id)

    stored = await reload(kept)
    assert stored.state == {"s": "kept"}
    assert stored.events == [kept_event]
    assert (await reload(bobs)).id == bobs.id
    assert await listed_ids(service) == [kept.id]


async def test_delete_keeps_app_and_user_state(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"app:a": 1, "user:u": 2, "s": 3}
    )
    await service.append_event(session, make_event(state_delta={"user:v": 4}))

    await service.delete_session(app_name=APP, user_id=USER, session_id=session.id)

    assert await service.get_user_state(app_name=APP, user_id=USER) == {
        "u": 2,
        "v": 4,
    }
    fresh = await service.create_session(app_name=APP, user_id=USER)
    assert fresh.state == {"app:a": 1, "user:u": 2, "user:v": 4}


async def test_recreating_a_deleted_id_starts_empty(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id="again", state={"s": "old"}
    )
    await service.append_event(session, make_event(state_delta={"t": "old"}))
    await service.delete_session(app_name=APP, user_id=USER, session_id="again")

    recreated = await service.create_session(
        app_name=APP, user_id=USER, session_id="again"
    )

    stored = await reload(recreated)
    assert stored.events == []
    assert stored.state == {}

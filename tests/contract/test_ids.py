"""App names, user ids and session ids are opaque: they never collide."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from google.adk.sessions import BaseSessionService

if TYPE_CHECKING:
    from .conftest import MakeEvent, Reload

# Pairs of (app_name, user_id, session_id) that naive key concatenation with
# ":" (or hash-tag / glob characters) would map onto the same storage.
LOOKALIKES = [
    (("a:b", "c", "s"), ("a", "b:c", "s")),
    (("a", "b", "c:s"), ("a", "b:c", "s")),
    (("a", "u", "s:state"), ("a", "u", "s")),
    (("a", "u}", "s"), ("a", "u", "}s")),
    (("a", "u*", "s"), ("a", "u?", "s")),
    (("app", "user", "s 1"), ("app", "user", "s%201")),
]


@pytest.mark.parametrize(
    ("first", "second"),
    LOOKALIKES,
    ids=["/".join(first) + "~" + "/".join(second) for first, second in LOOKALIKES],
)
async def test_lookalike_ids_are_separate_sessions(
    service: BaseSessionService,
    reload: Reload,
    make_event: MakeEvent,
    first: tuple[str, str, str],
    second: tuple[str, str, str],
) -> None:
    one = await service.create_session(
        app_name=first[0], user_id=first[1], session_id=first[2], state={"n": 1}
    )
    two = await service.create_session(
        app_name=second[0], user_id=second[1], session_id=second[2], state={"n": 2}
    )
    event = make_event(state_delta={"n": 10, "user:u": 10})
    await service.append_event(one, event)

    assert (await reload(one)).events == [event]
    stored_two = await reload(two)
    assert stored_two.events == []
    # user: state is shared exactly when app name and user id are equal.
    shared = {"u": 10} if first[:2] == second[:2] else {}
    assert stored_two.state == {"n": 2, **{f"user:{k}": v for k, v in shared.items()}}
    assert await service.get_user_state(app_name=second[0], user_id=second[1]) == shared


async def test_unicode_and_punctuation_ids_round_trip(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    app_name, user_id, session_id = "äpp/ünï {x}", "user@example.com:1", "séss*[1]"
    session = await service.create_session(
        app_name=app_name,
        user_id=user_id,
        session_id=session_id,
        state={"user:u": 1},
    )
    await service.append_event(session, make_event())

    stored = await reload(session)
    assert (stored.app_name, stored.user_id, stored.id) == (
        app_name,
        user_id,
        session_id,
    )
    listed = await service.list_sessions(app_name=app_name)
    assert [(s.user_id, s.id) for s in listed.sessions] == [(user_id, session_id)]
    assert await service.get_user_state(app_name=app_name, user_id=user_id) == {"u": 1}

"""State scopes (app:, user:, temp:, session), value handling, get_user_state."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest
from google.adk.sessions import BaseSessionService, _session_util

if TYPE_CHECKING:
    from .conftest import MakeEvent, Reload

APP = "contract-app"
USER = "alice"


async def test_app_state_is_shared_across_users_of_the_app(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    alice = await service.create_session(app_name=APP, user_id=USER)
    bob = await service.create_session(app_name=APP, user_id="bob")

    await service.append_event(alice, make_event(state_delta={"app:mode": "on"}))

    assert (await reload(bob)).state == {"app:mode": "on"}
    carol = await service.create_session(app_name=APP, user_id="carol")
    assert carol.state == {"app:mode": "on"}


async def test_app_state_is_not_shared_across_apps(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    other_app = await service.create_session(app_name="other-app", user_id=USER)

    await service.append_event(session, make_event(state_delta={"app:mode": "on"}))

    assert (await reload(other_app)).state == {}
    fresh = await service.create_session(app_name="other-app", user_id="bob")
    assert fresh.state == {}


async def test_user_state_is_shared_across_sessions_of_the_user(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    first = await service.create_session(app_name=APP, user_id=USER)
    second = await service.create_session(app_name=APP, user_id=USER)

    await service.append_event(first, make_event(state_delta={"user:lang": "fr"}))

    assert (await reload(second)).state == {"user:lang": "fr"}
    third = await service.create_session(app_name=APP, user_id=USER)
    assert third.state == {"user:lang": "fr"}


@pytest.mark.parametrize(
    ("app_name", "user_id"),
    [(APP, "bob"), ("other-app", USER)],
    ids=["other-user", "same-user-other-app"],
)
async def test_user_state_is_not_shared_across_users_or_apps(
    service: BaseSessionService,
    reload: Reload,
    make_event: MakeEvent,
    app_name: str,
    user_id: str,
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    other = await service.create_session(app_name=app_name, user_id=user_id)

    await service.append_event(session, make_event(state_delta={"user:lang": "fr"}))

    assert (await reload(other)).state == {}
    assert await service.get_user_state(app_name=app_name, user_id=user_id) == {}


async def test_plain_keys_are_per_session(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    first = await service.create_session(app_name=APP, user_id=USER)
    second = await service.create_session(app_name=APP, user_id=USER)

    await service.append_event(first, make_event(state_delta={"topic": "cats"}))

    assert (await reload(first)).state == {"topic": "cats"}
    assert (await reload(second)).state == {}


async def test_later_event_overwrites_earlier_value(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"k": 0, "user:u": 0, "app:a": 0}
    )

    await service.append_event(
        session, make_event(state_delta={"k": 1, "user:u": 1, "app:a": 1})
    )
    await service.append_event(
        session, make_event(state_delta={"k": 2, "user:u": 2, "app:a": 2})
    )

    assert (await reload(session)).state == {"k": 2, "user:u": 2, "app:a": 2}


async def test_temp_delta_is_applied_to_the_live_session(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)

    await service.append_event(
        session, make_event(state_delta={"temp:scratch": "x", "kept": 1})
    )

    assert session.state["temp:scratch"] == "x"
    assert session.state["kept"] == 1


async def test_temp_delta_is_not_stored_in_state(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)

    await service.append_event(
        session, make_event(state_delta={"temp:scratch": "x", "kept": 1})
    )

    assert (await reload(session)).state == {"kept": 1}


async def test_temp_delta_is_not_stored_in_the_event(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)

    await service.append_event(
        session, make_event(state_delta={"temp:scratch": "x", "kept": 1})
    )

    (stored_event,) = (await reload(session)).events
    assert stored_event.actions.state_delta == {"kept": 1}


@pytest.mark.parametrize("key", ["k", "user:k", "app:k"])
async def test_none_value_is_stored_as_none(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent, key: str
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={key: "before"}
    )

    await service.append_event(session, make_event(state_delta={key: None}))

    stored = await reload(session)
    assert key in stored.state
    assert stored.state[key] is None
    assert stored.events[0].actions.state_delta == {key: None}


async def test_none_value_in_initial_state_is_stored(
    service: BaseSessionService, reload: Reload
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"k": None, "user:u": None}
    )

    assert (await reload(session)).state == {"k": None, "user:u": None}
    assert await service.get_user_state(app_name=APP, user_id=USER) == {"u": None}


@pytest.mark.parametrize("key", ["d", "user:d", "app:d"])
async def test_dict_value_replaces_instead_of_merging(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent, key: str
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={key: {"a": 1, "b": 2}}
    )

    await service.append_event(session, make_event(state_delta={key: {"c": 3}}))

    assert (await reload(session)).state[key] == {"c": 3}


async def test_json_values_round_trip(
    service: BaseSessionService, reload: Reload, make_event: MakeEvent
) -> None:
    values = {
        "int": 7,
        "float": 1.5,
        "bool": False,
        "str": "héllo ✓",
        "empty": "",
        "list": [1, "two", None, {"three": 3.0}],
        "nested": {"a": {"b": [True, {}]}},
        "empty_list": [],
        "empty_dict": {},
        "big": 2**62,
        "precise": 0.1 + 0.2,
    }
    session = await service.create_session(app_name=APP, user_id=USER)

    await service.append_event(session, make_event(state_delta=values))

    assert (await reload(session)).state == values


class _Opaque:
    """A value with no JSON form: serialized via its string representation."""


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc),
        {3, 1, 2},
        _Opaque(),
    ],
    ids=["datetime", "set", "object"],
)
async def test_non_json_value_is_stored_coerced_like_the_database(
    service: BaseSessionService,
    backend: str,
    reload: Reload,
    make_event: MakeEvent,
    value: Any,
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)

    await service.append_event(
        session, make_event(state_delta={"v": value, "user:v": value})
    )

    stored = await reload(session)
    if backend == "inmemory":
        # InMemory keeps the Python object itself (deep-copied), it never
        # serializes state; only persistent services coerce to JSON form.
        return
    expected = _session_util.make_json_safe_state({"v": value})["v"]
    assert stored.state["v"] == expected
    assert stored.state["user:v"] == expected
    assert await service.get_user_state(app_name=APP, user_id=USER) == {"v": expected}


async def test_non_json_initial_state_is_stored_coerced_like_the_database(
    service: BaseSessionService, backend: str, reload: Reload
) -> None:
    when = datetime.date(2024, 2, 29)
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"when": when, "app:when": when}
    )

    stored = await reload(session)
    if backend == "inmemory":
        # InMemory keeps the Python object itself; see the test above.
        return
    expected = _session_util.make_json_safe_state({"when": when})["when"]
    assert stored.state == {"when": expected, "app:when": expected}


async def test_get_user_state_returns_raw_keys(
    service: BaseSessionService, make_event: MakeEvent
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"user:a": 1, "app:x": 0, "s": 0}
    )
    await service.append_event(
        session, make_event(state_delta={"user:b": [2], "temp:t": 0, "s2": 0})
    )

    assert await service.get_user_state(app_name=APP, user_id=USER) == {
        "a": 1,
        "b": [2],
    }


@pytest.mark.parametrize(
    ("app_name", "user_id"),
    [(APP, USER), (APP, "never-seen"), ("never-seen-app", USER)],
    ids=["user-without-user-state", "unknown-user", "unknown-app"],
)
async def test_get_user_state_is_empty_when_none_stored(
    service: BaseSessionService, app_name: str, user_id: str
) -> None:
    await service.create_session(app_name=APP, user_id=USER, state={"app:x": 1, "s": 1})
    await service.create_session(app_name=APP, user_id="bob", state={"user:b": 1})

    assert await service.get_user_state(app_name=app_name, user_id=user_id) == {}


async def test_get_user_state_returns_a_copy(service: BaseSessionService) -> None:
    await service.create_session(app_name=APP, user_id=USER, state={"user:u": {"n": 1}})

    first = await service.get_user_state(app_name=APP, user_id=USER)
    first["u"]["n"] = 2
    first["added"] = True

    assert await service.get_user_state(app_name=APP, user_id=USER) == {"u": {"n": 1}}

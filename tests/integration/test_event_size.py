"""Oversized events: refused with a clear error before anything is written.

Runs on one redis-server and on the local Redis Cluster.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.session import Session
from google.genai import types

from adk_redis_session import EventTooLargeError, RedisSessionService
from adk_redis_session.errors import RedisSessionError

APP, USER = "size-app", "size-user"
LIMIT = 4096


@pytest.fixture(
    params=[
        pytest.param("redis_client", id="redis", marks=pytest.mark.redis),
        pytest.param(
            "redis_cluster_client",
            id="redis-cluster",
            marks=[pytest.mark.redis, pytest.mark.cluster],
        ),
    ]
)
def client(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture
async def service(client: Any, key_prefix: str) -> AsyncIterator[RedisSessionService]:
    svc = RedisSessionService(
        client=client, key_prefix=key_prefix, max_event_bytes=LIMIT
    )
    try:
        yield svc
    finally:
        await svc.aclose()


def _event(text: str, **delta: Any) -> Event:
    return Event(
        author="user",
        invocation_id="inv",
        content=types.Content(role="user", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=dict(delta)),
    )


def _sized(size: int, **delta: Any) -> Event:
    """An event whose stored JSON is exactly ``size`` bytes."""
    event = _event("", **delta)
    base = len(event.model_dump_json(exclude_none=True).encode())
    event.content.parts[0].text = "x" * (size - base)  # type: ignore[index,union-attr]
    assert len(event.model_dump_json(exclude_none=True).encode()) == size
    return event


async def _stored(client: Any, prefix: str) -> dict[str, Any]:
    """Every key under the prefix with its value (all nodes of a cluster)."""
    if hasattr(client, "get_nodes"):
        nodes = client.get_primaries()
        keys = set()
        for node in nodes:
            keys.update(
                await client.execute_command("KEYS", f"{prefix}:*", target_nodes=node)
            )
    else:
        keys = set(await client.keys(f"{prefix}:*"))
    return {key: await client.dump(key) for key in sorted(keys)}


async def test_oversized_event_is_refused_and_nothing_is_written(
    service: RedisSessionService, client: Any, key_prefix: str
) -> None:
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"app:a": 1, "user:u": 1, "s": 1}
    )
    await service.append_event(session, _event("small", s=2))
    before = await _stored(client, key_prefix)
    state = dict(session.state)
    marker = session._storage_update_marker
    big = _sized(LIMIT + 1, **{"app:a": 9, "user:u": 9, "s": 9})
    big.actions.state_delta["temp:t"] = 1  # not stored, so not counted

    with pytest.raises(EventTooLargeError, match=r"max_event_bytes=4096") as err:
        await service.append_event(session, big)

    assert isinstance(err.value, ValueError)
    assert isinstance(err.value, RedisSessionError)
    assert f"is {LIMIT + 1} bytes" in str(err.value)
    assert await _stored(client, key_prefix) == before
    # The caller's objects are untouched too (no temp: state applied).
    assert session.state == state
    assert session._storage_update_marker == marker
    assert len(session.events) == 1
    assert "temp:t" in big.actions.state_delta


async def test_event_at_the_limit_is_stored(
    service: RedisSessionService, key_prefix: str
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    event = await service.append_event(session, _sized(LIMIT))
    loaded = await service.get_session(
        app_name=APP, user_id=USER, session_id=session.id
    )
    assert loaded is not None
    assert [e.id for e in loaded.events] == [event.id]


async def test_limit_counts_utf8_bytes_not_characters(
    service: RedisSessionService,
) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    with pytest.raises(EventTooLargeError):
        await service.append_event(session, _event("é" * (LIMIT // 2)))  # 2 bytes each


async def test_temp_state_does_not_count(service: RedisSessionService) -> None:
    session = await service.create_session(app_name=APP, user_id=USER)
    event = _sized(LIMIT, s=1)
    event.actions.state_delta["temp:big"] = "y" * LIMIT  # never stored
    await service.append_event(session, event)
    assert session.state["temp:big"] == "y" * LIMIT


async def test_no_limit_with_none(client: Any, key_prefix: str) -> None:
    service = RedisSessionService(
        client=client, key_prefix=key_prefix, max_event_bytes=None
    )
    session = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(session, _sized(2 * 1024 * 1024))
    loaded = await service.get_session(
        app_name=APP, user_id=USER, session_id=session.id
    )
    assert loaded is not None and len(loaded.events) == 1


async def test_default_limit_is_one_mebibyte(client: Any, key_prefix: str) -> None:
    service = RedisSessionService(client=client, key_prefix=key_prefix)
    session = await service.create_session(app_name=APP, user_id=USER)
    await service.append_event(session, _sized(1024 * 1024))
    with pytest.raises(EventTooLargeError):
        await service.append_event(session, _sized(1024 * 1024 + 1))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_invalid_limits_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_event_bytes"):
        RedisSessionService(uri="redis://127.0.0.1:1/0", max_event_bytes=bad)


async def test_size_is_checked_before_any_io() -> None:
    """Against a port nothing listens on: the size error, not a network one."""
    service = RedisSessionService(uri="redis://127.0.0.1:1/0", max_event_bytes=LIMIT)
    session = Session(id="s", app_name=APP, user_id=USER)
    with pytest.raises(EventTooLargeError):
        await service.append_event(session, _sized(LIMIT + 1))
    await service.aclose()

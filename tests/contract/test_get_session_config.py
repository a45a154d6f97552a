"""GetSessionConfig: num_recent_events and after_timestamp."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import pytest
from google.adk.events.event import Event
from google.adk.sessions import BaseSessionService, Session
from google.adk.sessions.base_session_service import GetSessionConfig

if TYPE_CHECKING:
    from .conftest import MakeEvent, Reload

APP = "contract-app"
USER = "alice"


@pytest.fixture
def base_time() -> float:
    """A whole second after now, so base + n is exact and events sort by time."""
    return float(math.floor(time.time())) + 10.0


@pytest.fixture
async def five_events(
    service: BaseSessionService, make_event: MakeEvent, base_time: float
) -> tuple[Session, list[Event]]:
    """A session with state and events e1..e5 at base+1 .. base+5."""
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"app:a": 1, "user:u": 2}
    )
    events = []
    for n in range(1, 6):
        event = make_event(f"e{n}", state_delta={"n": n}, timestamp=base_time + n)
        await service.append_event(session, event)
        events.append(event)
    return session, events


def texts(session: Session) -> list[str]:
    return [e.content.parts[0].text for e in session.events]


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        (1, ["e5"]),
        (3, ["e3", "e4", "e5"]),
        (5, ["e1", "e2", "e3", "e4", "e5"]),
        (10, ["e1", "e2", "e3", "e4", "e5"]),
    ],
)
async def test_num_recent_events_returns_the_last_k(
    reload: Reload,
    five_events: tuple[Session, list[Event]],
    k: int,
    expected: list[str],
) -> None:
    session, _ = five_events

    loaded = await reload(session, GetSessionConfig(num_recent_events=k))

    assert texts(loaded) == expected


async def test_num_recent_events_zero_returns_session_without_events(
    reload: Reload, five_events: tuple[Session, list[Event]]
) -> None:
    session, _ = five_events

    loaded = await reload(session, GetSessionConfig(num_recent_events=0))

    assert loaded.events == []
    assert loaded.id == session.id
    assert loaded.state == {"app:a": 1, "user:u": 2, "n": 5}


async def test_filtered_read_keeps_full_state(
    reload: Reload, five_events: tuple[Session, list[Event]]
) -> None:
    session, _ = five_events

    loaded = await reload(session, GetSessionConfig(num_recent_events=1))

    # State is the stored state, not a replay of the returned events.
    assert loaded.state == {"app:a": 1, "user:u": 2, "n": 5}


async def test_after_timestamp_is_inclusive(
    reload: Reload, five_events: tuple[Session, list[Event]], base_time: float
) -> None:
    session, _ = five_events

    loaded = await reload(session, GetSessionConfig(after_timestamp=base_time + 3))

    assert texts(loaded) == ["e3", "e4", "e5"]


async def test_after_timestamp_between_events(
    reload: Reload, five_events: tuple[Session, list[Event]], base_time: float
) -> None:
    session, _ = five_events

    loaded = await reload(session, GetSessionConfig(after_timestamp=base_time + 3.5))

    assert texts(loaded) == ["e4", "e5"]


async def test_after_timestamp_past_all_events_returns_none(
    reload: Reload, five_events: tuple[Session, list[Event]], base_time: float
) -> None:
    session, _ = five_events

    loaded = await reload(session, GetSessionConfig(after_timestamp=base_time + 6))

    assert loaded.events == []
    assert loaded.state["n"] == 5


@pytest.mark.parametrize(
    ("k", "after", "expected"),
    [
        (2, 2.0, ["e4", "e5"]),
        (5, 3.0, ["e3", "e4", "e5"]),
        (1, 5.0, ["e5"]),
    ],
    ids=["limit-binds", "timestamp-binds", "both-bind"],
)
async def test_num_recent_events_and_after_timestamp_together(
    reload: Reload,
    five_events: tuple[Session, list[Event]],
    base_time: float,
    k: int,
    after: float,
    expected: list[str],
) -> None:
    session, _ = five_events

    loaded = await reload(
        session,
        GetSessionConfig(num_recent_events=k, after_timestamp=base_time + after),
    )

    assert texts(loaded) == expected


async def test_filtered_events_equal_the_appended_ones(
    reload: Reload, five_events: tuple[Session, list[Event]]
) -> None:
    session, events = five_events

    loaded = await reload(session, GetSessionConfig(num_recent_events=2))

    assert loaded.events == events[-2:]


def test_negative_num_recent_events_is_rejected_by_the_config() -> None:
    # Backend independent: pydantic rejects the config before any service
    # sees it, so there is nothing for a backend to handle.
    with pytest.raises(ValueError, match="num_recent_events"):
        GetSessionConfig(num_recent_events=-1)

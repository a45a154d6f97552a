"""Fixtures for the backend tests: a real PostgreSQL, the env, a round trip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.base_session_service import BaseSessionService
from google.genai import types

from adk_redis_session.bench.servers import LocalPostgres, postgres_bin_dir
from adk_redis_session.testing import LocalRedisServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL started for this test session (trust auth)."""
    if postgres_bin_dir() is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install "
            "them with scripts/ensure_postgres.sh or apt-get install postgresql"
        )
    with LocalPostgres(database="adk_backends") as server:
        yield server


@pytest.fixture
def pg_url(postgres: LocalPostgres) -> str:
    """A libpq-style URL with a password (trust auth ignores it): the way
    DATABASE_URL usually looks, to be normalized and redacted."""
    return (
        f"postgresql://postgres:s3cret-pw@127.0.0.1:{postgres.port}/{postgres.database}"
    )


async def open_connections(postgres: LocalPostgres) -> int:
    """Client connections to the test database, other than this check's own."""
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=postgres.port,
        user="postgres",
        database=postgres.database,
    )
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            postgres.database,
        )
        return int(count)
    finally:
        await conn.close()


@pytest.fixture
def app_name() -> str:
    """An app name no other test uses (the database is shared)."""
    return f"app_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def redis_env(redis_server: LocalRedisServer, key_prefix: str) -> dict[str, str]:
    return {"REDIS_URL": redis_server.url, "REDIS_KEY_PREFIX": key_prefix}


async def round_trip(service: BaseSessionService, app_name: str) -> None:
    """create -> append -> get through ``service``, checking what comes back."""
    session = await service.create_session(
        app_name=app_name,
        user_id="u1",
        state={"topic": "wifi", "user:name": "Ada", "app:plan": "pro"},
    )
    event = Event(
        invocation_id="inv-1",
        author="user",
        content=types.Content(role="user", parts=[types.Part(text="hello there")]),
        actions=EventActions(state_delta={"turns": 1, "user:lang": "en"}),
    )
    await service.append_event(session, event)
    loaded = await service.get_session(
        app_name=app_name, user_id="u1", session_id=session.id
    )
    assert loaded is not None
    assert [e.id for e in loaded.events] == [event.id]
    assert loaded.events[0].content is not None
    assert loaded.events[0].content.parts is not None
    assert loaded.events[0].content.parts[0].text == "hello there"
    assert loaded.state == {
        "topic": "wifi",
        "turns": 1,
        "user:name": "Ada",
        "user:lang": "en",
        "app:plan": "pro",
    }
    listed = await service.list_sessions(app_name=app_name, user_id="u1")
    assert [s.id for s in listed.sessions] == [session.id]

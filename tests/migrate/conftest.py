"""Fixtures for the migration tests: real PostgreSQL, SQLite files, Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from adk_redis_session.bench.servers import LocalPostgres, postgres_bin_dir
from adk_redis_session.testing import LocalRedisServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL for this test session (trust auth, C locale)."""
    if postgres_bin_dir() is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install "
            "them with scripts/ensure_postgres.sh or apt-get install postgresql"
        )
    with LocalPostgres(database="adk_migrate") as server:
        yield server


@pytest.fixture
async def pg_url(postgres: LocalPostgres) -> AsyncIterator[str]:
    """A fresh, empty database of its own for each test (dropped after)."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(
        host="127.0.0.1", port=postgres.port, user="postgres", database="adk_migrate"
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/{name}"
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}"


@pytest.fixture
def redis_url(redis_server: LocalRedisServer) -> str:
    return redis_server.url

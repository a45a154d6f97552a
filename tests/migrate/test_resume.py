"""Interrupted migrations resume: by --limit, or after a failure mid-session."""

from __future__ import annotations

from typing import Any

import pytest
from google.adk.sessions.database_session_service import DatabaseSessionService

from adk_redis_session import RedisSessionService
from adk_redis_session.migrate import MigrationOptions, migrate_urls

from ._data import APP, assert_same, open_service, populate


async def test_limit_stops_and_the_next_run_continues(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        sizes = await populate(pg)
    copied, events, runs = 0, 0, 0
    while True:
        runs += 1
        report = await migrate_urls(
            pg_url,
            redis_url,
            MigrationOptions(apps=[APP], limit=1, concurrency=3),
            redis_prefix=key_prefix,
        )
        copied += report.sessions_copied
        events += report.events_copied
        assert report.sessions_copied <= 1
        if report.outcome == "ok":
            break
        assert report.outcome == "incomplete", report.format_text()
        assert report.exit_code == 3
        assert report.sessions_pending == sizes["sessions"] - copied
        # What was copied so far is already complete and verified.
        assert report.sessions_verified == copied
        assert runs < 10
    assert (copied, events, runs) == (4, sizes["events"], 4)
    async with (
        open_service(pg_url, key_prefix) as pg,
        open_service(redis_url, key_prefix) as redis,
    ):
        assert await assert_same(pg, redis, APP) == 4


def _fail_after(
    monkeypatch: pytest.MonkeyPatch, cls: type[Any], appends: int
) -> list[int]:
    """Makes ``cls.append_event`` raise after ``appends`` successful calls."""
    original = cls.append_event
    calls = [0]

    async def flaky(self: Any, session: Any, event: Any) -> Any:
        calls[0] += 1
        if calls[0] > appends:
            raise ConnectionError("simulated outage")
        return await original(self, session, event)

    monkeypatch.setattr(cls, "append_event", flaky)
    return calls


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_failure_mid_session_then_rerun_completes(
    pg_url: str,
    redis_url: str,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    concurrency: int,
) -> None:
    """Redis -> PG; the target fails after 9 appends, inside a session."""
    async with open_service(redis_url, key_prefix) as redis:
        sizes = await populate(redis)
    options = MigrationOptions(apps=[APP], concurrency=concurrency)
    with monkeypatch.context() as patch:
        _fail_after(patch, DatabaseSessionService, 9)
        with pytest.raises(ConnectionError, match="simulated outage"):
            await migrate_urls(redis_url, pg_url, options, redis_prefix=key_prefix)
    report = await migrate_urls(redis_url, pg_url, options, redis_prefix=key_prefix)
    assert report.outcome == "ok", report.format_text()
    # Only what the first run did not store is copied now. With several
    # workers, appends in flight when the error came were cancelled too.
    if concurrency == 1:
        assert report.events_copied == sizes["events"] - 9
    else:
        assert sizes["events"] - 9 <= report.events_copied < sizes["events"]
    assert report.sessions_verified == 4
    async with (
        open_service(pg_url, key_prefix) as pg,
        open_service(redis_url, key_prefix) as redis,
    ):
        assert await assert_same(redis, pg, APP) == 4


@pytest.mark.redis
async def test_failure_writing_to_redis_then_rerun_completes(
    sqlite_url: str, redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_service(sqlite_url, key_prefix) as sqlite:
        sizes = await populate(sqlite)
    options = MigrationOptions(apps=[APP])
    with monkeypatch.context() as patch:
        _fail_after(patch, RedisSessionService, 2)  # inside s1 (4 events)
        with pytest.raises(ConnectionError):
            await migrate_urls(sqlite_url, redis_url, options, redis_prefix=key_prefix)
    report = await migrate_urls(sqlite_url, redis_url, options, redis_prefix=key_prefix)
    assert report.outcome == "ok", report.format_text()
    assert report.events_copied == sizes["events"] - 2
    # s1 existed already (behind): copied, not created.
    assert (report.sessions_copied, report.sessions_created) == (4, 3)
    async with (
        open_service(sqlite_url, key_prefix) as sqlite,
        open_service(redis_url, key_prefix) as redis,
    ):
        assert await assert_same(sqlite, redis, APP) == 4

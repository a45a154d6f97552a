"""Migrations both ways between PostgreSQL / SQLite and Redis, on real servers."""

from __future__ import annotations

import pytest
from google.adk.sessions.database_session_service import DatabaseSessionService

from adk_redis_session.migrate import MigrationOptions, MigrationReport, migrate_urls

from ._data import (
    APP,
    BASE,
    OTHER_APP,
    assert_same,
    open_service,
    populate,
    text_event,
)


async def run(
    src: str, dst: str, prefix: str, *apps: str, **options: object
) -> MigrationReport:
    return await migrate_urls(
        src,
        dst,
        MigrationOptions(apps=list(apps or [APP]), **options),  # type: ignore[arg-type]
        redis_prefix=prefix,
    )


async def test_postgres_to_redis(pg_url: str, redis_url: str, key_prefix: str) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        sizes = await populate(pg)
    report = await run(pg_url, redis_url, key_prefix, APP, OTHER_APP)
    assert report.outcome == "ok", report.format_text()
    assert report.sessions_in_source == sizes["sessions"] + sizes["other_sessions"]
    assert report.sessions_copied == report.sessions_created == 5
    assert report.events_copied == sizes["events"] + 1
    assert report.sessions_verified == 5
    # Create-time user: and app: state rides on no event: written directly.
    assert report.user_state_keys == 1  # u1's name (support)
    assert report.app_state_keys == 2  # support's plan, billing's currency
    async with (
        open_service(pg_url, key_prefix) as pg,
        open_service(redis_url, key_prefix) as redis,
    ):
        assert await assert_same(pg, redis, APP) == 4
        assert await assert_same(pg, redis, OTHER_APP) == 1
        # Listed in the same order (by last update time).
        pg_order = [s.id for s in (await pg.list_sessions(app_name=APP)).sessions]
        redis_order = [s.id for s in (await redis.list_sessions(app_name=APP)).sessions]
        assert redis_order == pg_order
        s1 = await redis.get_session(app_name=APP, user_id="u1", session_id="s1")
        assert s1 is not None
        assert s1.state == {
            "topic": "wifi",
            "turns": 2,
            "ticket": 42,
            "user:name": "Ada",
            "user:tier": "gold",
            "app:plan": "pro",
            "app:motd": "hi",
        }
        # The zero-event session keeps its own time.
        s2 = await redis.get_session(app_name=APP, user_id="u1", session_id="s2")
        assert s2 is not None and abs(s2.last_update_time - (BASE + 4)) <= 1e-6
        # The migrated session is live: the next turn appends without a
        # stale error and reads back in order.
        await redis.append_event(s1, text_event(BASE + 100, "user", "thanks"))
        again = await redis.get_session(app_name=APP, user_id="u1", session_id="s1")
        assert again is not None
        assert [e.timestamp for e in again.events][-2:] == [BASE + 3, BASE + 100]


async def test_redis_to_postgres(pg_url: str, redis_url: str, key_prefix: str) -> None:
    async with open_service(redis_url, key_prefix) as redis:
        sizes = await populate(redis)
    report = await run(redis_url, pg_url, key_prefix, APP, OTHER_APP)
    assert report.outcome == "ok", report.format_text()
    assert report.sessions_copied == 5
    assert report.events_copied == sizes["events"] + 1
    assert report.sessions_verified == 5
    async with (
        open_service(pg_url, key_prefix) as pg,
        open_service(redis_url, key_prefix) as redis,
    ):
        assert await assert_same(redis, pg, APP) == 4
        assert await assert_same(redis, pg, OTHER_APP) == 1
        # ADK's own service keeps going on the copy.
        s3 = await pg.get_session(app_name=APP, user_id="u2", session_id="s3")
        assert s3 is not None
        await pg.append_event(s3, text_event(BASE + 100, "user", "more", {"n": 2}))


@pytest.mark.redis
async def test_sqlite_to_redis_and_back(
    sqlite_url: str, redis_url: str, key_prefix: str, tmp_path: object
) -> None:
    async with open_service(sqlite_url, key_prefix) as sqlite:
        sizes = await populate(sqlite)
    report = await run(sqlite_url, redis_url, key_prefix)
    assert report.outcome == "ok", report.format_text()
    assert (report.sessions_copied, report.events_copied) == (4, sizes["events"])
    back = sqlite_url.replace("sessions.db", "back.db")
    report = await run(redis_url, back, key_prefix)
    assert report.outcome == "ok", report.format_text()
    assert (report.sessions_copied, report.events_copied) == (4, sizes["events"])
    async with (
        open_service(sqlite_url, key_prefix) as a,
        open_service(back, key_prefix) as b,
    ):
        assert await assert_same(a, b, APP) == 4


async def test_second_run_copies_nothing(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    first = await run(pg_url, redis_url, key_prefix)
    second = await run(pg_url, redis_url, key_prefix)
    assert first.outcome == second.outcome == "ok"
    assert first.sessions_copied == 4
    counts = (
        second.sessions_copied,
        second.events_copied,
        second.user_state_keys,
        second.app_state_keys,
        second.session_state_keys,
        second.timestamps_set,
    )
    assert counts == (0, 0, 0, 0, 0, 0)
    assert (second.sessions_skipped, second.sessions_verified) == (4, 4)


async def test_rollback_copies_what_was_written_meanwhile(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    """PG -> Redis, the app runs on Redis, then Redis -> PG copies the delta."""
    async with open_service(pg_url, key_prefix) as pg:
        sizes = await populate(pg)
    assert (await run(pg_url, redis_url, key_prefix)).outcome == "ok"

    async with open_service(redis_url, key_prefix) as redis:
        s1 = await redis.get_session(app_name=APP, user_id="u1", session_id="s1")
        assert s1 is not None
        for i, delta in enumerate(
            [{"turns": 3, "user:tier": "platinum"}, {"app:motd": "bye"}]
        ):
            await redis.append_event(
                s1, text_event(BASE + 50 + i, "user", f"later {i}", delta)
            )
        new = await redis.create_session(
            app_name=APP, user_id="u2", session_id="s6", state={"topic": "new"}
        )
        await redis.append_event(new, text_event(BASE + 60, "user", "hi", {"k": 1}))

    report = await run(redis_url, pg_url, key_prefix)
    assert report.outcome == "ok", report.format_text()
    assert report.sessions_in_source == sizes["sessions"] + 1
    assert (report.sessions_copied, report.sessions_created) == (2, 1)
    assert report.sessions_skipped == 3
    assert report.events_copied == 3
    assert report.sessions_verified == 5
    async with (
        open_service(pg_url, key_prefix) as pg,
        open_service(redis_url, key_prefix) as redis,
    ):
        assert await assert_same(redis, pg, APP) == 5
        s1 = await pg.get_session(app_name=APP, user_id="u1", session_id="s1")
        assert s1 is not None
        state = s1.state
        assert (state["user:tier"], state["app:motd"], state["turns"]) == (
            "platinum",
            "bye",
            3,
        )


async def test_database_target_gets_tables(
    sqlite_url: str, pg_url: str, key_prefix: str
) -> None:
    """SQLite -> PostgreSQL: database to database works the same way."""
    async with open_service(sqlite_url, key_prefix) as sqlite:
        await populate(sqlite)
    report = await run(sqlite_url, pg_url, key_prefix, APP, OTHER_APP)
    assert report.outcome == "ok", report.format_text()
    assert report.sessions_verified == 5
    pg = DatabaseSessionService(pg_url)
    try:
        listed = await pg.list_sessions(app_name=OTHER_APP)
        assert [s.id for s in listed.sessions] == ["s5"]
    finally:
        await pg.close()

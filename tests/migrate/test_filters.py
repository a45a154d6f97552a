"""--app and --user choose what is migrated."""

from __future__ import annotations

from adk_redis_session.migrate import MigrationOptions, migrate_urls

from ._data import (
    APP,
    BASE,
    OTHER_APP,
    assert_same,
    open_service,
    populate,
    text_event,
)


async def test_only_the_named_apps(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    report = await migrate_urls(
        pg_url, redis_url, MigrationOptions(apps=[OTHER_APP]), redis_prefix=key_prefix
    )
    assert report.outcome == "ok"
    assert (report.sessions_in_source, report.sessions_copied) == (1, 1)
    async with (
        open_service(redis_url, key_prefix) as redis,
        open_service(pg_url, key_prefix) as pg,
    ):
        assert await assert_same(pg, redis, OTHER_APP) == 1
        assert (await redis.list_sessions(app_name=APP)).sessions == []


async def test_only_the_named_users(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    report = await migrate_urls(
        pg_url,
        redis_url,
        MigrationOptions(apps=[APP], users=["u1", "u3"]),
        redis_prefix=key_prefix,
    )
    assert report.outcome == "ok", report.format_text()
    assert (report.sessions_in_source, report.sessions_copied) == (3, 3)
    assert report.sessions_verified == 3
    assert report.scopes_verified == 3  # u1, u3 and the app
    async with (
        open_service(redis_url, key_prefix) as redis,
        open_service(pg_url, key_prefix) as pg,
    ):
        assert await assert_same(pg, redis, APP, "u1") == 2
        assert await assert_same(pg, redis, APP, "u3") == 1
        assert (await redis.list_sessions(app_name=APP, user_id="u2")).sessions == []
        assert await redis.get_user_state(app_name=APP, user_id="u2") == {}

    # The rest follows in a second run; the first users are skipped.
    report = await migrate_urls(
        pg_url, redis_url, MigrationOptions(apps=[APP]), redis_prefix=key_prefix
    )
    assert report.outcome == "ok"
    assert (report.sessions_copied, report.sessions_skipped) == (1, 3)


async def test_user_state_of_users_without_sessions(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    """A database keeps user state after the user's last session is deleted:
    it is copied too."""
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
        gone = await pg.create_session(
            app_name=APP, user_id="u9", state={"user:lang": "fr"}
        )
        await pg.delete_session(app_name=APP, user_id="u9", session_id=gone.id)
    report = await migrate_urls(
        pg_url, redis_url, MigrationOptions(apps=[APP]), redis_prefix=key_prefix
    )
    assert report.outcome == "ok", report.format_text()
    assert report.scopes_verified == 5  # u1, u2, u3, u9 and the app
    async with open_service(redis_url, key_prefix) as redis:
        assert await redis.get_user_state(app_name=APP, user_id="u9") == {"lang": "fr"}


async def test_since_reads_only_sessions_updated_since(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    options = MigrationOptions(apps=[APP])
    assert (
        await migrate_urls(pg_url, redis_url, options, redis_prefix=key_prefix)
    ).outcome == "ok"
    async with open_service(pg_url, key_prefix) as pg:
        s4 = await pg.get_session(app_name=APP, user_id="u3", session_id="s4")
        assert s4 is not None
        await pg.append_event(s4, text_event(BASE + 90, "user", "late", {"count": 9}))
    delta = MigrationOptions(apps=[APP], since=BASE + 50)
    report = await migrate_urls(pg_url, redis_url, delta, redis_prefix=key_prefix)
    assert report.outcome == "ok", report.format_text()
    assert (report.sessions_in_source, report.sessions_before_since) == (4, 3)
    assert (report.sessions_copied, report.events_copied) == (1, 1)
    assert (report.sessions_verified, report.scopes_verified) == (1, 2)  # u3, app
    assert "3 not updated since --since (not read)" in report.format_text()
    async with (
        open_service(redis_url, key_prefix) as redis,
        open_service(pg_url, key_prefix) as pg,
    ):
        assert await assert_same(pg, redis, APP) == 4

"""Conflicts are reported and left alone; verification finds differences."""

from __future__ import annotations

import json

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url

from adk_redis_session._keys import KeySchema
from adk_redis_session.migrate import MigrationOptions, MigrationReport, migrate_urls

from ._data import (
    APP,
    BASE,
    assert_same,
    make_session,
    open_service,
    populate,
    text_event,
)


async def run(src: str, dst: str, prefix: str, **options: object) -> MigrationReport:
    return await migrate_urls(
        src,
        dst,
        MigrationOptions(apps=[APP], **options),  # type: ignore[arg-type]
        redis_prefix=prefix,
    )


async def pg_execute(pg_url: str, sql: str, *args: object) -> None:
    url = make_url(pg_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_target_written_on_its_own_is_a_conflict(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    assert (await run(pg_url, redis_url, key_prefix)).outcome == "ok"
    async with (
        open_service(redis_url, key_prefix) as redis,
        open_service(pg_url, key_prefix) as pg,
    ):
        # Both stores extend s3 (split brain); only the source extends s4.
        s3 = await redis.get_session(app_name=APP, user_id="u2", session_id="s3")
        assert s3 is not None
        await redis.append_event(s3, text_event(BASE + 40, "user", "on redis"))
        for sid, user in (("s3", "u2"), ("s4", "u3")):
            src = await pg.get_session(app_name=APP, user_id=user, session_id=sid)
            assert src is not None
            await pg.append_event(src, text_event(BASE + 41, "user", "on pg"))

    report = await run(pg_url, redis_url, key_prefix)
    assert report.outcome == "failed" and report.exit_code == 1
    assert len(report.conflicts) == 1
    assert (
        "session support/u2/s3: the target has 1 event(s) the source lacks"
        in (report.conflicts[0])
    )
    assert (report.sessions_copied, report.events_copied) == (1, 1)  # s4
    assert report.sessions_verified == 3  # s1, s2, s4; s3 is not touched
    async with open_service(redis_url, key_prefix) as redis:
        s3 = await redis.get_session(app_name=APP, user_id="u2", session_id="s3")
        assert s3 is not None
        assert [e.content.parts[0].text for e in s3.events][-1] == "on redis"  # type: ignore[union-attr,index]
        assert len(s3.events) == 3
    assert "conflict: session support/u2/s3" in report.format_text()


async def test_an_event_changed_in_the_target_is_a_conflict(
    pg_url: str, redis_url: str, key_prefix: str, redis_client: aioredis.Redis
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    assert (await run(pg_url, redis_url, key_prefix)).outcome == "ok"
    events_key = KeySchema(key_prefix).session(APP, "u1", "s1").events
    first = json.loads(await redis_client.lindex(events_key, 0))
    first["content"]["parts"][0]["text"] = "tampered"
    await redis_client.lset(events_key, 0, json.dumps(first))

    report = await run(pg_url, redis_url, key_prefix)
    assert report.outcome == "failed"
    assert report.conflicts == [
        f"session support/u1/s1: event {first['id']} differs between source and "
        "target (fields: content)"
    ]


async def test_state_keys_only_the_target_has_are_conflicts(
    pg_url: str, redis_url: str, key_prefix: str, redis_client: aioredis.Redis
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    assert (await run(pg_url, redis_url, key_prefix)).outcome == "ok"
    keys = KeySchema(key_prefix)
    await redis_client.hset(keys.user(APP, "u1").state, "hobby", '"chess"')
    await redis_client.hset(keys.session(APP, "u1", "s2").state, "extra", "1")

    report = await run(pg_url, redis_url, key_prefix)
    assert report.outcome == "failed"
    assert sorted(report.conflicts) == [
        "session support/u1/s2: the target's session state has key(s) the source "
        "lacks: extra",
        "user state of 'u1' (app 'support'): the target has key(s) the source "
        "lacks (kept): hobby",
    ]
    assert await redis_client.hget(keys.user(APP, "u1").state, "hobby") == b'"chess"'


async def test_verify_only_finds_a_corrupted_redis_target(
    pg_url: str, redis_url: str, key_prefix: str, redis_client: aioredis.Redis
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    assert (await run(pg_url, redis_url, key_prefix)).outcome == "ok"
    state_key = KeySchema(key_prefix).session(APP, "u1", "s1").state
    await redis_client.hset(state_key, "topic", '"tampered"')

    for _ in range(2):  # verification writes nothing: the same result twice
        report = await run(pg_url, redis_url, key_prefix, verify_only=True)
        assert report.outcome == "failed" and report.exit_code == 1
        assert report.mismatches == [
            "session support/u1/s1: state differs in key(s): topic"
        ]
        assert report.sessions_verified == 3
        assert report.sessions_copied == report.events_copied == 0
    assert "tampered" not in report.format_text()  # values are never printed

    # A copy run puts the source's value back.
    report = await run(pg_url, redis_url, key_prefix)
    assert report.outcome == "ok"
    assert (report.session_state_keys, report.sessions_verified) == (1, 4)


async def test_verify_only_finds_a_corrupted_database_target(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(redis_url, key_prefix) as redis:
        await populate(redis)
    assert (await run(redis_url, pg_url, key_prefix)).outcome == "ok"
    await pg_execute(
        pg_url,
        "UPDATE events SET event_data = jsonb_set(event_data, "
        "'{content,parts,0,text}', '\"tampered\"') "
        "WHERE session_id = 's3' AND event_data->>'author' = 'helper'",
    )
    report = await run(redis_url, pg_url, key_prefix, verify_only=True)
    assert report.outcome == "failed"
    assert len(report.mismatches) == 1
    assert report.mismatches[0].startswith("session support/u2/s3: event #1 (")
    assert report.mismatches[0].endswith("differs in: content")

    await pg_execute(pg_url, "DELETE FROM sessions WHERE id = 's2'")
    report = await run(redis_url, pg_url, key_prefix, verify_only=True)
    assert "session support/u1/s2: missing in the target" in report.mismatches


async def test_a_source_that_moved_on_reads_as_behind(
    pg_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    assert (await run(pg_url, redis_url, key_prefix)).outcome == "ok"
    async with open_service(pg_url, key_prefix) as pg:
        s4 = await pg.get_session(app_name=APP, user_id="u3", session_id="s4")
        assert s4 is not None
        await pg.append_event(s4, text_event(BASE + 90, "user", "new", {"count": 13}))
    report = await run(pg_url, redis_url, key_prefix, verify_only=True)
    assert report.outcome == "incomplete" and report.exit_code == 3
    assert report.behind == ["session support/u3/s4: the source has 1 newer event(s)"]
    report = await run(pg_url, redis_url, key_prefix)
    assert report.outcome == "ok"
    assert (report.sessions_copied, report.events_copied) == (1, 1)


async def test_dry_run_writes_nothing(
    pg_url: str, sqlite_url: str, redis_url: str, key_prefix: str
) -> None:
    async with open_service(sqlite_url, key_prefix) as sqlite:
        sizes = await populate(sqlite)
    report = await run(sqlite_url, redis_url, key_prefix, dry_run=True)
    assert report.outcome == "ok"
    assert (report.sessions_copied, report.sessions_created) == (4, 4)
    assert report.events_copied == sizes["events"]
    assert (report.user_state_keys, report.app_state_keys) == (3, 2)
    assert "would copy 4 (4 new)" in report.format_text()
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert [k async for k in client.scan_iter(match=f"{key_prefix}:*")] == []
    finally:
        await client.aclose()

    # A database target without ADK's tables stays without them.
    report = await run(sqlite_url, pg_url, key_prefix, dry_run=True)
    assert (report.sessions_created, report.events_copied) == (4, sizes["events"])
    url = make_url(pg_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    finally:
        await conn.close()
    assert tables == []


async def test_state_outside_events_and_out_of_order_events(
    pg_url: str, redis_url: str, key_prefix: str, redis_client: aioredis.Redis
) -> None:
    """State written outside ADK, and a session whose events were appended
    out of timestamp order (its last update time is not its newest event's),
    survive Redis -> PG -> Redis exactly."""
    async with open_service(redis_url, key_prefix) as redis:
        await populate(redis)
        await make_session(
            redis,
            APP,
            "u2",
            "s7",
            BASE,
            {},
            [
                text_event(BASE + 10, "user", "late", {"k": "late"}),
                text_event(BASE + 5, "user", "early", {"k": "early"}),
            ],
        )
    keys = KeySchema(key_prefix)
    # s1's events set turns to 2; someone set it to 99 outside ADK.
    await redis_client.hset(keys.session(APP, "u1", "s1").state, "turns", "99")

    # Replaying in (timestamp, id) order ends s7 at k="late" and s1 at
    # turns=2: both are set to the source's values after the events.
    report = await run(redis_url, pg_url, key_prefix)
    assert report.outcome == "ok", report.format_text()
    assert (report.session_state_keys, report.timestamps_set) == (2, 1)

    back = f"{key_prefix}b"
    report = await run(pg_url, redis_url, back)
    assert report.outcome == "ok", report.format_text()
    assert (report.session_state_keys, report.timestamps_set) == (2, 1)
    meta = keys.session(APP, "u2", "s7").meta.replace(key_prefix, back, 1)
    assert await redis_client.hget(meta, "ordered") == b"0"

    async with (
        open_service(redis_url, key_prefix) as first,
        open_service(redis_url, back) as last,
    ):
        assert await assert_same(first, last, APP) == 5
        s7 = await last.get_session(app_name=APP, user_id="u2", session_id="s7")
        assert s7 is not None
        assert s7.state["k"] == "early"
        # Through PostgreSQL: the session's update time is kept to the
        # microsecond (event timestamps exactly).
        assert abs(s7.last_update_time - (BASE + 5)) <= 1e-6
        await last.append_event(s7, text_event(BASE + 7, "user", "middle"))
        s7 = await last.get_session(app_name=APP, user_id="u2", session_id="s7")
        assert s7 is not None
        assert [e.timestamp for e in s7.events] == [BASE + 5, BASE + 7, BASE + 10]
        s1 = await last.get_session(app_name=APP, user_id="u1", session_id="s1")
        assert s1 is not None and s1.state["turns"] == 99

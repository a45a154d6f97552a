"""Migrations to and from a Redis Cluster (``redis+cluster://``)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from adk_redis_session.migrate import MigrationOptions, migrate_urls
from adk_redis_session.testing import LocalRedisCluster

from ._data import (
    APP,
    BASE,
    OTHER_APP,
    assert_same,
    make_session,
    open_service,
    populate,
    text_event,
)


@pytest.mark.redis
async def test_sqlite_to_cluster_to_postgres(
    sqlite_url: str, pg_url: str, redis_cluster: LocalRedisCluster, key_prefix: str
) -> None:
    cluster_url = redis_cluster.url.replace("redis://", "redis+cluster://", 1)
    async with open_service(sqlite_url, key_prefix) as sqlite:
        sizes = await populate(sqlite)
        await make_session(
            sqlite,
            APP,
            "u2",
            "s7",
            BASE,
            {},
            [text_event(BASE + 10, "user", "late"), text_event(BASE + 5, "user", "x")],
        )
    # State written outside ADK: the copy must set it directly (on the cluster,
    # and from the cluster into PostgreSQL).
    path = sqlite_url.split(":///", 1)[1]
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE sessions SET state = ? WHERE id = 's1'",
            (json.dumps({"topic": "wifi", "turns": 99, "ticket": 42}),),
        )
    options = MigrationOptions(apps=[APP, OTHER_APP])
    for source, target in ((sqlite_url, cluster_url), (cluster_url, pg_url)):
        report = await migrate_urls(source, target, options, redis_prefix=key_prefix)
        assert report.outcome == "ok", report.format_text()
        assert report.events_copied == sizes["events"] + 3
        assert report.sessions_verified == 6
        assert (report.session_state_keys, report.timestamps_set) == (1, 1)
        again = await migrate_urls(source, target, options, redis_prefix=key_prefix)
        assert (again.sessions_copied, again.sessions_skipped) == (0, 6)
    async with (
        open_service(sqlite_url, key_prefix) as sqlite,
        open_service(pg_url, key_prefix) as pg,
    ):
        assert await assert_same(sqlite, pg, APP) == 5

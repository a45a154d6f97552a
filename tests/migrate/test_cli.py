"""``adk-redis-session migrate`` end to end through ``cli.main``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from google.adk.events.event import Event

from adk_redis_session.cli import main
from adk_redis_session.testing import free_port

from ._data import APP, BASE, assert_same, open_service, populate, text_event

SECRET = "s3cret-pw"


def with_password(pg_url: str) -> str:
    """The libpq form operators use, with a password (trust auth ignores it)."""
    return pg_url.replace(
        "postgresql+asyncpg://postgres@", f"postgresql://postgres:{SECRET}@"
    )


async def test_migrate_both_ways_with_counts(
    pg_url: str,
    redis_url: str,
    key_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        sizes = await populate(pg)
    source = with_password(pg_url)
    args = ["migrate", "--from", source, "--to", redis_url, "--app", APP]
    rc = await _main([*args, "--redis-prefix", key_prefix, "--progress-every", "1"])
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    assert "sessions: 4 in source, copied 4 (4 new), 0 already up to date, " in out
    assert f"events copied: {sizes['events']}" in out
    assert "state keys written: 1 user, 1 app, 0 session" in out
    assert "verified: 4 session(s) and 4 user/app state(s) equal, 0 mismatch" in out
    assert out.rstrip().endswith("result: OK")
    assert "[migrate] app 'support': checking 4 session(s)" in err
    assert "[migrate] app 'support': 1/4 checked (1 copied," in err
    assert "[migrate] app 'support': 4/4 verified (4 equal, 0 mismatched" in err
    assert SECRET not in out + err
    assert "postgresql+asyncpg://postgres:***@" in out

    # Again, as JSON: nothing left to copy.
    rc = await _main([*args, "--redis-prefix", key_prefix, "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert rc == 0
    assert report["outcome"] == "ok"
    assert (report["sessions_copied"], report["sessions_skipped"]) == (0, 4)
    assert SECRET not in out + err


async def _main(argv: list[str]) -> int:
    """Runs ``main`` off the event loop (it calls ``asyncio.run`` itself)."""
    return await asyncio.to_thread(main, argv)


async def test_redis_to_sqlite_with_env_settings(
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with open_service(redis_url, key_prefix) as redis:
        sizes = await populate(redis)
    target = f"sqlite:///{tmp_path / 'rollback.db'}"  # switched to aiosqlite
    monkeypatch.setenv("MIGRATE_TARGET", target)
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    argv = ["migrate", "--from", redis_url, "--to", "env:MIGRATE_TARGET", "--app", APP]
    rc = await _main(argv)
    out, _ = capsys.readouterr()
    assert rc == 0, out
    assert f"events copied: {sizes['events']}" in out
    assert f"(key prefix '{key_prefix}')" in out
    async with (
        open_service(redis_url, key_prefix) as redis,
        open_service(
            target.replace("sqlite://", "sqlite+aiosqlite://"), key_prefix
        ) as sqlite,
    ):
        assert await assert_same(redis, sqlite, APP) == 4


async def test_limit_and_conflict_exit_codes(
    pg_url: str,
    redis_url: str,
    key_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with open_service(pg_url, key_prefix) as pg:
        await populate(pg)
    argv = ["migrate", "--from", pg_url, "--to", redis_url, "--app", APP]
    argv += ["--redis-prefix", key_prefix]
    assert await _main([*argv, "--limit", "3"]) == 3
    out, _ = capsys.readouterr()
    assert "1 pending" in out and "stopped by --limit" in out
    assert await _main([*argv, "--dry-run"]) == 0
    out, _ = capsys.readouterr()
    assert "would copy 1 (1 new), 3 already up to date" in out
    assert await _main(argv) == 0
    async with open_service(redis_url, key_prefix) as redis:
        s2 = await redis.get_session(app_name=APP, user_id="u1", session_id="s2")
        assert s2 is not None
        await redis.append_event(s2, _event())
    assert await _main(argv) == 1
    out, _ = capsys.readouterr()
    assert "conflict: session support/u1/s2: the target has 1 event(s)" in out
    assert "result: FAILED" in out


def _event() -> Event:
    return text_event(BASE + 99, "user", "written to the target only")


async def test_errors_exit_2_without_secrets(
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    unreachable = f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/adk"
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    cases = {
        "stopped: ": ["--from", unreachable, "--to", redis_url],
        "holds no ADK session tables": [
            "--from",
            f"sqlite+aiosqlite:///{empty}",
            "--to",
            redis_url,
        ],
        "name the same store": ["--from", redis_url, "--to", redis_url + "/"],
        "environment variable NOPE_NOT_SET is not set": [
            "--from",
            "env:NOPE_NOT_SET",
            "--to",
            redis_url,
        ],
        "not a URL": ["--from", "localhost:6379", "--to", redis_url],
    }
    for expected, urls in cases.items():
        argv = ["migrate", *urls, "--app", APP, "--redis-prefix", key_prefix]
        assert await _main(argv) == 2, expected
        out, err = capsys.readouterr()
        assert expected in err
        assert SECRET not in out + err
    # The source was only looked at: still no tables.
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    with pytest.raises(SystemExit) as exit_info:
        main(["migrate", "--from", redis_url, "--to", redis_url])  # no --app
    assert exit_info.value.code == 2

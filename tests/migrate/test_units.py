"""Pieces of the migration that need no server."""

from __future__ import annotations

import argparse
import json

import pytest
from google.adk.events.event import Event
from google.adk.sessions.session import Session

from adk_redis_session._migrate_compare import (
    changed_keys,
    compare_sessions,
    extra_keys,
    plan_session,
    session_scoped,
)
from adk_redis_session._migrate_report import MigrationReport, Progress
from adk_redis_session._migrate_stores import (
    MigrationSetupError,
    normalize_url,
    redact_url,
)
from adk_redis_session.migrate import MigrationOptions, _scrub, _time

from ._data import BASE, text_event


def session(events: list[Event], state: dict[str, object] | None = None) -> Session:
    return Session(
        id="s",
        app_name="a",
        user_id="u",
        state=dict(state or {}),
        events=events,
        last_update_time=events[-1].timestamp if events else BASE,
    )


E1 = text_event(BASE + 1, "user", "one")
E2 = text_event(BASE + 2, "helper", "two")
E3 = text_event(BASE + 3, "user", "three")


def test_plan_copies_what_is_missing() -> None:
    plan = plan_session(session([E1, E2, E3]), None)
    assert (plan.create, [e.id for e in plan.missing]) == (True, [E1.id, E2.id, E3.id])
    plan = plan_session(session([E1, E2, E3]), session([E1]))
    assert (plan.create, [e.id for e in plan.missing]) == (False, [E2.id, E3.id])
    plan = plan_session(session([E1, E2]), session([E1, E2]))
    assert (plan.missing, plan.conflict) == ([], None)


def test_plan_refuses_a_target_written_on_its_own() -> None:
    plan = plan_session(session([E1]), session([E1, E2]))
    assert (
        plan.conflict == f"the target has 1 event(s) the source lacks (first: {E2.id})"
    )
    assert plan.missing == []
    changed = E1.model_copy(update={"author": "someone"})
    plan = plan_session(session([E1, E2]), session([changed]))
    assert plan.conflict == (
        f"event {E1.id} differs between source and target (fields: author)"
    )
    plan = plan_session(session([E1], {"a": 1}), session([E1], {"a": 1, "b": 2}))
    assert plan.conflict == "the target's session state has key(s) the source lacks: b"
    # Shared scopes are not the session's: handled per user / app.
    plan = plan_session(session([E1]), session([], {"user:x": 1, "app:y": 2}))
    assert plan.conflict is None


def test_compare_sessions() -> None:
    assert compare_sessions(session([E1, E2]), session([E1, E2])) == ("equal", "")
    assert compare_sessions(session([E1]), None) == (
        "mismatch",
        "missing in the target",
    )
    assert compare_sessions(session([E1, E2]), session([E1])) == (
        "behind",
        "the source has 1 newer event(s)",
    )
    assert compare_sessions(session([E1]), session([E1, E2]))[0] == "mismatch"
    assert compare_sessions(session([E1, E2]), session([E2, E1])) == (
        "mismatch",
        f"event #0 is {E1.id} in the source, {E2.id} in the target",
    )
    status, why = compare_sessions(
        session([E1], {"k": 1, "secret": "hunter2"}),
        session([E1], {"k": 1.0, "secret": "other"}),
    )
    assert (status, why) == ("mismatch", "state differs in key(s): k, secret")
    late = session([E1])
    late.last_update_time += 0.5
    assert compare_sessions(late, session([E1]))[1].startswith("last_update_time ")
    close = session([E1])
    close.last_update_time += 4e-7  # a database's microsecond rounding
    assert compare_sessions(close, session([E1]))[0] == "equal"


def test_state_comparisons_are_strict_json() -> None:
    source = {"n": 1, "b": True, "d": {"x": [1, 2]}, "same": "v"}
    target = {"n": 1.0, "b": 1, "d": {"x": [1, 2]}, "same": "v", "extra": 0}
    assert changed_keys(source, target) == {"n": 1, "b": True}
    assert changed_keys({"d": {"a": 1, "b": 2}}, {"d": {"b": 2, "a": 1}}) == {}
    assert extra_keys(source, target) == ["extra"]
    merged = {"k": 1, "app:a": 2, "user:u": 3, "temp:t": 4}
    assert session_scoped(merged) == {"k": 1}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("rediss://default:p@ss:w@h:6380/1", "rediss://default:***@h:6380/1"),
        ("redis://h:6379/0?password=pw&db=1", "redis://h:6379/0?password=***&db=1"),
        ("unix:///run/redis.sock?password=pw", "unix:///run/redis.sock?password=***"),
        (
            "postgresql+asyncpg://u:p%40w@db:5432/adk?sslmode=require",
            "postgresql+asyncpg://u:***@db:5432/adk?sslmode=require",
        ),
        ("sqlite+aiosqlite:////var/lib/adk.db", "sqlite+aiosqlite:////var/lib/adk.db"),
        ("redis://h:6379/0", "redis://h:6379/0"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_normalize_url() -> None:
    assert normalize_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalize_url("postgres://u@h/db?sslmode=require") == (
        "postgresql+asyncpg://u@h/db?ssl=require"
    )
    assert normalize_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_url("redis://h/0") == "redis://h/0"
    with pytest.raises(MigrationSetupError) as info:
        normalize_url("postgresql+psycopg2://u:hunter2@h/db")
    assert "hunter2" not in str(info.value)
    with pytest.raises(MigrationSetupError, match="is not a URL"):
        normalize_url("localhost:6379")


def test_options_are_checked() -> None:
    with pytest.raises(MigrationSetupError, match="at least one app"):
        MigrationOptions(apps=[])
    with pytest.raises(MigrationSetupError, match="exclude each other"):
        MigrationOptions(apps=["a"], dry_run=True, verify_only=True)
    with pytest.raises(MigrationSetupError, match="--limit"):
        MigrationOptions(apps=["a"], limit=0)
    assert MigrationOptions(apps=["a"], dry_run=True).mode == "dry-run"


def test_scrub_removes_passwords_from_messages() -> None:
    urls = ["postgresql://u:p%40ss@h/db", "redis://:r3dis@h/0"]
    message = "failed for p@ss, p%40ss and r3dis"
    assert _scrub(message, urls) == "failed for ***, *** and ***"


def test_report_outcomes_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    report = MigrationReport(source="a", target="b", apps=["x"], users=[])
    assert (report.outcome, report.exit_code) == ("ok", 0)
    report.sessions_pending = 2
    assert (report.outcome, report.exit_code) == ("incomplete", 3)
    report.conflicts.append("session x/u/s: why")
    assert (report.outcome, report.exit_code) == ("failed", 1)
    data = json.loads(report.to_json())
    assert data["outcome"] == "failed" and data["sessions_pending"] == 2
    progress = Progress(every=2)
    progress.start(report, "x", 3, "checking")
    for _ in range(3):
        report.sessions_copied += 1
        progress.step(report)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "[migrate] app 'x': checking 3 session(s)"
    assert err[1].startswith("[migrate] app 'x': 2/3 checked (2 copied, ")
    assert err[2].startswith("[migrate] app 'x': 3/3 checked (3 copied, ")


def test_since_accepts_iso_and_posix_times() -> None:
    assert _time("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert _time("2023-11-14T22:13:20") == 1_700_000_000.0  # naive: UTC
    assert _time("2023-11-14T23:13:20+01:00") == 1_700_000_000.0
    assert _time("1700000000.5") == 1_700_000_000.5
    with pytest.raises(argparse.ArgumentTypeError, match="not a time"):
        _time("yesterday")

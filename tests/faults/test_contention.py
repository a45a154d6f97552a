"""(c) Contention: 8 processes x 500 appends over 3 shared sessions.

Each process (`_contention_worker.py`, a separate interpreter with its own
service and connection) appends its events round-robin over the sessions,
holding one Session object per session; when an append is rejected it
reloads that session (the newest event only) and retries the same event.
The processes start together (a barrier on stdin). Afterwards:

* every rejected write was a ``StaleSessionError``, and every event was
  eventually appended (reloading then retrying succeeds);
* 4000 events are stored, each process's 500 exactly once, none unknown;
* in each session, each process's events are in that process's order, in
  the list and as ``get_session`` returns them;
* each session's state holds, per process, its last event there.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from adk_redis_session import RedisSessionService
from adk_redis_session.testing import LocalRedisServer

from ._workload import APP, USER, assert_writer_order, audit_session, seq_of, tag_of
from .conftest import Record

pytestmark = pytest.mark.redis

PROCESSES = 8
APPENDS = 500
SESSIONS = 3
WORKER = Path(__file__).with_name("_contention_worker.py")


def run_workers(url: str, prefix: str, session_ids: list[str]) -> list[dict[str, Any]]:
    """Starts the processes, releases them together, returns their reports."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                *("--url", url, "--prefix", prefix, "--worker", str(w)),
                *("--sessions", ",".join(session_ids), "--count", str(APPENDS)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(PROCESSES)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", (line, proc.stderr and proc.stderr.read())
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def test_eight_processes_contending_lose_and_duplicate_nothing(
    redis_server: LocalRedisServer,
    redis_client: aioredis.Redis,
    key_prefix: str,
    fault_figures: Record,
) -> None:
    session_ids = [f"shared{i}" for i in range(SESSIONS)]
    service = RedisSessionService(client=redis_client, key_prefix=key_prefix)
    for sid in session_ids:
        await service.create_session(app_name=APP, user_id=USER, session_id=sid)

    started = time.monotonic()
    reports = await asyncio.to_thread(
        run_workers, redis_server.url, key_prefix, session_ids
    )
    elapsed = time.monotonic() - started

    stored = {
        sid: await audit_session(redis_client, key_prefix, APP, USER, sid)
        for sid in session_ids
    }
    stale = sum(r["rejected"].get("StaleSessionError", 0) for r in reports)
    load_seconds = max(r["seconds"] for r in reports)
    total = sum(len(ids) for ids in stored.values())
    fault_figures(
        processes=PROCESSES,
        appends_per_process=APPENDS,
        sessions=SESSIONS,
        events_stored=total,
        stale_rejections=stale,
        other_rejections=sum(
            n
            for r in reports
            for k, n in r["rejected"].items()
            if k != "StaleSessionError"
        ),
        lost=PROCESSES * APPENDS - len({e for ids in stored.values() for e in ids}),
        duplicated=total - len({e for ids in stored.values() for e in ids}),
        load_seconds=round(load_seconds, 1),
        seconds=round(elapsed, 1),
    )
    for report in reports:
        assert report["error"] == "", report["error"]
        assert set(report["rejected"]) <= {"StaleSessionError"}, report["rejected"]
    assert total == PROCESSES * APPENDS
    assert stale > 0, "no contention happened"
    for report in reports:
        tag = f"p{report['worker']}"
        expected = {f"{tag}-{i:05d}" for i in range(APPENDS)}
        reported = {e for ids in report["appended"].values() for e in ids}
        assert reported == expected  # every event eventually appended
        for sid, ids in report["appended"].items():
            mine = [e for e in stored[sid] if tag_of(e) == tag]
            assert mine == ids, f"{tag} in {sid}: stored order differs"

    fresh = RedisSessionService(client=redis_client, key_prefix=key_prefix)
    for sid, ids in stored.items():
        assert_writer_order(ids)
        loaded = await fresh.get_session(app_name=APP, user_id=USER, session_id=sid)
        assert loaded is not None
        read = [e.id for e in loaded.events]
        assert sorted(read) == sorted(ids)
        assert_writer_order(read)
        last: dict[str, int] = {}
        for event_id in ids:
            last[tag_of(event_id)] = seq_of(event_id)
        assert loaded.state == last

"""(a) Crash: kill -9 the server during a concurrent append load.

The server runs with ``appendonly yes`` and ``appendfsync always`` in its own
directory. Eight writers (two per session, each through its own Session
object) append as fast as they can, while the test kills the server with
SIGKILL at random moments, a few times, and restarts it on the same port and
directory. Writers keep a ledger; on an error they retry the same event
through the same Session object (or, sometimes, give it up and reload), and
on ``StaleSessionError`` they reload. Afterwards, read directly from Redis:

* every append that returned success is stored, exactly once;
* nothing is stored that nobody sent;
* appends that raised (or were given up) are stored at most once;
* each session's keys agree (revision, id index, timestamp index), each
  writer's events are in its own order, and the state holds each writer's
  last stored event (a delta is stored iff its event is).

Run twice: with redis-py's own retries (a ``Redis(host=..., port=...)``
client: 10 retries with exponential backoff) and with none (what
``RedisSessionService.from_url`` builds: redis-py adds no retry policy to
``from_url`` clients, so every cut reaches the caller).

Note: SIGKILL loses nothing the kernel already has, so this proves the
store's ordering (reply only after the AOF write), not fsync itself, which
only matters when the machine loses power.
"""

from __future__ import annotations

import asyncio
import os
import random
import time

import pytest
import redis.asyncio as aioredis
from google.adk.errors import StaleSessionError
from google.adk.sessions.session import Session

from adk_redis_session import RedisSessionService, StoreUnavailableError

from ._server import RestartableRedis
from ._workload import (
    APP,
    USER,
    Ledger,
    assert_writer_order,
    audit_session,
    make_event,
    reconcile,
    seq_of,
    tag_of,
)
from .conftest import Record

pytestmark = pytest.mark.redis

SESSIONS = 4
WRITERS_PER_SESSION = 2
CRASHES = 5


def fault_seed() -> int:
    return int(
        os.environ.get("ADK_FAULT_SEED") or random.SystemRandom().getrandbits(32)
    )


def make_service(
    kind: str, server: RestartableRedis, prefix: str
) -> RedisSessionService:
    if kind == "redis-py-retries":
        client = aioredis.Redis(
            host="127.0.0.1",
            port=server.port,
            socket_timeout=5,
            socket_connect_timeout=5,
        )
        return RedisSessionService(client=client, key_prefix=prefix)
    return RedisSessionService.from_url(server.url, key_prefix=prefix)


async def reload(service: RedisSessionService, session_id: str) -> Session:
    """Reads the session, waiting out an outage."""
    while True:
        try:
            session = await service.get_session(
                app_name=APP, user_id=USER, session_id=session_id
            )
        except StoreUnavailableError:
            await asyncio.sleep(0.02)
            continue
        assert session is not None, f"session {session_id!r} vanished"
        return session


async def writer(
    service: RedisSessionService,
    session_id: str,
    ledger: Ledger,
    stop: asyncio.Event,
    rng: random.Random,
) -> None:
    session = await reload(service, session_id)
    seq = 0
    while not stop.is_set():
        event = make_event(ledger.tag, seq, **{ledger.tag: seq})
        ledger.attempted.append(event.id)
        while True:
            try:
                await service.append_event(session, event)
            except StoreUnavailableError:
                ledger.errors["StoreUnavailableError"] += 1
                ledger.raised.add(event.id)
                await asyncio.sleep(0.02)
                if rng.random() < 0.2:
                    # Give the event up: it may or may not be stored.
                    ledger.abandoned.add(event.id)
                    session = await reload(service, session_id)
                    break
                ledger.retries += 1  # same event, same Session object
                continue
            except StaleSessionError:
                ledger.errors["StaleSessionError"] += 1
                session = await reload(service, session_id)
                if any(e.id == event.id for e in session.events):
                    break  # stored by an attempt whose reply was lost
                continue
            ledger.succeeded.add(event.id)
            break
        seq += 1


@pytest.mark.parametrize("client_kind", ["redis-py-retries", "no-retries"])
async def test_kill_9_during_appends_loses_no_acknowledged_event(
    durable_redis: RestartableRedis,
    key_prefix: str,
    client_kind: str,
    fault_figures: Record,
) -> None:
    seed = fault_seed()
    rng = random.Random(seed)
    service = make_service(client_kind, durable_redis, key_prefix)
    admin = aioredis.Redis(host="127.0.0.1", port=durable_redis.port)
    try:
        session_ids = [f"s{i}" for i in range(SESSIONS)]
        for sid in session_ids:
            await service.create_session(app_name=APP, user_id=USER, session_id=sid)
        stop = asyncio.Event()
        ledgers: list[Ledger] = []
        tasks = []
        for sid in session_ids:
            for w in range(WRITERS_PER_SESSION):
                ledger = Ledger(tag=f"{sid}w{w}")
                ledgers.append(ledger)
                tasks.append(
                    asyncio.create_task(
                        writer(service, sid, ledger, stop, random.Random(rng.random()))
                    )
                )

        def acked() -> int:
            return sum(len(ledger.succeeded) for ledger in ledgers)

        async def progress(at_least: int) -> None:
            """Waits until the writers got at least this many more successes:
            every crash hits a running load, not a stalled one."""
            target = acked() + at_least
            deadline = time.monotonic() + 30
            while acked() < target:
                assert time.monotonic() < deadline, f"load stalled (seed={seed})"
                await asyncio.sleep(0.01)

        started = time.monotonic()
        downtime = 0.0
        for _ in range(CRASHES):
            await progress(50)
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            durable_redis.kill9()
            down_at = time.monotonic()
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            await asyncio.to_thread(durable_redis.start)
            downtime += time.monotonic() - down_at
        await progress(50)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        elapsed = time.monotonic() - started

        stored = {
            sid: await audit_session(admin, key_prefix, APP, USER, sid)
            for sid in session_ids
        }
        result = reconcile(stored.values(), ledgers)
        context = f"seed={seed} client={client_kind}"
        fault_figures(
            client=client_kind,
            seed=seed,
            crashes=CRASHES,
            appends_acknowledged=result.succeeded,
            events_stored=result.stored,
            caller_errors=sum(sum(ledger.errors.values()) for ledger in ledgers),
            stale_rejections=sum(
                ledger.errors["StaleSessionError"] for ledger in ledgers
            ),
            retries_same_event=sum(ledger.retries for ledger in ledgers),
            given_up=f"{result.abandoned_stored} stored/{result.abandoned_missing} not",
            lost=len(result.lost),
            duplicated=result.duplicated,
            unknown=len(result.unknown),
            downtime_s=round(downtime, 2),
            aof_truncated_tails=durable_redis.log_count("short read"),
            seconds=round(elapsed, 1),
        )
        result.assert_clean()
        # Each restart read the data set back from the AOF.
        assert durable_redis.log_count("DB loaded from append only file") == CRASHES
        for sid, ids in stored.items():
            assert_writer_order(ids)
            # Through a fresh service too (no client-side cache).
            fresh = RedisSessionService(client=admin, key_prefix=key_prefix)
            loaded = await fresh.get_session(app_name=APP, user_id=USER, session_id=sid)
            assert loaded is not None
            assert sorted(e.id for e in loaded.events) == sorted(ids), context
            # A delta is stored iff its event is: each writer's key holds its
            # last stored event's number, and no other writer key exists.
            last: dict[str, int] = {}
            for event_id in ids:
                last[tag_of(event_id)] = seq_of(event_id)
            assert loaded.state == last, context
    finally:
        await service.aclose()
        await service.client.aclose()  # an injected client is not the service's
        await admin.aclose()

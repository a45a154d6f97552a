"""(b) Cut connections: a proxy drops connections at chosen points.

`ChaosProxy` sits between the service and a real redis-server and aborts
connections before forwarding a request, half-way through it, right after
forwarding it, after the server answered but before relaying the reply, or
half-way through the reply (see its docstring).

Two clients, because redis-py's own retry policy decides what the caller
sees. In redis-py 8, ``redis.asyncio.Redis(host=..., port=...)`` defaults to
``Retry(ExponentialWithJitterBackoff(base=0.01, cap=1), 10)`` on
``ConnectionError`` and ``TimeoutError``: a cut is retried on a new
connection, and the script call is sent again with the same arguments.
``Redis.from_url(...)`` (and so ``RedisSessionService.from_url`` /
``uri=``) gets no retry policy at all: every cut reaches the caller as
``StoreUnavailableError``, and the caller retries.

The deterministic tests cut one script call at each point and check what is
stored, then what a retry does. The random test runs writers through a proxy
that cuts ~5% of requests at random points; writers retry a failed append
with the same event and the same Session object (giving it up now and then,
reloading). Afterwards, read directly from Redis: every success stored
exactly once, every stored event one that was sent, each event's state delta
stored iff the event is, and the revision equals the number of events.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from google.adk.errors import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.sessions.session import Session

from adk_redis_session import RedisSessionService, StoreUnavailableError
from adk_redis_session._keys import KeySchema
from adk_redis_session.testing import LocalRedisServer

from ._chaos_proxy import FAULTS, ChaosProxy
from ._workload import (
    APP,
    USER,
    Ledger,
    assert_writer_order,
    audit_session,
    make_event,
    reconcile,
    seq_of,
)
from .conftest import Record

pytestmark = pytest.mark.redis

CLIENT_KINDS = ["redis-py-retries", "no-retries"]
WORKERS = 8
EVENTS_PER_WORKER = 250
CUT_RATE = 0.05
MAX_TRIES = 8


def make_service(kind: str, port: int, prefix: str) -> RedisSessionService:
    if kind == "redis-py-retries":
        client = aioredis.Redis(
            host="127.0.0.1", port=port, socket_timeout=5, socket_connect_timeout=5
        )
        return RedisSessionService(client=client, key_prefix=prefix)
    return RedisSessionService.from_url(
        f"redis://127.0.0.1:{port}/0", key_prefix=prefix
    )


async def close_service(service: RedisSessionService) -> None:
    await service.aclose()
    await service.client.aclose()  # closes an injected client; no-op if owned


@pytest.fixture
async def admin(redis_server: LocalRedisServer) -> AsyncIterator[aioredis.Redis]:
    """A direct client (no proxy) for setup and verification."""
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


def test_redis_py_default_retry_policies() -> None:
    """What this file relies on: redis-py's defaults for the two clients."""
    direct = aioredis.Redis(host="127.0.0.1", port=1)
    retry = direct.get_retry()
    assert retry is not None
    assert retry.get_retries() == 10
    backoff = retry._backoff  # redis-py has no public getter
    assert type(backoff).__name__ == "ExponentialWithJitterBackoff"
    assert (backoff._base, backoff._cap) == (0.01, 1)
    from_url = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
    assert from_url.get_retry() is None  # each connection: Retry(NoBackoff(), 0)
    connection = from_url.connection_pool.make_connection()
    assert connection.retry.get_retries() == 0


# -- one cut at each point ----------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("client_kind", CLIENT_KINDS)
async def test_one_cut_append_then_retry_stores_once(
    redis_server: LocalRedisServer,
    admin: aioredis.Redis,
    key_prefix: str,
    client_kind: str,
    fault: str,
) -> None:
    proxy = await ChaosProxy(redis_server.port).start()
    service = make_service(client_kind, proxy.port, key_prefix)
    try:
        session = await service.create_session(
            app_name=APP, user_id=USER, session_id="s", state={"k": 0}
        )
        await service.append_event(session, make_event("w", 0, k=0))
        event = make_event("w", 1, k=1, e1=1)
        proxy.arm(fault)
        if client_kind == "redis-py-retries":
            # redis-py resends the same script call on a new connection.
            await service.append_event(session, event)
        else:
            with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1"):
                await service.append_event(session, event)
            ids = await audit_session(admin, key_prefix, APP, USER, "s")
            if fault in ("drop_request", "partial_request"):
                assert ids == ["w-00000"]  # never reached the server
            elif fault in ("drop_reply", "partial_reply"):
                assert ids == ["w-00000", "w-00001"]  # ran; the reply was lost
            else:  # in_flight: either, whole or nothing (the keys agree)
                assert ids in (["w-00000"], ["w-00000", "w-00001"])
            # The caller retries: same event, same Session object.
            await service.append_event(session, event)
        assert not proxy.armed
        assert proxy.total_cuts == 1
        ids = await audit_session(admin, key_prefix, APP, USER, "s")
        assert ids == ["w-00000", "w-00001"]
        assert [e.id for e in session.events] == ids
        # The live object is current: the next append is not stale.
        await service.append_event(session, make_event("w", 2, k=2))
        loaded = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert loaded is not None
        assert [e.id for e in loaded.events] == ["w-00000", "w-00001", "w-00002"]
        assert loaded.state == {"k": 2, "e1": 1}
    finally:
        await close_service(service)
        await proxy.stop()


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("client_kind", CLIENT_KINDS)
async def test_one_cut_create_then_retry(
    redis_server: LocalRedisServer,
    admin: aioredis.Redis,
    key_prefix: str,
    client_kind: str,
    fault: str,
) -> None:
    proxy = await ChaosProxy(redis_server.port).start()
    service = make_service(client_kind, proxy.port, key_prefix)
    meta = KeySchema(key_prefix).session(APP, USER, "s").meta
    try:
        proxy.arm(fault)
        if client_kind == "redis-py-retries":
            # The resent call carries the same incarnation token: it gets
            # back the session its first attempt created.
            session = await service.create_session(
                app_name=APP, user_id=USER, session_id="s", state={"k": 1}
            )
            assert session.state == {"k": 1}
        else:
            with pytest.raises(StoreUnavailableError):
                await service.create_session(
                    app_name=APP, user_id=USER, session_id="s", state={"k": 1}
                )
            landed = await admin.exists(meta) == 1
            if fault in ("drop_reply", "partial_reply"):
                assert landed
            if fault in ("drop_request", "partial_request"):
                assert not landed
            if landed:
                # A new call draws a new token: the caller cannot tell its own
                # lost create from someone else's (docs/reliability.md).
                with pytest.raises(AlreadyExistsError):
                    await service.create_session(
                        app_name=APP, user_id=USER, session_id="s", state={"k": 1}
                    )
            else:
                await service.create_session(
                    app_name=APP, user_id=USER, session_id="s", state={"k": 1}
                )
        assert proxy.total_cuts == 1
        listed = await service.list_sessions(app_name=APP, user_id=USER)
        assert [s.id for s in listed.sessions] == ["s"]
        assert listed.sessions[0].state == {"k": 1}
    finally:
        await close_service(service)
        await proxy.stop()


# -- random cuts under load ---------------------------------------------------


def fault_seed() -> int:
    return int(
        os.environ.get("ADK_FAULT_SEED") or random.SystemRandom().getrandbits(32)
    )


class Counters:
    def __init__(self) -> None:
        self.create_replies_lost = 0
        self.reload_errors = 0


async def reload(
    service: RedisSessionService, session_id: str, counters: Counters
) -> Session:
    while True:
        try:
            session = await service.get_session(
                app_name=APP, user_id=USER, session_id=session_id
            )
        except StoreUnavailableError:
            counters.reload_errors += 1
            continue
        assert session is not None
        return session


async def create(
    service: RedisSessionService, session_id: str, counters: Counters
) -> Session:
    failed = False
    while True:
        try:
            return await service.create_session(
                app_name=APP, user_id=USER, session_id=session_id
            )
        except StoreUnavailableError:
            failed = True
        except AlreadyExistsError:
            # Only this worker creates this id: its own earlier attempt landed.
            assert failed
            counters.create_replies_lost += 1
            return await reload(service, session_id, counters)


async def worker(
    service: RedisSessionService,
    ledger: Ledger,
    rng: random.Random,
    counters: Counters,
) -> None:
    session_id = ledger.tag
    session = await create(service, session_id, counters)
    for seq in range(EVENTS_PER_WORKER):
        event = make_event(
            ledger.tag,
            seq,
            **{
                f"e{seq}": seq,
                "last": seq,
                f"user:last_{ledger.tag}": seq,
                f"app:last_{ledger.tag}": seq,
            },
        )
        ledger.attempted.append(event.id)
        for attempt in range(MAX_TRIES):
            try:
                await service.append_event(session, event)
            except StoreUnavailableError:
                ledger.errors["StoreUnavailableError"] += 1
                ledger.raised.add(event.id)
                if attempt == MAX_TRIES - 1 or rng.random() < 0.1:
                    ledger.abandoned.add(event.id)
                    session = await reload(service, session_id, counters)
                    break
                ledger.retries += 1
                continue
            except StaleSessionError:  # nobody else writes this session
                ledger.errors["StaleSessionError"] += 1
                raise
            ledger.succeeded.add(event.id)
            break


@pytest.mark.parametrize("client_kind", CLIENT_KINDS)
async def test_random_cuts_during_appends_lose_and_duplicate_nothing(
    redis_server: LocalRedisServer,
    admin: aioredis.Redis,
    key_prefix: str,
    client_kind: str,
    fault_figures: Record,
) -> None:
    seed = fault_seed()
    proxy = await ChaosProxy(redis_server.port, rate=CUT_RATE, seed=seed).start()
    service = make_service(client_kind, proxy.port, key_prefix)
    rng = random.Random(seed)
    counters = Counters()
    ledgers = [Ledger(tag=f"w{i}") for i in range(WORKERS)]
    try:
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    worker(service, ledger, random.Random(rng.random()), counters)
                    for ledger in ledgers
                )
            ),
            120,
        )
    finally:
        await close_service(service)
        await proxy.stop()

    stored = {
        ledger.tag: await audit_session(admin, key_prefix, APP, USER, ledger.tag)
        for ledger in ledgers
    }
    result = reconcile(stored.values(), ledgers)
    fault_figures(
        client=client_kind,
        seed=seed,
        events_attempted=sum(len(ledger.attempted) for ledger in ledgers),
        appends_acknowledged=result.succeeded,
        events_stored=result.stored,
        connections_cut=proxy.total_cuts,
        cuts_by_point=dict(sorted(proxy.cuts.items())),
        cuts_on_script_calls=proxy.script_cuts,
        caller_errors=sum(sum(ledger.errors.values()) for ledger in ledgers),
        retries_same_event=sum(ledger.retries for ledger in ledgers),
        given_up=f"{result.abandoned_stored} stored/{result.abandoned_missing} not",
        create_replies_lost=counters.create_replies_lost,
        lost=len(result.lost),
        duplicated=result.duplicated,
        unknown=len(result.unknown),
    )
    result.assert_clean()
    assert proxy.script_cuts > 0, f"no append was cut (seed={seed})"
    if client_kind == "no-retries":
        assert sum(ledger.retries for ledger in ledgers) > 0

    fresh = RedisSessionService(client=admin, key_prefix=key_prefix)
    user_state = await fresh.get_user_state(app_name=APP, user_id=USER)
    for ledger in ledgers:
        ids = stored[ledger.tag]
        assert_writer_order(ids)
        seqs = [seq_of(event_id) for event_id in ids]
        loaded = await fresh.get_session(
            app_name=APP, user_id=USER, session_id=ledger.tag
        )
        assert loaded is not None
        assert [e.id for e in loaded.events] == ids
        # Each stored event's delta is there, and no delta without its event.
        expected = {f"e{seq}": seq for seq in seqs}
        if seqs:
            expected["last"] = seqs[-1]
            assert user_state[f"last_{ledger.tag}"] == seqs[-1]
            assert loaded.state[f"app:last_{ledger.tag}"] == seqs[-1]
        session_scope = {
            k: v for k, v in loaded.state.items() if not k.startswith(("user:", "app:"))
        }
        assert session_scope == expected

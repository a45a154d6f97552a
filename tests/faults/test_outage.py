"""(d) Outage: Redis down at startup, down during operation, hung; then back.

What the caller sees while Redis is away, and that the same service object
works again once it returns, with no restart of the application:

* down at startup (service constructed, no server on the port): every
  operation raises ``StoreUnavailableError`` naming ``host:port``, fast;
  then the server starts on that port and the same service works;
* killed during operation: operations fail fast; the server restarts with
  its AOF and the same service and the same Session object carry on;
* hung (SIGSTOP: connections are accepted, nothing answers): operations
  fail after the socket timeout, not later; after SIGCONT they work.

For the two clients redis-py builds (see test_cut_connections.py): a
``from_url`` client (the service's own, no retries) fails at the first
error; a ``Redis(host=..., port=...)`` client retries 10 times with
exponential backoff (at most ~5.3 s of sleeps in total), so it rides out a
short outage but takes longer to give up. Bounds are generous for a noisy
machine; the figures record what was measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from google.adk.sessions.session import Session

from adk_redis_session import RedisSessionService, StoreUnavailableError

from ._server import RestartableRedis
from ._workload import APP, USER, make_event
from .conftest import Record

pytestmark = pytest.mark.redis

#: Upper bound for failing fast with no retries (measured: ~0.01 s refused).
FAST_S = 10.0
#: Sum of redis-py's default backoff sleeps: min(1, 0.01 * 2**n), n = 1..10.
DEFAULT_BACKOFF_MAX_S = sum(min(1.0, 0.01 * 2**n) for n in range(1, 11))

Operation = Callable[[RedisSessionService], Awaitable[object]]

OPERATIONS: dict[str, Operation] = {
    "create": lambda s: s.create_session(app_name=APP, user_id=USER),
    "get": lambda s: s.get_session(app_name=APP, user_id=USER, session_id="s"),
    "list": lambda s: s.list_sessions(app_name=APP),
    "user_state": lambda s: s.get_user_state(app_name=APP, user_id=USER),
    "delete": lambda s: s.delete_session(app_name=APP, user_id=USER, session_id="x"),
    "append": lambda s: s.append_event(
        Session(id="s", app_name=APP, user_id=USER), make_event("o", 0)
    ),
}


async def time_failures(service: RedisSessionService, port: int) -> dict[str, float]:
    """Runs every operation; each must raise StoreUnavailableError naming
    127.0.0.1:port. Returns the seconds each took."""
    took: dict[str, float] = {}
    for name, operation in OPERATIONS.items():
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as info:
            await operation(service)
        took[name] = time.monotonic() - started
        assert f"127.0.0.1:{port}" in str(info.value), str(info.value)
    return took


async def round_trip(service: RedisSessionService, session_id: str) -> Session:
    session = await service.create_session(
        app_name=APP, user_id=USER, session_id=session_id, state={"k": 1}
    )
    await service.append_event(session, make_event(session_id, 0, k=2))
    loaded = await service.get_session(
        app_name=APP, user_id=USER, session_id=session_id
    )
    assert loaded is not None
    assert [e.id for e in loaded.events] == [f"{session_id}-00000"]
    assert loaded.state == {"k": 2}
    return session


async def test_down_at_startup_fails_fast_then_works_without_restart(
    key_prefix: str, fault_figures: Record
) -> None:
    with RestartableRedis(durable=False) as server:  # not started yet
        service = RedisSessionService.from_url(server.url, key_prefix=key_prefix)
        try:
            took = await time_failures(service, server.port)
            assert max(took.values()) < FAST_S, took
            await asyncio.to_thread(server.start)
            await round_trip(service, "after-start")
        finally:
            await service.aclose()
    fault_figures(
        client="from_url (no retries)",
        slowest_failure_s=round(max(took.values()), 3),
        recovered=True,
    )


async def test_down_at_startup_with_redis_py_retries(
    key_prefix: str, fault_figures: Record
) -> None:
    """redis-py's default retries: give up within the backoff budget, and a
    server that comes up during the retries is simply used."""
    with RestartableRedis(durable=False) as server:
        client = aioredis.Redis(host="127.0.0.1", port=server.port)
        service = RedisSessionService(client=client, key_prefix=key_prefix)
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{server.port}"):
                await service.get_session(app_name=APP, user_id=USER, session_id="s")
            gave_up = time.monotonic() - started
            assert gave_up < DEFAULT_BACKOFF_MAX_S + 3.0
            # Start the server while a call is retrying: the call succeeds.
            # (Its retries take seconds; all eleven attempts fitting in the
            # ~0.1 s the server takes to start is a ~1e-5 chance.)
            call = asyncio.create_task(round_trip(service, "during-retries"))
            await asyncio.sleep(0.05)
            assert not call.done()
            await asyncio.to_thread(server.start)
            await asyncio.wait_for(call, 15)
        finally:
            await service.aclose()
            await client.aclose()
    fault_figures(
        client="Redis(host, port) (10 retries)",
        gave_up_after_s=round(gave_up, 2),
        rode_out_outage=True,
    )


@pytest.mark.parametrize("client_kind", ["from_url", "redis-py-retries"])
async def test_killed_during_operation_then_back(
    durable_redis: RestartableRedis,
    key_prefix: str,
    client_kind: str,
    fault_figures: Record,
) -> None:
    if client_kind == "from_url":
        service = RedisSessionService.from_url(durable_redis.url, key_prefix=key_prefix)
    else:
        service = RedisSessionService(
            client=aioredis.Redis(host="127.0.0.1", port=durable_redis.port),
            key_prefix=key_prefix,
        )
    try:
        session = await round_trip(service, "s")
        event = make_event("s", 1, k=3)
        durable_redis.kill9()
        if client_kind == "from_url":
            took = await time_failures(service, durable_redis.port)
            assert max(took.values()) < FAST_S, took
        else:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError):
                await service.append_event(session, event)
            took = {"append": time.monotonic() - started}
            assert took["append"] < DEFAULT_BACKOFF_MAX_S + 3.0
        await asyncio.to_thread(durable_redis.start)
        # Same service, same Session object: the acknowledged event is back
        # (AOF), and the retried event is stored once.
        await service.append_event(session, event)
        loaded = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert loaded is not None
        assert [e.id for e in loaded.events] == ["s-00000", "s-00001"]
        assert loaded.state == {"k": 3}
    finally:
        await service.aclose()
        await service.client.aclose()
    fault_figures(
        client=client_kind,
        slowest_failure_s=round(max(took.values()), 3),
        recovered=True,
    )


@pytest.mark.parametrize("client_kind", ["from_url", "redis-py-retries"])
async def test_hung_server_fails_within_the_socket_timeout(
    key_prefix: str, client_kind: str, fault_figures: Record
) -> None:
    timeout = 0.2
    with RestartableRedis(durable=False) as server:
        server.start()
        if client_kind == "from_url":
            service = RedisSessionService.from_url(
                server.url,
                key_prefix=key_prefix,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
            # One attempt: the timeout, plus scheduling slack.
            bound = timeout + 3.0
        else:
            client = aioredis.Redis(
                host="127.0.0.1",
                port=server.port,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
            service = RedisSessionService(client=client, key_prefix=key_prefix)
            # 11 attempts, each up to the timeout on the command and on the
            # reconnect's handshake, plus the backoff sleeps.
            bound = 2 * 11 * timeout + DEFAULT_BACKOFF_MAX_S + 3.0
        try:
            session = await round_trip(service, "s")
            event = make_event("s", 1)
            server.freeze()
            try:
                started = time.monotonic()
                with pytest.raises(StoreUnavailableError) as info:
                    await service.append_event(session, event)
                took = time.monotonic() - started
                assert "TimeoutError" in str(info.value)
                assert f"127.0.0.1:{server.port}" in str(info.value)
            finally:
                server.thaw()
            assert timeout * 0.9 <= took < bound, took
            # Back: the same Session object retries the same event. (The
            # frozen server still runs the requests queued in its sockets
            # when it wakes: they are the same call, stored once.)
            await service.append_event(session, event)
            loaded = await service.get_session(
                app_name=APP, user_id=USER, session_id="s"
            )
            assert loaded is not None
            assert [e.id for e in loaded.events] == ["s-00000", "s-00001"]
        finally:
            await service.aclose()
            await service.client.aclose()
    fault_figures(
        client=client_kind,
        socket_timeout_s=timeout,
        failed_after_s=round(took, 2),
        bound_s=round(bound, 2),
    )

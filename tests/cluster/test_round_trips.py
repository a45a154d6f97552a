"""What each session operation sends to which cluster node.

Recorded per node with MONITOR (commands scripts run inside the server are
left out): ``append_event`` stays one command, so one round trip, to the
user's node in the common case, and reaches the app's node only for an
``app:`` delta or when the user's app index entry must move forward.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from redis.asyncio.cluster import RedisCluster

from .conftest import CommandLog, MakeService, node_port, user_on_another_node

pytestmark = [pytest.mark.redis, pytest.mark.cluster]

APP = "rt-app"


def _event(i: int, **delta: object) -> Event:
    return Event(
        author="agent",
        invocation_id=f"inv-{i}",
        actions=EventActions(state_delta=dict(delta)),
        timestamp=1_700_000_000.0 + i,
    )


@pytest.fixture
def user(redis_cluster_client: RedisCluster, key_prefix: str) -> str:
    """A user whose slot is on another node than the app's slot."""
    return user_on_another_node(redis_cluster_client, key_prefix, APP)


@pytest.fixture
def ports(
    redis_cluster_client: RedisCluster, key_prefix: str, user: str
) -> tuple[int, int]:
    """(port of the user's node, port of the app's node)."""
    return (
        node_port(redis_cluster_client, f"{key_prefix}:{{{APP}:{user}}}:x"),
        node_port(redis_cluster_client, f"{key_prefix}:{{{APP}}}:x"),
    )


def _only(sent: dict[int, list[str]], expected: dict[int, list[str]]) -> bool:
    """Whether exactly ``expected`` was sent, and nothing to other nodes."""
    return sent == {port: expected.get(port, []) for port in sent}


@pytest.mark.parametrize("ttl", [None, 3600.0], ids=["no-ttl", "ttl"])
async def test_append_is_one_command_to_the_user_node(
    make_service: MakeService,
    command_log: CommandLog,
    user: str,
    ports: tuple[int, int],
    ttl: float | None,
) -> None:
    service = await make_service(ttl_seconds=ttl)
    session = await service.create_session(app_name=APP, user_id=user)
    await service.append_event(session, _event(0))  # scripts loaded
    async with command_log.record() as sent:
        for i in range(1, 21):
            await service.append_event(session, _event(i, turn=i, **{"user:n": i}))
    assert _only(sent, {ports[0]: ["evalsha"] * 20})


async def test_append_with_an_app_delta_adds_one_step_on_the_app_node(
    make_service: MakeService,
    command_log: CommandLog,
    user: str,
    ports: tuple[int, int],
) -> None:
    service = await make_service(ttl_seconds=3600)
    session = await service.create_session(app_name=APP, user_id=user)
    await service.append_event(session, _event(0, **{"app:v": 0}))
    async with command_log.record() as sent:
        await service.append_event(session, _event(1, **{"app:v": 1}))
    assert _only(sent, {ports[0]: ["evalsha"], ports[1]: ["evalsha"]})


async def test_get_session_reads_both_slots(
    make_service: MakeService,
    command_log: CommandLog,
    user: str,
    ports: tuple[int, int],
) -> None:
    service = await make_service(event_cache_size=0)
    session = await service.create_session(
        app_name=APP, user_id=user, state={"app:a": 1}
    )
    await service.append_event(session, _event(0))
    await service.get_session(app_name=APP, user_id=user, session_id=session.id)
    async with command_log.record() as sent:
        loaded = await service.get_session(
            app_name=APP, user_id=user, session_id=session.id
        )
    assert loaded is not None and loaded.state == {"app:a": 1}
    assert _only(sent, {ports[0]: ["evalsha"], ports[1]: ["hgetall"]})


async def test_get_session_requests_run_in_parallel(
    make_service: MakeService, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both reads are in flight at once: latency is one round trip."""
    service = await make_service()
    session = await service.create_session(app_name=APP, user_id=user)
    in_flight = 0
    peak = 0
    original = type(service.client).hgetall

    async def slow_hgetall(self: RedisCluster, key: str) -> object:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return await original(self, key)

    script = service._get_script
    original_call = type(script).__call__

    async def slow_script(self: object, **kwargs: object) -> object:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return await original_call(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(service.client), "hgetall", slow_hgetall)
    monkeypatch.setattr(type(script), "__call__", slow_script)
    await service.get_session(app_name=APP, user_id=user, session_id=session.id)
    assert peak == 2


async def test_create_is_an_app_step_then_the_user_script(
    make_service: MakeService,
    command_log: CommandLog,
    user: str,
    ports: tuple[int, int],
) -> None:
    service = await make_service(ttl_seconds=3600)
    await service.create_session(app_name=APP, user_id=user)  # scripts loaded
    async with command_log.record() as sent:
        await service.create_session(app_name=APP, user_id=user, state={"x": 1})
    assert _only(sent, {ports[0]: ["evalsha"], ports[1]: ["evalsha"]})


async def test_create_with_app_state_writes_it_after_the_session(
    make_service: MakeService,
    command_log: CommandLog,
    user: str,
    ports: tuple[int, int],
) -> None:
    service = await make_service()
    await service.create_session(app_name=APP, user_id=user)  # scripts loaded
    async with command_log.record() as sent:
        created = await service.create_session(
            app_name=APP, user_id=user, state={"app:a": 1}
        )
    assert created.state == {"app:a": 1}
    assert _only(sent, {ports[0]: ["evalsha"], ports[1]: ["evalsha", "evalsha"]})


async def test_app_index_moves_about_once_per_half_ttl(
    make_service: MakeService,
    command_log: CommandLog,
    redis_cluster_client: RedisCluster,
    key_prefix: str,
    user: str,
    ports: tuple[int, int],
) -> None:
    """With a 1 s TTL, appends need an app step about every 0.5 s only.

    And after every append the user's app index entry is at or after the
    session's deadline, so ``list_sessions()`` never misses a live session.
    """
    service = await make_service(ttl_seconds=1.0)
    session = await service.create_session(app_name=APP, user_id=user)
    await service.append_event(session, _event(0))
    meta = f"{key_prefix}:{{{APP}:{user}}}:s:{session.id}:meta"
    users = f"{key_prefix}:{{{APP}}}:app:users"
    started = time.monotonic()
    async with command_log.record() as sent:
        for i in range(1, 17):
            await service.append_event(session, _event(i))
            await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    for i in range(17, 27):  # 1 s: across at least one refresh
        await service.append_event(session, _event(i))
        deadline = await redis_cluster_client.pexpiretime(meta)
        entry = await redis_cluster_client.zscore(users, user)
        assert entry is not None and entry >= deadline
        await asyncio.sleep(0.1)
    assert sent[ports[0]] == ["evalsha"] * 16
    app_steps = len(sent[ports[1]])
    assert app_steps == sent[ports[1]].count("evalsha")
    assert 1 <= app_steps <= elapsed / 0.5 + 1


async def test_delete_of_one_of_several_sessions_is_one_command(
    make_service: MakeService, command_log: CommandLog, user: str
) -> None:
    service = await make_service()
    first = await service.create_session(app_name=APP, user_id=user)
    await service.create_session(app_name=APP, user_id=user)
    await service.delete_session(app_name=APP, user_id=user, session_id="none")
    async with command_log.record() as sent:
        await service.delete_session(app_name=APP, user_id=user, session_id=first.id)
    assert sorted(name for names in sent.values() for name in names) == ["evalsha"]


async def test_list_sessions_of_a_user_is_two_pipelines(
    make_service: MakeService,
    command_log: CommandLog,
    user: str,
    ports: tuple[int, int],
) -> None:
    service = await make_service()
    for _ in range(3):
        await service.create_session(app_name=APP, user_id=user)
    async with command_log.record() as sent:
        listed = await service.list_sessions(app_name=APP, user_id=user)
    assert len(listed.sessions) == 3
    assert sorted(sent[ports[0]]) == sorted(
        ["zrange", "hgetall"] + ["hmget", "hgetall"] * 3
    )
    assert sent[ports[1]] == ["hgetall"]

"""The app-slot step on Redis Cluster: order, repair, delete, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from google.adk.errors import StaleSessionError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from redis.asyncio.cluster import RedisCluster

from adk_redis_session import RedisSessionService, StoreUnavailableError
from adk_redis_session._app_slot import AppSlot

from .conftest import MakeService

pytestmark = [pytest.mark.redis, pytest.mark.cluster]

APP, USER = "step-app", "step-user"


def _event(i: int, **delta: object) -> Event:
    return Event(
        author="agent",
        invocation_id=f"inv-{i}",
        actions=EventActions(state_delta=dict(delta)),
        timestamp=1_700_000_000.0 + i,
    )


def _keys(prefix: str, session_id: str) -> dict[str, str]:
    user = f"{prefix}:{{{APP}:{USER}}}"
    return {
        "events": f"{user}:s:{session_id}:events",
        "app_state": f"{prefix}:{{{APP}}}:app:state",
        "app_users": f"{prefix}:{{{APP}}}:app:users",
        "user_sessions": f"{user}:user:sessions",
    }


async def test_app_delta_lands_after_the_event(
    make_service: MakeService,
    redis_cluster_client: RedisCluster,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = await make_service()
    session = await service.create_session(app_name=APP, user_id=USER)
    keys = _keys(key_prefix, session.id)
    seen_at_app_step: list[tuple[int, Any]] = []
    original = AppSlot.sync

    async def watch(self: AppSlot, *args: Any, **kwargs: Any) -> Any:
        seen_at_app_step.append(
            (
                await redis_cluster_client.llen(keys["events"]),
                await redis_cluster_client.hget(keys["app_state"], "mode"),
            )
        )
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(AppSlot, "sync", watch)
    await service.append_event(session, _event(1, **{"app:mode": "on"}))
    # When the app step ran, the event was stored and the delta was not yet.
    assert seen_at_app_step == [(1, None)]
    assert await redis_cluster_client.hget(keys["app_state"], "mode") == b'"on"'


async def test_a_lost_app_step_is_repaired_by_retrying_the_append(
    make_service: MakeService,
    redis_cluster_client: RedisCluster,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = await make_service(ttl_seconds=3600)
    session = await service.create_session(app_name=APP, user_id=USER)
    keys = _keys(key_prefix, session.id)
    marker = session._storage_update_marker
    original = AppSlot.sync
    failures = [1]

    async def flaky(self: AppSlot, *args: Any, **kwargs: Any) -> Any:
        if failures:
            failures.pop()
            raise StoreUnavailableError("app node unreachable (injected)")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(AppSlot, "sync", flaky)
    event = _event(1, **{"app:mode": "on", "k": 1})
    with pytest.raises(StoreUnavailableError):
        await service.append_event(session, event)
    # The event and its session delta are stored; the app delta is not, and
    # the caller's session object is unchanged.
    assert await redis_cluster_client.llen(keys["events"]) == 1
    assert await redis_cluster_client.hget(keys["app_state"], "mode") is None
    assert session.events == [] and session._storage_update_marker == marker

    await service.append_event(session, event)  # the caller's retry
    assert await redis_cluster_client.llen(keys["events"]) == 1
    assert await redis_cluster_client.hget(keys["app_state"], "mode") == b'"on"'
    assert [e.id for e in session.events] == [event.id]
    loaded = await service.get_session(
        app_name=APP, user_id=USER, session_id=session.id
    )
    assert loaded is not None
    assert loaded.state == {"app:mode": "on", "k": 1}
    assert [e.id for e in loaded.events] == [event.id]


async def test_deleting_the_last_session_unlists_the_user(
    make_service: MakeService, redis_cluster_client: RedisCluster, key_prefix: str
) -> None:
    service = await make_service()
    first = await service.create_session(app_name=APP, user_id=USER)
    second = await service.create_session(app_name=APP, user_id=USER)
    keys = _keys(key_prefix, first.id)
    await service.delete_session(app_name=APP, user_id=USER, session_id=first.id)
    assert await redis_cluster_client.zscore(keys["app_users"], USER) is not None
    await service.delete_session(app_name=APP, user_id=USER, session_id=second.id)
    assert await redis_cluster_client.zscore(keys["app_users"], USER) is None
    assert (await service.list_sessions(app_name=APP)).sessions == []


@pytest.mark.parametrize("ttl", [None, 3600.0], ids=["no-ttl", "ttl"])
async def test_unlisting_a_user_who_has_a_session_again_relists_them(
    make_service: MakeService,
    redis_cluster_client: RedisCluster,
    key_prefix: str,
    ttl: float | None,
) -> None:
    """A create between a delete's two steps: the user stays listed."""
    service = await make_service(ttl_seconds=ttl)
    session = await service.create_session(app_name=APP, user_id=USER)
    assert service._app_slot is not None
    # The delete of an earlier last session reaches its app step only now.
    await service._app_slot.after_delete(APP, USER)
    keys = _keys(key_prefix, session.id)
    entry = await redis_cluster_client.zscore(keys["app_users"], USER)
    assert entry is not None
    if ttl is None:
        assert entry == float("inf")
    else:
        meta = f"{key_prefix}:{{{APP}:{USER}}}:s:{session.id}:meta"
        assert entry >= await redis_cluster_client.pexpiretime(meta)
    listed = await service.list_sessions(app_name=APP)
    assert [s.id for s in listed.sessions] == [session.id]


async def test_concurrent_appends_have_exactly_one_winner(
    make_service: MakeService,
    redis_cluster_client: RedisCluster,
    redis_cluster: Any,
    key_prefix: str,
) -> None:
    service = await make_service(ttl_seconds=3600)
    session = await service.create_session(app_name=APP, user_id=USER)
    peers: list[RedisSessionService] = []
    clients: list[RedisCluster] = []
    for _ in range(8):
        client = RedisCluster.from_url(redis_cluster.url)
        clients.append(client)
        peers.append(RedisSessionService(client=client, key_prefix=key_prefix))
    copies = [
        await peer.get_session(app_name=APP, user_id=USER, session_id=session.id)
        for peer in peers
    ]

    async def attempt(i: int) -> str:
        copy = copies[i]
        assert copy is not None
        try:
            await peers[i].append_event(copy, _event(i, **{"app:winner": i, "n": i}))
        except StaleSessionError:
            return "stale"
        return "ok"

    try:
        outcomes = await asyncio.gather(*(attempt(i) for i in range(8)))
    finally:
        for client in clients:
            await client.aclose()
    assert sorted(outcomes) == ["ok"] + ["stale"] * 7
    winner = outcomes.index("ok")
    loaded = await service.get_session(
        app_name=APP, user_id=USER, session_id=session.id
    )
    assert loaded is not None
    assert [e.invocation_id for e in loaded.events] == [f"inv-{winner}"]
    # Losers wrote nothing, in either slot.
    assert loaded.state == {"app:winner": winner, "n": winner}


async def test_app_state_ttl_is_kept_alive_by_appends(
    make_service: MakeService, redis_cluster_client: RedisCluster, key_prefix: str
) -> None:
    """``app_state_ttl_seconds`` slides on a cluster too, without app deltas."""
    service = await make_service(app_state_ttl_seconds=1.0)
    session = await service.create_session(
        app_name=APP, user_id=USER, state={"app:x": 1}
    )
    app_state = _keys(key_prefix, session.id)["app_state"]
    for i in range(15):  # 1.5 s, longer than the TTL
        await service.append_event(session, _event(i))
        ttl = await redis_cluster_client.pttl(app_state)
        assert 0 < ttl <= 1500
        await asyncio.sleep(0.1)
    loaded = await service.get_session(
        app_name=APP, user_id=USER, session_id=session.id
    )
    assert loaded is not None and loaded.state == {"app:x": 1}

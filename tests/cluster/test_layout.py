"""Where the keys land on a cluster, and running the services there."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.session import Session
from google.genai import types
from redis.asyncio.cluster import RedisCluster

from adk_redis_session import (
    RedisMemoryService,
    RedisSessionService,
    StoreUnavailableError,
)
from adk_redis_session.testing import LocalRedisCluster, free_port

from .conftest import MakeService

pytestmark = [pytest.mark.redis, pytest.mark.cluster]

APP = "layout-app"


async def _keys_by_slot(
    client: RedisCluster, nodes: dict[int, aioredis.Redis], prefix: str
) -> dict[int, set[str]]:
    """Every key under ``prefix`` on any node, grouped by hash slot."""
    slots: dict[int, set[str]] = {}
    for node in nodes.values():
        async for raw in node.scan_iter(match=f"{prefix}:*"):
            key = raw.decode()
            slots.setdefault(client.keyslot(key), set()).add(key)
    return slots


async def test_user_keys_share_one_slot_and_app_keys_another(
    make_service: MakeService,
    redis_cluster_client: RedisCluster,
    node_clients: dict[int, aioredis.Redis],
    key_prefix: str,
) -> None:
    service = await make_service(ttl_seconds=3600)
    memory = RedisMemoryService(client=redis_cluster_client, key_prefix=key_prefix)
    for user in ("alice", "bob"):
        session = await service.create_session(
            app_name=APP, user_id=user, state={"app:a": 1, "user:u": 2, "s": 3}
        )
        event = Event(
            author="user",
            invocation_id="inv",
            content=types.Content(role="user", parts=[types.Part(text="hello")]),
            actions=EventActions(state_delta={"app:b": 1, "user:v": 1, "t": 1}),
        )
        await service.append_event(session, event)
        await memory.add_session_to_memory(session)
    slots = await _keys_by_slot(redis_cluster_client, node_clients, key_prefix)
    tags = {
        slot: {key.split("{", 1)[1].split("}", 1)[0] for key in keys}
        for slot, keys in slots.items()
    }
    # One hash tag per slot, and each tag in one slot: the app's, and one
    # per user holding their sessions, indexes, user: state and memory.
    assert sorted(tag for group in tags.values() for tag in group) == sorted(
        [APP, f"{APP}:alice", f"{APP}:bob"]
    )
    by_tag = {next(iter(group)): slots[slot] for slot, group in tags.items()}
    assert {key.split("}:", 1)[1] for key in by_tag[APP]} == {"app:state", "app:users"}
    alice = by_tag[f"{APP}:alice"]
    assert any(":s:" in key and key.endswith(":events") for key in alice)
    assert any(key.endswith(":user:state") for key in alice)
    assert any(":mem:" in key for key in alice)


async def test_scripts_reload_on_every_node_after_script_flush(
    make_service: MakeService,
    redis_cluster_client: RedisCluster,
    node_clients: dict[int, aioredis.Redis],
    key_prefix: str,
) -> None:
    """EVALSHA answered NOSCRIPT on any node: redis-py loads it and retries."""
    service = await make_service(ttl_seconds=60)
    memory = RedisMemoryService(client=redis_cluster_client, key_prefix=key_prefix)
    users = [f"user-{i}" for i in range(12)]  # spread over all three nodes
    sessions = [await service.create_session(app_name=APP, user_id=u) for u in users]
    for node in node_clients.values():
        await node.script_flush()
    for session in sessions:
        event = Event(
            author="user",
            invocation_id="inv",
            content=types.Content(role="user", parts=[types.Part(text="tea time")]),
            actions=EventActions(state_delta={"app:n": 1}),
        )
        await service.append_event(session, event)
        await memory.add_session_to_memory(session)
    for node in node_clients.values():
        await node.script_flush()
    listed = await service.list_sessions(app_name=APP)
    assert len(listed.sessions) == len(users)
    for session in sessions:
        loaded = await service.get_session(
            app_name=APP, user_id=session.user_id, session_id=session.id
        )
        assert loaded is not None and len(loaded.events) == 1
        found = await memory.search_memory(
            app_name=APP, user_id=session.user_id, query="tea"
        )
        assert len(found.memories) == 1
        await service.delete_session(
            app_name=APP, user_id=session.user_id, session_id=session.id
        )
    assert (await service.list_sessions(app_name=APP)).sessions == []


@pytest.mark.parametrize(
    ("template", "kwargs"),
    [
        ("redis+cluster://127.0.0.1:{port}", {}),
        ("redis://127.0.0.1:{port}/0", {"cluster": True}),
    ],
    ids=["scheme", "flag"],
)
async def test_from_url_connects_to_the_cluster(
    redis_cluster: LocalRedisCluster,
    key_prefix: str,
    template: str,
    kwargs: dict[str, bool],
) -> None:
    url = template.format(port=redis_cluster.ports[1])
    async with RedisSessionService.from_url(
        url, key_prefix=key_prefix, **kwargs
    ) as service:
        assert service.is_cluster and isinstance(service.client, RedisCluster)
        session = await service.create_session(
            app_name=APP, user_id="u", state={"app:x": 1, "user:y": 2}
        )
        loaded = await service.get_session(
            app_name=APP, user_id="u", session_id=session.id
        )
        assert loaded is not None and loaded.state == {"app:x": 1, "user:y": 2}
    async with RedisMemoryService.from_url(
        url, key_prefix=key_prefix, **kwargs
    ) as memory:
        event = Event(
            author="user",
            invocation_id="inv",
            content=types.Content(role="user", parts=[types.Part(text="my cat Miso")]),
        )
        await memory.add_session_to_memory(
            Session(id="s", app_name=APP, user_id="u", events=[event])
        )
        found = await memory.search_memory(app_name=APP, user_id="u", query="miso")
        assert len(found.memories) == 1


async def test_unreachable_cluster_raises_store_unavailable() -> None:
    port = free_port()
    service = RedisSessionService.from_url(
        f"redis+cluster://127.0.0.1:{port}", socket_connect_timeout=0.5
    )
    try:
        with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
            await service.create_session(app_name=APP, user_id="u")
    finally:
        await service.aclose()


async def test_concurrent_first_commands_of_a_fresh_client(
    redis_cluster: LocalRedisCluster, key_prefix: str
) -> None:
    """Regression: redis-py 8.1's cluster client, used concurrently before it
    loaded its slot map, failed some of the first commands with
    "'NoneType' object has no attribute 'writelines'"."""
    for attempt in range(20):
        client = RedisCluster.from_url(redis_cluster.url)
        service = RedisSessionService(client=client, key_prefix=key_prefix)
        try:
            created = await asyncio.gather(
                *(
                    service.create_session(app_name=APP, user_id=f"u{attempt}-{i}")
                    for i in range(10)
                )
            )
        finally:
            await client.aclose()
        assert len(created) == 10

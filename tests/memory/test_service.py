"""Construction, client ownership, ADK's service registry, and error mapping."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
import redis
import redis.asyncio as aioredis
from google.adk.cli.service_registry import (
    ServiceRegistry,
    _register_services_from_yaml_config,
)

from adk_redis_session._memory_keys import MemoryKeySchema
from adk_redis_session.errors import (
    CorruptedDataError,
    RedisSessionError,
    StoreUnavailableError,
)
from adk_redis_session.memory_service import RedisMemoryService
from adk_redis_session.testing import LocalRedisServer, free_port

if TYPE_CHECKING:
    from .conftest import MakeEvent

APP = "app"
USER = "alice"


def test_construction_does_no_io() -> None:
    service = RedisMemoryService(uri=f"redis://127.0.0.1:{free_port()}/0")
    assert service.key_prefix == "adk"


def test_exactly_one_of_client_or_uri() -> None:
    with pytest.raises(ValueError, match="Exactly one"):
        RedisMemoryService()
    with pytest.raises(ValueError, match="Exactly one"):
        RedisMemoryService(client=aioredis.Redis(), uri="redis://localhost")


def test_sync_client_and_stray_options_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"redis\.asyncio"):
        RedisMemoryService(client=redis.Redis())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected"):
        RedisMemoryService(client=aioredis.Redis(), socket_timeout=1)


def test_services_yaml_builds_it_from_a_uri() -> None:
    registry = ServiceRegistry()
    _register_services_from_yaml_config(
        {
            "services": [
                {
                    "scheme": "redis",
                    "type": "memory",
                    "class": "adk_redis_session.memory_service.RedisMemoryService",
                }
            ]
        },
        registry,
    )
    service = registry.create_memory_service(
        "redis://127.0.0.1:6399/0", agents_dir="/agents"
    )
    assert isinstance(service, RedisMemoryService)


async def named_clients(client: aioredis.Redis, name: str) -> int:
    return sum(c.get("name") == name for c in await client.client_list())


@pytest.mark.redis
async def test_from_url_owns_and_closes_its_client(
    redis_server: LocalRedisServer, redis_client: aioredis.Redis, make_event: MakeEvent
) -> None:
    async with RedisMemoryService.from_url(
        redis_server.url, key_prefix="own", client_name="owned-memory"
    ) as svc:
        await svc.add_events_to_memory(
            app_name=APP, user_id=USER, events=[make_event("owned fact")]
        )
        assert await named_clients(redis_client, "owned-memory") == 1
    with pytest.raises(RedisSessionError, match="closed"):
        await svc.search_memory(app_name=APP, user_id=USER, query="fact")
    await svc.aclose()  # twice is fine
    for _ in range(50):
        if not await named_clients(redis_client, "owned-memory"):
            break
        await asyncio.sleep(0.02)
    assert await named_clients(redis_client, "owned-memory") == 0


@pytest.mark.redis
async def test_an_injected_client_is_never_closed(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    async with RedisMemoryService(client=redis_client, key_prefix=key_prefix):
        pass
    assert await redis_client.ping()


async def test_unreachable_server_names_the_endpoint_not_the_password() -> None:
    port = free_port()
    async with RedisMemoryService.from_url(
        f"redis://:hunter2@127.0.0.1:{port}/0", socket_connect_timeout=0.5
    ) as service:
        with pytest.raises(StoreUnavailableError) as caught:
            await service.search_memory(app_name=APP, user_id=USER, query="x")
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.redis
async def test_scripts_survive_a_script_flush(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    make_event: MakeEvent,
) -> None:
    await redis_memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=[make_event("flush proof")]
    )
    await redis_client.script_flush()
    found = await redis_memory.search_memory(app_name=APP, user_id=USER, query="proof")
    assert len(found.memories) == 1


@pytest.mark.redis
async def test_a_key_of_the_wrong_type_is_corrupted_data(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
) -> None:
    keys = MemoryKeySchema(key_prefix).user(APP, USER)
    await redis_client.set(keys.docs, "oops")
    with pytest.raises(CorruptedDataError, match="docs"):
        await redis_memory.add_events_to_memory(
            app_name=APP, user_id=USER, events=[make_event("x y")]
        )
    with pytest.raises(CorruptedDataError, match="docs"):
        await redis_memory.delete_memory(app_name=APP, user_id=USER, memory_id="m")


@pytest.mark.redis
async def test_another_layout_version_is_refused(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
) -> None:
    await redis_memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=[make_event("versioned fact")]
    )
    keys = MemoryKeySchema(key_prefix).user(APP, USER)
    await redis_client.hset(keys.meta, "v", "99")
    with pytest.raises(CorruptedDataError, match="layout version '99'"):
        await redis_memory.search_memory(app_name=APP, user_id=USER, query="fact")
    with pytest.raises(CorruptedDataError, match="layout version"):
        await redis_memory.add_events_to_memory(
            app_name=APP, user_id=USER, events=[make_event("more")]
        )


@pytest.mark.redis
async def test_an_unreadable_entry_is_corrupted_data(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
) -> None:
    await redis_memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=[make_event("broken fact")]
    )
    keys = MemoryKeySchema(key_prefix).user(APP, USER)
    [memory_id] = await redis_client.hkeys(keys.docs)
    await redis_client.hset(keys.docs, memory_id, "{not json")
    with pytest.raises(CorruptedDataError, match="alice"):
        await redis_memory.search_memory(app_name=APP, user_id=USER, query="fact")


async def test_ids_must_be_strings(make_event: MakeEvent) -> None:
    service = RedisMemoryService(uri=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(TypeError):
        await service.search_memory(app_name=APP, user_id=7, query="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await service.delete_memory(app_name=APP, user_id=USER, memory_id=7)  # type: ignore[arg-type]

"""Choosing a Redis Cluster client: flags, URL schemes, ADK and env (no I/O)."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aioredis
from google.adk.cli.service_registry import ServiceRegistry
from redis.asyncio.cluster import RedisCluster

from adk_redis_session import RedisMemoryService, RedisSessionService
from adk_redis_session.adk_registry import register
from adk_redis_session.backends import get_memory_service, get_session_service


@pytest.mark.parametrize(
    ("url", "kwargs", "cluster"),
    [
        ("redis://h:7000/0", {}, False),
        ("redis://h:7000/0", {"cluster": True}, True),
        ("redis+cluster://h:7000", {}, True),
        ("rediss+cluster://h:7000", {}, True),
        ("REDIS+CLUSTER://h:7000", {}, True),
    ],
)
async def test_from_url_picks_the_client_class(
    url: str, kwargs: dict[str, bool], cluster: bool
) -> None:
    for cls in (RedisSessionService, RedisMemoryService):
        service = cls.from_url(url, **kwargs)
        try:
            assert isinstance(service.client, RedisCluster) is cluster
            assert isinstance(service.client, aioredis.Redis) is not cluster
        finally:
            await service.aclose()  # owned: closed, no I/O was done


async def test_tls_cluster_url_uses_ssl() -> None:
    service = RedisSessionService.from_url("rediss+cluster://h:7000")
    assert isinstance(service.client, RedisCluster)
    kwargs = service.client.nodes_manager.connection_kwargs
    assert kwargs["connection_class"].__name__ == "SSLConnection"
    await service.aclose()


async def test_injected_cluster_client_is_used_and_never_closed() -> None:
    client = RedisCluster(host="h", port=7000)
    service = RedisSessionService(client=client)
    assert service.is_cluster and service.client is client
    await service.aclose()
    assert client.get_nodes() == []  # never initialized: no I/O happened


def test_cluster_flag_needs_a_tcp_url() -> None:
    with pytest.raises(ValueError, match="redis:// or rediss://"):
        RedisSessionService(uri="unix:///tmp/redis.sock", cluster=True)


def test_cluster_flag_with_a_client_is_refused() -> None:
    with pytest.raises(TypeError, match="cluster"):
        RedisSessionService(client=aioredis.Redis(), cluster=True)


def test_synchronous_cluster_client_is_refused() -> None:
    sync_client = redis.RedisCluster.__new__(redis.RedisCluster)  # connects in init
    with pytest.raises(TypeError, match=r"redis\.asyncio"):
        RedisSessionService(client=sync_client)


def test_adk_registry_knows_the_cluster_schemes() -> None:
    registry = ServiceRegistry()
    register(registry)
    for scheme in ("redis+cluster", "rediss+cluster"):
        sessions = registry.create_session_service(
            f"{scheme}://h:7000?prefix=p&ttl=60", agents_dir="x"
        )
        memory = registry.create_memory_service(f"{scheme}://h:7000", agents_dir="x")
        assert isinstance(sessions, RedisSessionService) and sessions.is_cluster
        assert sessions.key_prefix == "p"
        assert isinstance(memory, RedisMemoryService)
        assert isinstance(memory.client, RedisCluster)


def test_redis_url_env_accepts_a_cluster_url() -> None:
    env = {"REDIS_URL": "redis+cluster://10.0.0.3:6379", "MEMORY_BACKEND": "redis"}
    sessions = get_session_service(env=env)
    memory = get_memory_service(env=env)
    assert isinstance(sessions, RedisSessionService) and sessions.is_cluster
    assert isinstance(memory, RedisMemoryService)
    assert isinstance(memory.client, RedisCluster)

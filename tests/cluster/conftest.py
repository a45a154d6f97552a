"""Fixtures for the Redis Cluster tests: services, nodes and command counts.

Everything runs on the session's local 3-master cluster (``redis_cluster``,
see ``tests/conftest.py``) under the test's own key prefix.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from adk_redis_session import RedisSessionService
from adk_redis_session.testing import LocalRedisCluster

MakeService = Callable[..., Awaitable[RedisSessionService]]


class CommandLog:
    """Records the commands clients send to each node, with MONITOR.

    Commands a script runs inside the server (MONITOR shows them as
    ``lua``) are left out: what remains is what crossed the network, one
    entry per command. Usage::

        async with log.record() as sent:
            await service.append_event(...)
        assert sent == {port: ["evalsha"], other_port: [], ...}
    """

    def __init__(self, nodes: dict[int, aioredis.Redis]) -> None:
        self.nodes = nodes

    @contextlib.asynccontextmanager
    async def record(self) -> AsyncIterator[dict[int, list[str]]]:
        monitors = {}
        for port, client in self.nodes.items():
            monitors[port] = await client.monitor().__aenter__()
        sent: dict[int, list[str]] = {port: [] for port in self.nodes}
        try:
            yield sent
        finally:
            marker = f"end-of-record-{uuid.uuid4().hex}"
            for port, monitor in monitors.items():
                await self.nodes[port].echo(marker)
                seen: list[tuple[str, str]] = []
                while True:
                    info = await monitor.next_command()
                    if marker in info["command"]:
                        ours = info["client_port"]  # the marker's connection
                        break
                    if info["client_type"] != "lua":
                        name = info["command"].split(" ", 1)[0].lower()
                        seen.append((info["client_port"], name))
                sent[port].extend(name for client, name in seen if client != ours)
                await monitor.__aexit__()


@pytest.fixture
async def node_clients(
    redis_cluster: LocalRedisCluster,
) -> AsyncIterator[dict[int, aioredis.Redis]]:
    """A plain (non-cluster) client per node, by port."""
    clients = {port: aioredis.Redis(port=port) for port in redis_cluster.ports}
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


@pytest.fixture
def command_log(node_clients: dict[int, aioredis.Redis]) -> CommandLog:
    return CommandLog(node_clients)


@pytest.fixture
async def make_service(
    redis_cluster_client: RedisCluster, key_prefix: str
) -> AsyncIterator[MakeService]:
    """Makes services on the cluster under this test's prefix."""
    await redis_cluster_client.initialize()  # slot map for node_port()
    made: list[RedisSessionService] = []

    async def make(**kwargs: Any) -> RedisSessionService:
        kwargs.setdefault("key_prefix", key_prefix)
        service = RedisSessionService(client=redis_cluster_client, **kwargs)
        made.append(service)
        return service

    try:
        yield make
    finally:
        for service in made:
            await service.aclose()


def node_port(client: RedisCluster, key: str) -> int:
    """The port of the node serving ``key``."""
    node = client.get_node_from_key(key)
    assert node is not None
    return int(node.port)


def user_on_another_node(client: RedisCluster, prefix: str, app: str) -> str:
    """A user id whose keys live on another node than the app's keys."""
    app_port = node_port(client, f"{prefix}:{{{app}}}:app:state")
    for i in range(1000):
        user = f"user-{i}"
        if node_port(client, f"{prefix}:{{{app}:{user}}}:user:state") != app_port:
            return user
    raise AssertionError("no user id maps to another node")

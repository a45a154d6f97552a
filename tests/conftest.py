"""Shared fixtures: real servers per test session, a prefix per test.

``redis_server`` is one redis-server; ``redis_cluster`` a local 3-master
Redis Cluster (started on first use, about 2.5 s).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from adk_redis_session.testing import LocalRedisCluster, LocalRedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedisServer]:
    """A real redis-server started for this test session on a free port."""
    with LocalRedisServer() as server:
        yield server


@pytest.fixture
def key_prefix() -> str:
    """A prefix no other test uses, so tests never see each other's keys."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(
    redis_server: LocalRedisServer,
) -> AsyncIterator[aioredis.Redis]:
    """A client of the session's redis-server, closed after the test."""
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """A real 3-master Redis Cluster started for this test session."""
    with LocalRedisCluster() as cluster:
        yield cluster


@pytest.fixture
async def redis_cluster_client(
    redis_cluster: LocalRedisCluster,
) -> AsyncIterator[RedisCluster]:
    """A cluster client of the session's cluster, closed after the test."""
    client = RedisCluster.from_url(redis_cluster.url)
    try:
        yield client
    finally:
        await client.aclose()

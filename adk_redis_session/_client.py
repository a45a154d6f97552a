"""A service's Redis client: ownership, closing and error mapping.

Shared by ``RedisSessionService`` and ``RedisMemoryService``: a client built from a URL
is owned and closed by ``aclose()``; an injected client is never closed;
redis-py errors become this package's errors, naming ``host:port`` and never
a password.

The client is a ``redis.asyncio.Redis`` or, for Redis Cluster, a
``redis.asyncio.cluster.RedisCluster``: injected, or built from a URL with
``cluster=True`` or a ``redis+cluster://`` / ``rediss+cluster://`` URL (the
same URL as ``redis://`` / ``rediss://``, naming any one node).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import redis
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster

from .errors import CorruptedDataError, RedisSessionError, StoreUnavailableError

__all__ = ["CLUSTER_SCHEMES", "AnyRedis", "ClientHandle"]

#: A client the services accept: one server, or a Redis Cluster.
AnyRedis: TypeAlias = aioredis.Redis | RedisCluster

#: URL schemes that mean "Redis Cluster", and the redis-py scheme of each.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

# Errors that mean the server or cluster cannot serve the request right now
# (unreachable, failover in progress, slots not covered).
_UNAVAILABLE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.SlotNotCoveredError,
)


def _unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the store is unreachable, not that it refused."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    # "Redis Cluster cannot be connected", raised from the connection error.
    return isinstance(exc, redis_errors.RedisClusterException) and isinstance(
        exc.__cause__, _UNAVAILABLE
    )


def _cluster_url(uri: str, cluster: bool) -> tuple[str, bool]:
    """Maps a ``redis+cluster://`` URL to redis-py's; returns it and the mode."""
    scheme, sep, rest = uri.partition("://")
    base = CLUSTER_SCHEMES.get(scheme.lower()) if sep else None
    if base is None:
        return uri, cluster
    return f"{base}://{rest}", True


def _new_client(uri: str, cluster: bool, redis_kwargs: dict[str, Any]) -> AnyRedis:
    uri, cluster = _cluster_url(uri, cluster)
    redis_kwargs.setdefault("socket_timeout", 5.0)
    redis_kwargs.setdefault("socket_connect_timeout", 5.0)
    if cluster:
        if uri.partition("://")[0].lower() not in ("redis", "rediss"):
            raise ValueError("a Redis Cluster URL must be redis:// or rediss://")
        return RedisCluster.from_url(uri, **redis_kwargs)
    return aioredis.Redis.from_url(uri, **redis_kwargs)


class ClientHandle:
    """Holds a ``redis.asyncio`` client, and whether it is ours to close.

    Args:
        owner: Name of the service, for messages.
        client: A client the caller owns: ``redis.asyncio.Redis`` or
            ``redis.asyncio.cluster.RedisCluster``.
        uri: A URL to create (and own) a client for; no I/O happens here.
            ``redis+cluster://`` / ``rediss+cluster://`` mean ``cluster=True``.
        redis_kwargs: Options for ``from_url``; ``socket_timeout`` and
            ``socket_connect_timeout`` default to 5 seconds.
        cluster: With ``uri``: create a ``RedisCluster`` client.

    Attributes:
        is_cluster: Whether the client is a ``RedisCluster``.
    """

    def __init__(
        self,
        owner: str,
        client: AnyRedis | None,
        uri: str | None,
        redis_kwargs: dict[str, Any],
        *,
        cluster: bool = False,
    ) -> None:
        if (client is None) == (uri is None):
            raise ValueError("Exactly one of 'client' or 'uri' must be given.")
        if isinstance(client, (redis.Redis, redis.RedisCluster)):
            raise TypeError(
                "client must be a redis.asyncio client, not the synchronous "
                f"{type(client).__name__}"
            )
        if client is not None and (redis_kwargs or cluster):
            extra = sorted([*redis_kwargs, *(["cluster"] if cluster else [])])
            raise TypeError(f"unexpected arguments with client=: {extra}")
        self._owner = owner
        if client is None:
            assert uri is not None
            client = _new_client(uri, cluster, redis_kwargs)
            self.owns_client = True
        else:
            self.owns_client = False
        self.client: AnyRedis = client
        self.is_cluster = isinstance(client, RedisCluster)
        self.closed = False

    async def aclose(self) -> None:
        """Closes the client if it is ours. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        if self.owns_client:
            await self.client.aclose()

    def endpoint(self) -> str:
        """``host:port`` of the server (never credentials), for messages."""
        if isinstance(self.client, RedisCluster):
            nodes = self.client.get_nodes() or list(
                self.client.nodes_manager.startup_nodes.values()
            )
            return "cluster " + ",".join(sorted(node.name for node in nodes))
        pool = self.client.connection_pool
        service_name = getattr(pool, "service_name", None)
        if isinstance(service_name, str):  # a Sentinel-managed pool
            return f"sentinel master {service_name!r}"
        kwargs = pool.connection_kwargs
        if "path" in kwargs:
            return f"unix:{kwargs['path']}"
        return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"

    @contextlib.asynccontextmanager
    async def guard(self, what: str) -> AsyncIterator[None]:
        """Turns redis-py errors into this package's errors, naming ``what``."""
        if self.closed:
            raise RedisSessionError(f"{self._owner} is closed")
        try:
            if isinstance(self.client, RedisCluster):
                # Load the slot map before the first command. Several first
                # commands of a fresh client racing to do it can fail in
                # redis-py 8.1 ("'NoneType' object has no attribute
                # 'writelines'"); initialize() is one lock, then a no-op.
                await self.client.initialize()
            yield
        except (redis_errors.RedisError, redis_errors.RedisClusterException) as exc:
            if _unavailable(exc):
                raise StoreUnavailableError(
                    f"Redis at {self.endpoint()} is unreachable or timed out while "
                    f"trying to {what}: {type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(
                exc, (redis_errors.ResponseError, redis_errors.RedisClusterException)
            ):
                raise
            if "WRONGTYPE" in str(exc):
                raise CorruptedDataError(
                    f"stored data of {what} has an unexpected type: {exc}"
                ) from exc
            raise RedisSessionError(
                f"Redis at {self.endpoint()} rejected the request to {what}: {exc}"
            ) from exc

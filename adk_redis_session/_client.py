"""A service's Redis client: ownership, closing and error mapping.

Shared by ``RedisSessionService`` and ``RedisMemoryService``: a client built from a URL
is owned and closed by ``aclose()``; an injected client is never closed;
redis-py errors become this package's errors, naming ``host:port`` and never
a password.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from .errors import CorruptedDataError, RedisSessionError, StoreUnavailableError

__all__ = ["ClientHandle"]


class ClientHandle:
    """Holds a ``redis.asyncio`` client, and whether it is ours to close.

    Args:
        owner: Name of the service, for messages.
        client: A client the caller owns.
        uri: A URL to create (and own) a client for; no I/O happens here.
        redis_kwargs: Options for ``Redis.from_url``; ``socket_timeout`` and
            ``socket_connect_timeout`` default to 5 seconds.
    """

    def __init__(
        self,
        owner: str,
        client: aioredis.Redis | None,
        uri: str | None,
        redis_kwargs: dict[str, Any],
    ) -> None:
        if (client is None) == (uri is None):
            raise ValueError("Exactly one of 'client' or 'uri' must be given.")
        if isinstance(client, redis.Redis):
            raise TypeError(
                "client must be a redis.asyncio client, not the synchronous redis.Redis"
            )
        if client is not None and redis_kwargs:
            raise TypeError(
                f"unexpected arguments with client=: {sorted(redis_kwargs)}"
            )
        self._owner = owner
        if client is None:
            assert uri is not None
            redis_kwargs.setdefault("socket_timeout", 5.0)
            redis_kwargs.setdefault("socket_connect_timeout", 5.0)
            client = aioredis.Redis.from_url(uri, **redis_kwargs)
            self.owns_client = True
        else:
            self.owns_client = False
        self.client: aioredis.Redis = client
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
        kwargs = self.client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return f"unix:{kwargs['path']}"
        return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"

    @contextlib.asynccontextmanager
    async def guard(self, what: str) -> AsyncIterator[None]:
        """Turns redis-py errors into this package's errors, naming ``what``."""
        if self.closed:
            raise RedisSessionError(f"{self._owner} is closed")
        try:
            yield
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            raise StoreUnavailableError(
                f"Redis at {self.endpoint()} is unreachable or timed out while "
                f"trying to {what}: {type(exc).__name__}: {exc}"
            ) from exc
        except redis_errors.ResponseError as exc:
            if "WRONGTYPE" in str(exc):
                raise CorruptedDataError(
                    f"stored data of {what} has an unexpected type: {exc}"
                ) from exc
            raise RedisSessionError(
                f"Redis at {self.endpoint()} rejected the request to {what}: {exc}"
            ) from exc

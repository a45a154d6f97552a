"""Fixtures of the property tests: a private event loop and one service.

Hypothesis runs many examples inside one test function, so the tests are
plain functions that drive their own event loop (`Fuzz.run`). Each test gets
one service with its own key prefix; `Fuzz.wipe` deletes every key under
that prefix between examples, so ids may repeat across examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from adk_redis_session import RedisSessionService
from adk_redis_session.testing import LocalRedisServer

pytest.importorskip(
    "hypothesis",
    reason="hypothesis is not installed (it belongs in the 'test' extra)",
)

T = TypeVar("T")


class Fuzz:
    """One event loop, one client and one service for a whole property test."""

    def __init__(self, url: str, prefix: str) -> None:
        self.prefix = prefix
        self.loop = asyncio.new_event_loop()
        self.client: aioredis.Redis = self.run(self._client(url))
        self.service = RedisSessionService(client=self.client, key_prefix=prefix)
        self.examples = 0

    @staticmethod
    async def _client(url: str) -> aioredis.Redis:
        return aioredis.Redis.from_url(url)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def fresh_service(self) -> RedisSessionService:
        """Another service on the same prefix, with an empty event cache."""
        return RedisSessionService(client=self.client, key_prefix=self.prefix)

    async def keys(self) -> list[bytes]:
        return [k async for k in self.client.scan_iter(match=f"{self.prefix}:*")]

    def wipe(self) -> None:
        """Starts an example from an empty prefix."""
        self.examples += 1

        async def wipe() -> None:
            keys = await self.keys()
            if keys:
                await self.client.unlink(*keys)

        self.run(wipe())

    def close(self) -> None:
        try:
            self.run(self.service.aclose())
            self.run(self.client.aclose())
        finally:
            self.loop.close()


@pytest.fixture
def fuzz(redis_server: LocalRedisServer, key_prefix: str) -> Iterator[Fuzz]:
    env = Fuzz(redis_server.url, key_prefix)
    try:
        yield env
    finally:
        env.close()

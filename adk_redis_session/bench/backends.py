"""The session services the benchmark compares, and how to open each one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from google.adk.integrations.redis import RedisSessionService as AdkRedisService
from google.adk.integrations.redis import RedisSessionServiceConfig
from google.adk.sessions.base_session_service import BaseSessionService
from google.adk.sessions.database_session_service import DatabaseSessionService
from google.adk.sessions.in_memory_session_service import InMemorySessionService

from ..session_service import RedisSessionService

__all__ = [
    "BACKENDS",
    "POSTGRES",
    "Backend",
    "Endpoints",
    "Opened",
    "backend_keys",
]


@dataclass(frozen=True)
class Endpoints:
    """Where the servers are; URLs may point at a proxy.

    Attributes:
        redis_url: ``redis://`` URL of the Redis server.
        database_url: ``postgresql+asyncpg://`` URL of PostgreSQL.
        sqlite_path: Path of the SQLite database file.
    """

    redis_url: str | None = None
    database_url: str | None = None
    sqlite_path: str | None = None


@dataclass
class Opened:
    """An open service and how to close it."""

    service: BaseSessionService
    close: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Backend:
    """One compared session service.

    Attributes:
        key: Short name (``--backends``, JSON, table).
        label: Human name.
        has_network: Whether it talks to a server over TCP (so it has round
            trips to count and can sit behind the delay proxy).
        server: ``"redis"``, ``"postgres"`` or None: the server it needs.
        setup_parallel: Sessions built at once during setup.
        open: Creates the service for given endpoints and a namespace unique
            to this run (key prefix).
    """

    key: str
    label: str
    has_network: bool
    server: str | None
    setup_parallel: int
    open: Callable[[Endpoints, str], Opened]


def _need(value: str | None, what: str) -> str:
    if value is None:
        raise ValueError(f"this backend needs {what}")
    return value


def _open_redis(ends: Endpoints, namespace: str) -> Opened:
    service = RedisSessionService.from_url(
        _need(ends.redis_url, "a Redis URL"), key_prefix=namespace
    )
    return Opened(service, service.aclose)


def _open_adk_redis(ends: Endpoints, namespace: str) -> Opened:
    url = _need(ends.redis_url, "a Redis URL")
    # ADK's service decodes replies itself and expects str, like its own
    # default client; its own key prefix keeps it apart from ours.
    client = aioredis.Redis.from_url(url, decode_responses=True)
    config = RedisSessionServiceConfig(
        uri=url, key_prefix=f"{namespace}-adk-builtin:session:"
    )
    return Opened(AdkRedisService(config=config, redis_client=client), client.aclose)


def _open_postgres(ends: Endpoints, namespace: str) -> Opened:
    service = DatabaseSessionService(_need(ends.database_url, "a PostgreSQL URL"))
    return Opened(service, service.close)


def _open_sqlite(ends: Endpoints, namespace: str) -> Opened:
    path = _need(ends.sqlite_path, "a SQLite file path")
    service = DatabaseSessionService(f"sqlite+aiosqlite:///{path}")
    return Opened(service, service.close)


def _open_in_memory(ends: Endpoints, namespace: str) -> Opened:
    async def close() -> None:
        return None

    return Opened(InMemorySessionService(), close)


POSTGRES = "postgres"

BACKENDS: dict[str, Backend] = {
    b.key: b
    for b in (
        Backend(
            "redis", "RedisSessionService (this package)", True, "redis", 8, _open_redis
        ),
        Backend(
            POSTGRES,
            "DatabaseSessionService / PostgreSQL",
            True,
            "postgres",
            8,
            _open_postgres,
        ),
        Backend(
            "sqlite",
            "DatabaseSessionService / SQLite",
            False,
            None,
            1,
            _open_sqlite,
        ),
        Backend("inmemory", "InMemorySessionService", False, None, 1, _open_in_memory),
        Backend(
            "adk-redis",
            "ADK integrations.redis.RedisSessionService",
            True,
            "redis",
            8,
            _open_adk_redis,
        ),
    )
}


def backend_keys(spec: str) -> tuple[str, ...]:
    """Parses a comma-separated backend list, checking every name.

    Args:
        spec: E.g. ``"redis,postgres"``; ``"all"`` means every backend.
    """
    if spec.strip() == "all":
        return tuple(BACKENDS)
    keys = tuple(part.strip() for part in spec.split(",") if part.strip())
    unknown = [k for k in keys if k not in BACKENDS]
    if unknown or not keys:
        raise ValueError(
            f"unknown backend(s) {unknown}; choose from {', '.join(BACKENDS)}"
        )
    return keys

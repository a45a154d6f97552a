"""The servers a benchmark run uses: start them, name them, clean up after.

A run uses ``REDIS_URL`` / ``DATABASE_URL`` (``postgresql+asyncpg://``) when
set; otherwise it starts a throwaway ``redis-server`` and PostgreSQL on free
loopback ports and stops them at the end. Everything a run writes sits under
a namespace unique to it (a key prefix, an app name), so on servers it did
not start, `remove_run_data` deletes exactly that and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from google.adk.sessions.database_session_service import DatabaseSessionService
from sqlalchemy import text

from .backends import BACKENDS, POSTGRES, Endpoints
from .config import BenchConfig
from .servers import LocalPostgres, LocalRedisServer

__all__ = ["host_port", "open_servers", "remove_run_data", "server_versions"]

_ASYNCPG_SCHEME = "postgresql+asyncpg"
REDIS_STARTED = "redis_started_by_benchmark"
POSTGRES_STARTED = "postgres_started_by_benchmark"


def host_port(url: str, default_port: int) -> tuple[str, int]:
    """The host and port a URL points at."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


@contextlib.contextmanager
def open_servers(
    config: BenchConfig, info: dict[str, object], note: Callable[[str], None]
) -> Iterator[Endpoints]:
    """Yields the endpoints of a run, starting local servers where needed.

    Args:
        config: Which backends run (and so which servers are needed), and
            optional URLs.
        info: Gets ``redis_started_by_benchmark`` /
            ``postgres_started_by_benchmark`` set for servers started here.
        note: Receives progress messages.

    Raises:
        ValueError: ``DATABASE_URL`` is not a ``postgresql+asyncpg://`` URL.
        RuntimeError: A server binary is missing or a server did not start.
    """
    needs = {BACKENDS[key].server for key in config.backends}
    redis_url = config.redis_url or os.environ.get("REDIS_URL")
    database_url = config.database_url or os.environ.get("DATABASE_URL")
    scheme = urlsplit(database_url).scheme if database_url else None
    if POSTGRES in needs and database_url and scheme != _ASYNCPG_SCHEME:
        raise ValueError(
            f"DATABASE_URL must be a postgresql+asyncpg:// URL, got {scheme}://..."
        )
    with contextlib.ExitStack() as stack:
        if "redis" in needs and not redis_url:
            note("starting redis-server ...")
            redis_url = stack.enter_context(LocalRedisServer()).url
            info[REDIS_STARTED] = True
        if POSTGRES in needs and not database_url:
            note("starting PostgreSQL ...")
            database_url = stack.enter_context(LocalPostgres()).url
            info[POSTGRES_STARTED] = True
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="adk-bench-"))
        yield Endpoints(
            redis_url=redis_url if "redis" in needs else None,
            database_url=database_url if POSTGRES in needs else None,
            sqlite_path=os.path.join(tmp, "sessions.db"),
        )


async def server_versions(ends: Endpoints) -> dict[str, str]:
    """Asks the Redis and PostgreSQL servers of `ends` for their versions."""
    versions: dict[str, str] = {}
    if ends.redis_url:
        client = aioredis.Redis.from_url(ends.redis_url)
        try:
            info = await client.info("server")
            versions["redis"] = str(info.get("redis_version", "?"))
        finally:
            await client.aclose()
    if ends.database_url:
        service = DatabaseSessionService(ends.database_url)
        try:
            async with service.db_engine.connect() as conn:
                row = await conn.execute(text("SHOW server_version"))
                versions["postgres"] = str(row.scalar_one())
        finally:
            await service.close()
    return versions


async def remove_run_data(
    ends: Endpoints, namespace: str, app_name: str, info: dict[str, object]
) -> None:
    """Deletes a run's data from the servers the benchmark did not start.

    Args:
        ends: The servers.
        namespace: The run's key prefix (every Redis key starts with it).
        app_name: The run's app name (every PostgreSQL session has it).
        info: What `open_servers` recorded about who started which server.
    """
    if ends.redis_url and not info.get(REDIS_STARTED):
        client = aioredis.Redis.from_url(ends.redis_url)
        try:
            batch: list[bytes] = []
            async for key in client.scan_iter(match=f"{namespace}*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    await client.unlink(*batch)
                    batch = []
            if batch:
                await client.unlink(*batch)
        finally:
            await client.aclose()
    if ends.database_url and not info.get(POSTGRES_STARTED):
        handle = BACKENDS[POSTGRES].open(ends, namespace)
        try:
            listed = await handle.service.list_sessions(app_name=app_name)
            for session in listed.sessions:
                await handle.service.delete_session(
                    app_name=session.app_name,
                    user_id=session.user_id,
                    session_id=session.id,
                )
        finally:
            await handle.close()

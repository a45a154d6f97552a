"""The two ends of a migration: a session service plus direct state access.

ADK's session API cannot set state without adding an event, yet a migrated
session must end with exactly the source's state, and ``app:`` / ``user:``
state is shared by many sessions. So each `Store` pairs the ADK service
(reads, ``create_session``, ``append_event``) with a few storage-level writes
in the format that service itself uses:

* ``RedisStore`` (``_migrate_redis``): `RedisSessionService` plus HSETs on
  its state hashes and a script that sets a session's last update time.
* ``DatabaseStore`` (``_migrate_sql``): ADK's ``DatabaseSessionService``
  plus ORM updates of its ``sessions``, ``app_states`` and ``user_states``
  rows.

`open_store` picks one from the URL's scheme. URLs are shown through
`redact_url` only, so no password reaches the output.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping, Sequence
from typing import Any

from google.adk.sessions.base_session_service import (
    BaseSessionService,
    GetSessionConfig,
)
from google.adk.sessions.session import Session

__all__ = [
    "MigrationSetupError",
    "Store",
    "normalize_url",
    "open_store",
    "redact_url",
]

_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
_USERINFO_PASSWORD = re.compile(r"^([^:/?#]+://[^:/?#@]*):[^/?#]*@")
_SECRET_QUERY = re.compile(
    r"([?&][^=&#]*(?:pass|secret|token|auth|key)[^=&#]*=)[^&#]*", re.IGNORECASE
)


class MigrationSetupError(ValueError):
    """A URL or option cannot be used; the message never holds a password."""


def redact_url(url: str) -> str:
    """Returns ``url`` with its password and secret-looking query values as ``***``.

    Keeps everything else as written (``sqlite:///path``, ``unix:///sock``).
    """
    url = _USERINFO_PASSWORD.sub(r"\1:***@", url)
    return _SECRET_QUERY.sub(r"\1***", url)


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise MigrationSetupError(
            f"{redact_url(url)!r} is not a URL (expected redis://, rediss://, "
            "postgresql+asyncpg:// or sqlite+aiosqlite://)"
        )
    return scheme.lower()


def normalize_url(url: str) -> str:
    """Returns ``url`` with an asyncio driver where one is implied.

    ``postgres://`` / ``postgresql://`` become ``postgresql+asyncpg://`` (a
    libpq ``sslmode`` becomes asyncpg's ``ssl``) and ``sqlite://`` becomes
    ``sqlite+aiosqlite://``. Other URLs are returned unchanged.

    Raises:
        MigrationSetupError: If ``url`` is not a URL or names a PostgreSQL
            driver without asyncio support.
    """
    scheme = _scheme(url)
    if scheme.startswith("postgres"):
        from .cloudsql import normalize_database_url

        try:
            return normalize_database_url(url)
        except ValueError as exc:  # its message hides the password
            raise MigrationSetupError(f"the database URL {exc}") from None
    if scheme == "sqlite":
        return "sqlite+aiosqlite" + url[len("sqlite") :]
    return url


class Store(abc.ABC):
    """One end of a migration: an ADK session service and its state storage.

    Args:
        service: The ADK session service reading and writing sessions.
        label: How the store is shown: URL with the password redacted.
        max_concurrency: How many sessions may be copied at once.
    """

    kind = ""

    def __init__(
        self, service: BaseSessionService, label: str, max_concurrency: int
    ) -> None:
        self.service = service
        self.label = label
        self.max_concurrency = max_concurrency

    async def list_sessions(self, app_name: str, users: Sequence[str]) -> list[Session]:
        """Lists an app's sessions (without events), of ``users`` if given."""
        if not users:
            listed = await self.service.list_sessions(app_name=app_name)
            return list(listed.sessions)
        sessions: list[Session] = []
        for user_id in users:
            listed = await self.service.list_sessions(
                app_name=app_name, user_id=user_id
            )
            sessions.extend(listed.sessions)
        return sessions

    async def get_session(
        self, app_name: str, user_id: str, session_id: str, *, events: bool = True
    ) -> Session | None:
        """Reads a session, with all its events or (``events=False``) none."""
        config = None if events else GetSessionConfig(num_recent_events=0)
        return await self.service.get_session(
            app_name=app_name, user_id=user_id, session_id=session_id, config=config
        )

    async def read_user_state(self, app_name: str, user_id: str) -> dict[str, Any]:
        """Returns a user's ``user:`` state (keys without the prefix)."""
        return dict(
            await self.service.get_user_state(app_name=app_name, user_id=user_id)
        )

    @abc.abstractmethod
    async def users_with_state(self, app_name: str) -> list[str]:
        """Lists the users of an app the store knows, with or without sessions."""

    @abc.abstractmethod
    async def read_app_state(self, app_name: str) -> dict[str, Any]:
        """Returns an app's ``app:`` state (keys without the prefix)."""

    @abc.abstractmethod
    async def write_app_state(self, app_name: str, values: Mapping[str, Any]) -> None:
        """Sets ``app:`` state keys (without the prefix); others stay."""

    @abc.abstractmethod
    async def write_user_state(
        self, app_name: str, user_id: str, values: Mapping[str, Any]
    ) -> None:
        """Sets ``user:`` state keys (without the prefix); others stay."""

    @abc.abstractmethod
    async def write_session_state(
        self, app_name: str, user_id: str, session_id: str, values: Mapping[str, Any]
    ) -> bool:
        """Sets session-scoped state keys; returns False if there is no session."""

    @abc.abstractmethod
    async def set_last_update_time(
        self, app_name: str, user_id: str, session_id: str, timestamp: float
    ) -> bool:
        """Sets a session's last update time; False if there is no session."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Closes what the store opened."""


async def open_store(
    url: str,
    *,
    role: str,
    redis_prefix: str,
    redis_ttl: float | None = None,
) -> Store:
    """Opens the store a URL names.

    Args:
        url: ``redis://``, ``rediss://``, ``unix://`` or ``redis+cluster://``
            / ``rediss+cluster://`` (Redis Cluster) for Redis; any async
            SQLAlchemy URL (``postgresql+asyncpg://``, ``sqlite+aiosqlite://``;
            ``postgresql://`` and ``sqlite://`` are switched to those drivers)
            for ``DatabaseSessionService``.
        role: ``"source"``, ``"target"`` or ``"target-readonly"`` (dry runs
            and verification). Only a ``"target"`` database gets ADK's
            tables created; a source must already hold them.
        redis_prefix: Key prefix on Redis.
        redis_ttl: Session TTL for a Redis target (``None``: no expiry).

    Raises:
        MigrationSetupError: If the URL is unusable or a database source has
            no session tables.
    """
    if _scheme(url) in _REDIS_SCHEMES:
        from ._migrate_redis import RedisStore

        try:
            return RedisStore(url, key_prefix=redis_prefix, ttl_seconds=redis_ttl)
        except ValueError as exc:
            raise MigrationSetupError(f"{redact_url(url)}: {exc}") from None
    from ._migrate_sql import DatabaseStore

    store = DatabaseStore(normalize_url(url))
    if role == "target":
        return store
    try:
        found = await store.has_session_tables()
    except BaseException:
        await store.aclose()
        raise
    if not found and role == "source":
        await store.aclose()
        raise MigrationSetupError(
            f"the source {store.label} holds no ADK session tables "
            "(sessions, events, app_states, user_states)"
        )
    store.absent = not found
    return store

"""ADK's ``DatabaseSessionService`` on PostgreSQL: a URL or Cloud SQL.

Two ways to reach the database, one engine type:

* ``SqlEngine.from_url("postgresql://user:pass@host/db")``: any PostgreSQL,
  through asyncpg. ``postgres://`` and ``postgresql://`` are rewritten to
  ``postgresql+asyncpg://`` and a libpq ``sslmode`` becomes asyncpg's ``ssl``.
* ``SqlEngine.from_instance("project:region:instance", ...)``: Cloud SQL
  through the Cloud SQL Python Connector (asyncpg, ``async_creator``), with
  built-in or IAM database authentication and a public, private or PSC IP.

`CloudSqlSessionService` is ``DatabaseSessionService`` (ADK's own tables and
semantics; a ``Runner`` takes it as is) that owns such an engine: ``aclose()``
disposes the engine and then closes the connector. Nothing here does network
I/O at construction: SQLAlchemy connects on first use, and the connector is
created inside the event loop on the first connection (so construction also
works outside a running loop).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.adk.sessions.database_session_service import DatabaseSessionService
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typing_extensions import Self

if TYPE_CHECKING:
    from google.cloud.sql.connector import Connector

__all__ = [
    "IP_TYPES",
    "CloudSqlSessionService",
    "SqlEngine",
    "normalize_database_url",
]

#: ``DB_IP_TYPE`` values, as the connector spells them.
IP_TYPES = ("public", "private", "psc")

#: PostgreSQL drivers with an asyncio dialect in SQLAlchemy.
_ASYNC_DRIVERS = ("asyncpg", "psycopg", "psycopg_async")


def normalize_database_url(url: str) -> str:
    """Returns ``url`` as an async SQLAlchemy PostgreSQL URL.

    ``postgres://`` and ``postgresql://`` become ``postgresql+asyncpg://``,
    and a libpq ``sslmode`` query parameter becomes asyncpg's ``ssl`` (same
    values: ``disable``, ``require``, ``verify-full``...). URLs that already
    name an async driver are kept as they are.

    Args:
        url: A PostgreSQL URL, e.g. ``postgres://user:pass@host:5432/db``.

    Returns:
        The URL with an async driver, password included.

    Raises:
        ValueError: If ``url`` is not a PostgreSQL URL, or names a driver
            without asyncio support. The message hides the password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(
            "is not a database URL (expected postgresql://user:pass@host:5432/db)"
        ) from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in ("postgres", "postgresql"):
        raise ValueError(
            f"must be a PostgreSQL URL (postgresql://...), got a "
            f"{parsed.drivername!r} URL: {_hide_password(parsed)}"
        )
    if driver and driver not in _ASYNC_DRIVERS:
        raise ValueError(
            f"names the synchronous driver {driver!r}; use postgresql+asyncpg:// "
            f"(or plain postgresql://): {_hide_password(parsed)}"
        )
    if not driver:
        parsed = parsed.set(drivername="postgresql+asyncpg")
        if "sslmode" in parsed.query and "ssl" not in parsed.query:
            mode = parsed.query["sslmode"]
            parsed = parsed.difference_update_query(["sslmode"]).update_query_dict(
                {"ssl": mode}
            )
    elif backend == "postgres":
        parsed = parsed.set(drivername=f"postgresql+{driver}")
    return parsed.render_as_string(hide_password=False)


def _hide_password(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _require_connector() -> None:
    """Fails at construction, naming the package, if the connector is missing."""
    try:
        found = importlib.util.find_spec("google.cloud.sql.connector") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise ImportError(
            "Cloud SQL needs the Cloud SQL Python Connector: pip install "
            "'cloud-sql-python-connector[asyncpg]' (or adk-redis-session[cloudsql])"
        )


class _CloudSqlConnections:
    """Opens asyncpg connections through a lazily created Cloud SQL Connector.

    The connector is bound to the event loop it is created in, so it is made
    on the first connection, inside the engine's loop.
    """

    def __init__(
        self,
        instance_connection_name: str,
        connect_kwargs: dict[str, Any],
        connector: Connector | None,
        connector_options: Mapping[str, Any],
    ) -> None:
        self.instance_connection_name = instance_connection_name
        self._connect_kwargs = connect_kwargs
        self._connector = connector
        self._owns_connector = connector is None
        self._connector_options = dict(connector_options)
        self._closed = False

    @property
    def connector(self) -> Connector | None:
        """The connector, or ``None`` before the first connection."""
        return self._connector

    async def connect(self) -> Any:
        """Opens one asyncpg connection (SQLAlchemy's ``async_creator``)."""
        if self._closed:
            raise RuntimeError(
                f"the Cloud SQL connector for {self.instance_connection_name} is closed"
            )
        if self._connector is None:
            from google.cloud.sql.connector import Connector

            # Synchronous, so two first connections cannot both create one.
            self._connector = Connector(
                loop=asyncio.get_running_loop(), **self._connector_options
            )
        return await self._connector.connect_async(
            self.instance_connection_name, "asyncpg", **self._connect_kwargs
        )

    async def aclose(self) -> None:
        """Closes the connector if this object created it."""
        self._closed = True
        if self._owns_connector and self._connector is not None:
            await self._connector.close_async()


class SqlEngine:
    """An async SQLAlchemy engine and the Cloud SQL connector behind it.

    Build one with `from_url` or `from_instance`; ``aclose()`` disposes the
    engine's pool, then closes the connector this object created (an
    injected ``connector`` is the caller's and stays open).

    Args:
        engine: The engine.
        connections: The connector wrapper used as ``async_creator``, if any.
    """

    def __init__(
        self, engine: AsyncEngine, connections: _CloudSqlConnections | None = None
    ) -> None:
        self.engine = engine
        self._connections = connections
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> Self:
        """Creates an engine for a PostgreSQL URL (see `normalize_database_url`).

        Args:
            url: ``postgres://``, ``postgresql://`` or ``postgresql+asyncpg://``.
            **engine_kwargs: Passed to ``create_async_engine``;
                ``pool_pre_ping`` defaults to True, as in ADK.

        Raises:
            ValueError: If ``url`` is not an async-capable PostgreSQL URL.
        """
        engine_kwargs.setdefault("pool_pre_ping", True)
        return cls(create_async_engine(normalize_database_url(url), **engine_kwargs))

    @classmethod
    def from_instance(
        cls,
        instance_connection_name: str,
        *,
        user: str,
        database: str,
        password: str | None = None,
        enable_iam_auth: bool = False,
        ip_type: str = "public",
        connector: Connector | None = None,
        connector_options: Mapping[str, Any] | None = None,
        **engine_kwargs: Any,
    ) -> Self:
        """Creates an engine on Cloud SQL for PostgreSQL through the connector.

        Args:
            instance_connection_name: ``project:region:instance``.
            user: Database user; with IAM auth, the IAM principal (a service
                account's ``name@project.iam`` or a user's email).
            database: Database name.
            password: The user's password; ``None`` with IAM auth.
            enable_iam_auth: Use IAM database authentication (no password).
            ip_type: ``public``, ``private`` or ``psc``.
            connector: A ``google.cloud.sql.connector.Connector`` you own and
                close; by default one is created on the first connection
                and closed by `aclose`.
            connector_options: Options for the connector created here (e.g.
                ``credentials``, ``quota_project``); ``refresh_strategy``
                defaults to ``"lazy"``, which Google recommends for Cloud Run
                and other places where the CPU is throttled between requests.
            **engine_kwargs: Passed to ``create_async_engine``;
                ``pool_pre_ping`` defaults to True.

        Raises:
            ValueError: If ``ip_type`` is unknown, or the password and IAM
                settings contradict each other.
            ImportError: If ``cloud-sql-python-connector`` is not installed.
        """
        _require_connector()
        if ip_type.lower() not in IP_TYPES:
            raise ValueError(
                f"ip_type must be one of {', '.join(IP_TYPES)}, got {ip_type!r}"
            )
        if enable_iam_auth and password:
            raise ValueError("give either a password or enable_iam_auth, not both")
        if not enable_iam_auth and password is None:
            raise ValueError("a password is needed unless enable_iam_auth is set")
        options = dict(connector_options or {})
        options.setdefault("refresh_strategy", "lazy")
        connect_kwargs: dict[str, Any] = {
            "user": user,
            "db": database,
            "enable_iam_auth": enable_iam_auth,
            "ip_type": ip_type.lower(),
        }
        if password is not None:
            connect_kwargs["password"] = password
        connections = _CloudSqlConnections(
            instance_connection_name, connect_kwargs, connector, options
        )
        engine_kwargs.setdefault("pool_pre_ping", True)
        engine = create_async_engine(
            "postgresql+asyncpg://", async_creator=connections.connect, **engine_kwargs
        )
        return cls(engine, connections)

    @property
    def connector(self) -> Connector | None:
        """The Cloud SQL connector, if one was made or given.

        ``None`` for a URL engine, and before the first connection.
        """
        return self._connections.connector if self._connections else None

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called."""
        return self._closed

    def describe(self) -> str:
        """Where this engine connects, without secrets, for logs."""
        if self._connections is not None:
            return f"Cloud SQL {self._connections.instance_connection_name}"
        return _hide_password(self.engine.url)

    async def aclose(self) -> None:
        """Disposes the engine, then closes the connector. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.engine.dispose()
        finally:
            if self._connections is not None:
                await self._connections.aclose()


class CloudSqlSessionService(DatabaseSessionService):
    """ADK's ``DatabaseSessionService`` owning its engine and connector.

    Everything session-related is ADK's own code (tables, stale-writer
    checks, errors); this class only adds construction from a URL or a
    Cloud SQL instance and closing of what it opened. ``aclose()`` (also
    ``close()`` and ``async with``) disposes the engine and closes the
    Cloud SQL connector::

        sessions = CloudSqlSessionService.from_instance(
            "my-project:europe-west1:my-db", user="app", password="...",
            database="adk", ip_type="private",
        )

    Args:
        sql: The engine (and connector) to use and close.
    """

    def __init__(self, sql: SqlEngine) -> None:
        super().__init__(db_engine=sql.engine)
        self._sql = sql

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> Self:
        """Creates a service on a PostgreSQL URL; see `SqlEngine.from_url`.

        Args:
            url: A PostgreSQL URL (``postgres://`` / ``postgresql://`` are
                switched to asyncpg).
            **engine_kwargs: Passed to ``create_async_engine``.
        """
        return cls(SqlEngine.from_url(url, **engine_kwargs))

    @classmethod
    def from_instance(
        cls,
        instance_connection_name: str,
        *,
        user: str,
        database: str,
        password: str | None = None,
        enable_iam_auth: bool = False,
        ip_type: str = "public",
        connector: Connector | None = None,
        connector_options: Mapping[str, Any] | None = None,
        **engine_kwargs: Any,
    ) -> Self:
        """Creates a service on Cloud SQL; the arguments of `SqlEngine.from_instance`.

        Args:
            instance_connection_name: ``project:region:instance``.
            user: Database user (the IAM principal with IAM auth).
            database: Database name.
            password: The user's password; ``None`` with IAM auth.
            enable_iam_auth: Use IAM database authentication.
            ip_type: ``public``, ``private`` or ``psc``.
            connector: A connector you own; by default one is created lazily.
            connector_options: Options for the connector created here.
            **engine_kwargs: Passed to ``create_async_engine``.
        """
        return cls(
            SqlEngine.from_instance(
                instance_connection_name,
                user=user,
                database=database,
                password=password,
                enable_iam_auth=enable_iam_auth,
                ip_type=ip_type,
                connector=connector,
                connector_options=connector_options,
                **engine_kwargs,
            )
        )

    @property
    def sql(self) -> SqlEngine:
        """The engine and connector this service owns."""
        return self._sql

    async def close(self) -> None:
        """Disposes the engine and closes the connector. Safe to call twice."""
        await self._sql.aclose()

    async def aclose(self) -> None:
        """Same as `close`, named like the other services of this package."""
        await self._sql.aclose()

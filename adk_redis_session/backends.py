"""Session and memory services chosen by environment variables.

The one place this package reads the environment. An operator switches
storage with a variable and a restart, no code change::

    sessions = get_session_service()  # SESSION_BACKEND, default redis
    memory = get_memory_service()  # MEMORY_BACKEND, default cloudsql

Variables (an empty value counts as unset; ``.env.example`` lists them all):

=========================  ===================================================
``SESSION_BACKEND``        ``redis`` | ``cloudsql`` | ``inmemory`` (``redis``)
``MEMORY_BACKEND``         ``redis`` | ``cloudsql`` | ``inmemory`` (``cloudsql``)
``REDIS_URL``              ``redis://`` / ``rediss://`` / ``unix://`` URL, or
                           ``redis+cluster://`` / ``rediss+cluster://`` for
                           Redis Cluster (``redis://localhost:6379/0``)
``REDIS_SESSION_TTL``      sliding session expiry in seconds (3600; 0 = never)
``REDIS_KEY_PREFIX``       namespace of every key (``adk``)
``DATABASE_URL``           any PostgreSQL URL, for ``cloudsql``
``INSTANCE_CONNECTION_NAME``  ``project:region:instance``: Cloud SQL through
                           the Cloud SQL Python Connector (instead of
                           ``DATABASE_URL``), with ``DB_USER``, ``DB_NAME``,
                           ``DB_PASS`` or ``DB_IAM_AUTH=true``, and
                           ``DB_IP_TYPE`` = ``public`` | ``private`` | ``psc``
=========================  ===================================================

A bad or missing setting raises one `BackendConfigError` naming the variable
and what it accepts. Each call logs the chosen backend once, at INFO, with
passwords shown as ``***``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import logging
import math
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from google.adk.memory import InMemoryMemoryService
from google.adk.memory.base_memory_service import BaseMemoryService
from google.adk.sessions import InMemorySessionService
from google.adk.sessions.base_session_service import BaseSessionService

if TYPE_CHECKING:
    from .cloudsql import SqlEngine

__all__ = [
    "BACKENDS",
    "VARIABLES",
    "BackendConfigError",
    "CloudSqlSettings",
    "RedisSettings",
    "close_service",
    "get_memory_service",
    "get_session_service",
    "redact_url",
]

logger = logging.getLogger(__name__)

#: Every variable this module reads (``.env.example`` documents each one).
VARIABLES = (
    "SESSION_BACKEND",
    "MEMORY_BACKEND",
    "REDIS_URL",
    "REDIS_SESSION_TTL",
    "REDIS_KEY_PREFIX",
    "DATABASE_URL",
    "INSTANCE_CONNECTION_NAME",
    "DB_USER",
    "DB_PASS",
    "DB_IAM_AUTH",
    "DB_NAME",
    "DB_IP_TYPE",
)
#: Valid values of ``SESSION_BACKEND`` and ``MEMORY_BACKEND``.
BACKENDS = ("redis", "cloudsql", "inmemory")
DEFAULT_SESSION_BACKEND = "redis"
DEFAULT_MEMORY_BACKEND = "cloudsql"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_SESSION_TTL_SECONDS = 3600
DEFAULT_KEY_PREFIX = "adk"

_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
_MAX_TTL_SECONDS = 100 * 365 * 24 * 3600  # what RedisSessionService accepts
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_SECRET_QUERY_KEYS = re.compile(r"pass|secret|token|auth", re.IGNORECASE)
# project:region:instance, optionally with a domain-scoped project (a:b:c:d).
_INSTANCE_NAME = re.compile(r"^(?:[^:\s]+:)?[^:\s]+:[^:\s]+:[^:\s]+$")
_CLOUDSQL_HINT = (
    "DATABASE_URL, or INSTANCE_CONNECTION_NAME with DB_USER, DB_NAME and "
    "DB_PASS (or DB_IAM_AUTH=true)"
)


def _require_cloudsql_packages() -> None:
    """Fails early, naming the extra, if the PostgreSQL packages are missing."""
    for name in ("sqlalchemy", "asyncpg"):
        if importlib.util.find_spec(name) is None:
            raise ImportError(
                f"the cloudsql backend needs the {name!r} package: pip install "
                "'adk-redis-session[cloudsql]'"
            )


class BackendConfigError(ValueError):
    """A backend variable is unknown, missing or malformed.

    The message names the variable and the values it accepts, and never
    contains a password.
    """


def redact_url(url: str) -> str:
    """Returns ``url`` with its password (and secret-looking query values) as ``***``.

    Args:
        url: Any URL, e.g. ``redis://:secret@host:6379/0``.

    Returns:
        The URL, safe to log: ``redis://:***@host:6379/0``.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if _SECRET_QUERY_KEYS.search(k) else v) for k, v in pairs],
            safe="*/:",
        )
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret; urlunsplit would drop an empty "//" host
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class _Env:
    """Reads variables from a mapping; blank values count as unset."""

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self._env: Mapping[str, str] = os.environ if env is None else env

    def get(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if value is None:
            return False
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise BackendConfigError(
            f"{name}={value!r} is not a boolean; use true or false"
        )


def _choose(
    variable: str, backend: str | None, default: str, env: _Env
) -> tuple[str, str]:
    """Returns the backend and where it came from (for messages)."""
    if backend is not None:
        source, value = f"backend (argument, instead of {variable})", backend
    else:
        source, value = variable, env.get(variable) or default
    chosen = value.strip().lower()
    if chosen not in BACKENDS:
        raise BackendConfigError(
            f"{source}={value!r} is not a backend; choose one of: {', '.join(BACKENDS)}"
        )
    return chosen, source


@dataclasses.dataclass(frozen=True)
class RedisSettings:
    """Where and how the Redis backends store data.

    Attributes:
        url: ``REDIS_URL``; options such as ``ssl_ca_certs`` may ride in its
            query string (see ``docs/setup.md``).
        key_prefix: ``REDIS_KEY_PREFIX``.
        ttl_seconds: ``REDIS_SESSION_TTL`` (``None`` when 0: no expiry).
    """

    url: str = DEFAULT_REDIS_URL
    key_prefix: str = DEFAULT_KEY_PREFIX
    ttl_seconds: float | None = DEFAULT_SESSION_TTL_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RedisSettings:
        """Reads ``REDIS_URL``, ``REDIS_SESSION_TTL`` and ``REDIS_KEY_PREFIX``.

        Args:
            env: The variables; ``os.environ`` by default.

        Raises:
            BackendConfigError: If a value is malformed.
        """
        e = _Env(env)
        url = e.get("REDIS_URL") or DEFAULT_REDIS_URL
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if scheme not in _REDIS_SCHEMES:
            raise BackendConfigError(
                f"REDIS_URL={redact_url(url)!r} must start with one of "
                f"{', '.join(s + '://' for s in _REDIS_SCHEMES)}"
            )
        prefix = e.get("REDIS_KEY_PREFIX") or DEFAULT_KEY_PREFIX
        if "{" in prefix or "}" in prefix:
            raise BackendConfigError(
                f"REDIS_KEY_PREFIX={prefix!r} must not contain '{{' or '}}'"
            )
        return cls(url=url, key_prefix=prefix, ttl_seconds=_ttl(e))

    def __repr__(self) -> str:
        return f"RedisSettings({self.describe()})"

    def describe(self) -> str:
        """The settings for a log line, password redacted."""
        ttl = "none" if self.ttl_seconds is None else f"{self.ttl_seconds:g}s"
        return (
            f"url={redact_url(self.url)}, key_prefix={self.key_prefix}, "
            f"session_ttl={ttl}"
        )


def _ttl(env: _Env) -> float | None:
    raw = env.get("REDIS_SESSION_TTL")
    if raw is None:
        return DEFAULT_SESSION_TTL_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not 0 <= seconds <= _MAX_TTL_SECONDS:
        raise BackendConfigError(
            f"REDIS_SESSION_TTL={raw!r} must be a number of seconds from 0 "
            f"(no expiry) to {_MAX_TTL_SECONDS} (100 years)"
        )
    if seconds == 0:
        return None
    return int(seconds) if seconds.is_integer() else seconds


@dataclasses.dataclass(frozen=True)
class CloudSqlSettings:
    """How the ``cloudsql`` backends reach PostgreSQL.

    Either ``database_url`` is set, or the Cloud SQL instance fields are.

    Attributes:
        database_url: ``DATABASE_URL``, any PostgreSQL URL.
        instance_connection_name: ``INSTANCE_CONNECTION_NAME``.
        user: ``DB_USER`` (the IAM principal with IAM auth).
        password: ``DB_PASS``; ``None`` with ``DB_IAM_AUTH``.
        database: ``DB_NAME``.
        enable_iam_auth: ``DB_IAM_AUTH``.
        ip_type: ``DB_IP_TYPE``: ``public``, ``private`` or ``psc``.
    """

    database_url: str | None = None
    instance_connection_name: str | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    enable_iam_auth: bool = False
    ip_type: str = "public"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, needed_by: str = "cloudsql"
    ) -> CloudSqlSettings:
        """Reads ``DATABASE_URL`` or the Cloud SQL instance variables.

        Args:
            env: The variables; ``os.environ`` by default.
            needed_by: What asked, for messages (``SESSION_BACKEND=cloudsql``).

        Raises:
            BackendConfigError: If neither or both ways are configured, a
                required variable is missing, or a value is malformed.
        """
        _require_cloudsql_packages()
        from .cloudsql import IP_TYPES, normalize_database_url

        e = _Env(env)
        url = e.get("DATABASE_URL")
        instance = e.get("INSTANCE_CONNECTION_NAME")
        if url and instance:
            raise BackendConfigError(
                f"{needed_by}: set DATABASE_URL or INSTANCE_CONNECTION_NAME, not both"
            )
        if url:
            try:
                return cls(database_url=normalize_database_url(url))
            except ValueError as exc:
                raise BackendConfigError(f"DATABASE_URL {exc}") from None
        if not instance:
            raise BackendConfigError(f"{needed_by} needs {_CLOUDSQL_HINT}")
        if not _INSTANCE_NAME.match(instance):
            raise BackendConfigError(
                f"INSTANCE_CONNECTION_NAME={instance!r} must look like "
                "project:region:instance"
            )
        iam = e.flag("DB_IAM_AUTH")
        password = e.get("DB_PASS")
        missing = [name for name in ("DB_USER", "DB_NAME") if not e.get(name)]
        if not iam and password is None:
            missing.append("DB_PASS (or DB_IAM_AUTH=true)")
        if missing:
            raise BackendConfigError(
                f"{needed_by} with INSTANCE_CONNECTION_NAME needs DB_USER, DB_NAME "
                f"and DB_PASS (or DB_IAM_AUTH=true); missing: {', '.join(missing)}"
            )
        if iam and password is not None:
            raise BackendConfigError(
                "DB_IAM_AUTH=true signs in without a password: unset DB_PASS "
                "or DB_IAM_AUTH"
            )
        ip_type = (e.get("DB_IP_TYPE") or "public").lower()
        if ip_type not in IP_TYPES:
            raise BackendConfigError(
                f"DB_IP_TYPE={ip_type!r} is not an IP type; choose one of: "
                f"{', '.join(IP_TYPES)}"
            )
        return cls(
            instance_connection_name=instance,
            user=e.get("DB_USER"),
            password=password,
            database=e.get("DB_NAME"),
            enable_iam_auth=iam,
            ip_type=ip_type,
        )

    def build_engine(self, **connector_options: Any) -> SqlEngine:
        """Creates the engine (no network I/O until first use).

        Args:
            **connector_options: Options for the Cloud SQL connector (e.g.
                ``credentials``); ignored with ``database_url``.
        """
        from .cloudsql import SqlEngine

        if self.database_url is not None:
            return SqlEngine.from_url(self.database_url)
        assert self.instance_connection_name is not None
        assert self.user is not None and self.database is not None
        return SqlEngine.from_instance(
            self.instance_connection_name,
            user=self.user,
            database=self.database,
            password=self.password,
            enable_iam_auth=self.enable_iam_auth,
            ip_type=self.ip_type,
            connector_options=connector_options,
        )

    def __repr__(self) -> str:
        return f"CloudSqlSettings({self.describe()})"

    def describe(self) -> str:
        """The settings for a log line, password redacted."""
        if self.database_url is not None:
            return f"url={redact_url(self.database_url)}"
        auth = "iam" if self.enable_iam_auth else "password"
        return (
            f"instance={self.instance_connection_name}, user={self.user}, "
            f"database={self.database}, auth={auth}, ip_type={self.ip_type}"
        )


def get_session_service(
    backend: str | None = None, *, env: Mapping[str, str] | None = None
) -> BaseSessionService:
    """Creates the session service the environment asks for.

    * ``redis``: `RedisSessionService` on ``REDIS_URL`` with
      ``REDIS_KEY_PREFIX`` and ``REDIS_SESSION_TTL``.
    * ``cloudsql``: ADK's ``DatabaseSessionService`` on PostgreSQL
      (`CloudSqlSessionService`), from ``DATABASE_URL`` or Cloud SQL.
    * ``inmemory``: ADK's ``InMemorySessionService`` (lost on restart).

    No network I/O happens here; the services connect on first use. Close
    the result with `close_service` (or its own ``aclose()``).

    Args:
        backend: Overrides ``SESSION_BACKEND``.
        env: The variables to read; ``os.environ`` by default.

    Returns:
        A ``BaseSessionService`` that ADK's ``Runner`` accepts.

    Raises:
        BackendConfigError: If the backend or one of its settings is
            unknown, missing or malformed.
    """
    e = _Env(env)
    chosen, _ = _choose("SESSION_BACKEND", backend, DEFAULT_SESSION_BACKEND, e)
    if chosen == "redis":
        from .session_service import RedisSessionService

        redis_settings = RedisSettings.from_env(env)
        logger.info("session backend: redis (%s)", redis_settings.describe())
        return RedisSessionService.from_url(
            redis_settings.url,
            key_prefix=redis_settings.key_prefix,
            ttl_seconds=redis_settings.ttl_seconds,
        )
    if chosen == "cloudsql":
        sql_settings = CloudSqlSettings.from_env(
            env, needed_by="SESSION_BACKEND=cloudsql"
        )
        from .cloudsql import CloudSqlSessionService

        logger.info("session backend: cloudsql (%s)", sql_settings.describe())
        return CloudSqlSessionService(sql_settings.build_engine())
    logger.info("session backend: inmemory (sessions are lost on restart)")
    return InMemorySessionService()


def get_memory_service(
    backend: str | None = None, *, env: Mapping[str, str] | None = None
) -> BaseMemoryService:
    """Creates the memory service the environment asks for.

    * ``redis``: `RedisMemoryService` on ``REDIS_URL`` with
      ``REDIS_KEY_PREFIX`` (``REDIS_SESSION_TTL`` does not apply to memory).
    * ``cloudsql``: ``adk_redis_session.pg_memory_service.PostgresMemoryService``
      on the same PostgreSQL settings as the ``cloudsql`` session backend,
      constructed as ``PostgresMemoryService(sql=SqlEngine)``; it owns the
      engine and closes it (and the connector) in ``aclose()``.
    * ``inmemory``: ADK's ``InMemoryMemoryService`` (keyword matching, lost
      on restart).

    Args:
        backend: Overrides ``MEMORY_BACKEND``.
        env: The variables to read; ``os.environ`` by default.

    Returns:
        A ``BaseMemoryService``.

    Raises:
        BackendConfigError: If the backend or one of its settings is
            unknown, missing or malformed, or the chosen backend is not part
            of this installation.
    """
    e = _Env(env)
    chosen, _ = _choose("MEMORY_BACKEND", backend, DEFAULT_MEMORY_BACKEND, e)
    if chosen == "redis":
        from .memory_service import RedisMemoryService

        redis_settings = RedisSettings.from_env(env)
        logger.info(
            "memory backend: redis (url=%s, key_prefix=%s)",
            redact_url(redis_settings.url),
            redis_settings.key_prefix,
        )
        return RedisMemoryService.from_url(
            redis_settings.url, key_prefix=redis_settings.key_prefix
        )
    if chosen == "cloudsql":
        sql_settings = CloudSqlSettings.from_env(
            env, needed_by="MEMORY_BACKEND=cloudsql"
        )
        from .pg_memory_service import PostgresMemoryService

        logger.info("memory backend: cloudsql (%s)", sql_settings.describe())
        service: BaseMemoryService = PostgresMemoryService(
            sql=sql_settings.build_engine()
        )
        return service
    logger.info("memory backend: inmemory (memories are lost on restart)")
    return InMemoryMemoryService()


async def close_service(service: object) -> None:
    """Closes a service from this module: ``aclose()`` or ``close()`` if it has one.

    ADK's in-memory services hold nothing to close and are left alone.

    Args:
        service: A session or memory service.
    """
    close = getattr(service, "aclose", None) or getattr(service, "close", None)
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result

"""``redis://`` and ``rediss://`` for ADK's service registry (``adk web`` etc.).

``redis+cluster://`` and ``rediss+cluster://`` are registered as well: the
same services on a Redis Cluster (any node's address).

ADK 2.13 registers no Redis scheme. Register ours from the agents
directory, then start the server with Redis URLs::

    # <agents_dir>/services.py
    from adk_redis_session.adk_registry import register

    register()

and, on one command line::

    adk api_server --session_service_uri="redis://localhost:6379/0?ttl=86400"
        --memory_service_uri="redis://localhost:6379/0" path/to/agents_dir

The same works without Python through ``services.yaml``, pointing ``class:``
at the factories below (ADK calls ``class(uri=..., agents_dir=...)``, and
any callable works); see ``examples/agents/services.yaml``.

URI query parameters that this package reads (and removes before the URL
reaches redis-py; every other parameter, e.g. ``ssl_ca_certs`` or
``socket_timeout``, goes to redis-py as usual):

=================  ====================================================
``prefix``         key prefix (``key_prefix``), both services; ``adk``
``ttl``            sessions: sliding expiry in seconds (``ttl_seconds``;
                   0 or absent: never); memory: forget memories older
                   than this many seconds (absent: keep)
``top_k``          memory: results per search (default 10)
=================  ====================================================
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .session_service import RedisSessionService

if TYPE_CHECKING:
    from google.adk.cli.service_registry import ServiceRegistry

    from .memory_service import RedisMemoryService

__all__ = [
    "SCHEMES",
    "redis_memory_service",
    "redis_session_service",
    "register",
]

#: URL schemes registered by `register`.
SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")


def _split_options(uri: str, names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Removes our query parameters from ``uri``; returns it and them."""
    parts = urlsplit(uri)
    ours: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in names:
            if key in ours:
                raise ValueError(f"query parameter {key!r} is given twice")
            ours[key] = value
        else:
            rest.append((key, value))
    if not ours:
        return uri, ours
    return urlunsplit(parts._replace(query=urlencode(rest))), ours


def _seconds(name: str, value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"query parameter {name}={value!r} must be a number of seconds >= 0"
        )
    return None if seconds == 0 else seconds


def _common(kwargs: dict[str, Any], options: dict[str, str]) -> dict[str, Any]:
    kwargs.pop("agents_dir", None)  # passed by ADK; not ours to use
    if "prefix" in options:
        kwargs["key_prefix"] = options["prefix"]
    if "ttl" in options:
        kwargs["ttl_seconds"] = _seconds("ttl", options["ttl"])
    return kwargs


def redis_session_service(uri: str, **kwargs: Any) -> RedisSessionService:
    """ADK service factory: a `RedisSessionService` for a ``redis(s)://`` URI.

    Args:
        uri: The URL given to ``--session_service_uri``; ``prefix`` and
            ``ttl`` query parameters are read here.
        **kwargs: From ADK: ``agents_dir`` (ignored) and anything passed
            as ``session_db_kwargs``, forwarded to the service.

    Raises:
        ValueError: If a query parameter is malformed.
    """
    url, options = _split_options(uri, ("prefix", "ttl"))
    return RedisSessionService(uri=url, **_common(kwargs, options))


def redis_memory_service(uri: str, **kwargs: Any) -> RedisMemoryService:
    """ADK service factory: a `RedisMemoryService` for a ``redis(s)://`` URI.

    Args:
        uri: The URL given to ``--memory_service_uri``; ``prefix``, ``ttl``
            and ``top_k`` query parameters are read here.
        **kwargs: From ADK: ``agents_dir`` (ignored); others are forwarded.

    Raises:
        ValueError: If a query parameter is malformed.
    """
    from .memory_service import RedisMemoryService

    url, options = _split_options(uri, ("prefix", "ttl", "top_k"))
    kwargs = _common(kwargs, options)
    if "top_k" in options:
        try:
            kwargs["top_k"] = int(options["top_k"])
        except ValueError:
            raise ValueError(
                f"query parameter top_k={options['top_k']!r} must be an integer"
            ) from None
    return RedisMemoryService(uri=url, **kwargs)


def register(registry: ServiceRegistry | None = None) -> None:
    """Registers the `SCHEMES` (``redis://`` etc.) for sessions and memory.

    Idempotent. Call it from ``services.py`` in the agents directory, or
    before building ADK's FastAPI app yourself.

    Args:
        registry: Defaults to ADK's global registry
            (``google.adk.cli.service_registry.get_service_registry()``).
    """
    if registry is None:
        from google.adk.cli.service_registry import get_service_registry

        registry = get_service_registry()
    for scheme in SCHEMES:
        registry.register_session_service(scheme, redis_session_service)
        registry.register_memory_service(scheme, redis_memory_service)

"""The Redis key schema: every key name this package uses is built here.

Layout (``P`` is the configured prefix; ``<a>``, ``<u>``, ``<s>`` are the
escaped app name, user id and session id)::

    P:{<a>:<u>}:s:<s>:meta      HASH  session metadata, revision, layout version
    P:{<a>:<u>}:s:<s>:state     HASH  session-scoped state, JSON per key
    P:{<a>:<u>}:s:<s>:events    LIST  events as JSON, in append order
    P:{<a>:<u>}:s:<s>:ts        ZSET  event id -> event timestamp
    P:{<a>:<u>}:s:<s>:ids       HASH  event id -> "<sha1 of JSON>:<revision>"
    P:{<a>:<u>}:user:state      HASH  user-scoped state (``user:`` keys)
    P:{<a>:<u>}:user:sessions   ZSET  session id -> last update time
    P:{<a>:<u>}:user:expiry     ZSET  session id -> expiry deadline (ms)
    P:{<a>}:app:state           HASH  app-scoped state (``app:`` keys)
    P:{<a>}:app:users           ZSET  user id -> latest session deadline (ms)

Escaping is percent-encoding of UTF-8 with only ``[A-Za-z0-9_.~-]`` left
as is, so an escaped id never contains ``:``, ``{``, ``}``, ``*``, ``?``,
``[``, whitespace or ``%`` itself. Distinct ids therefore always give
distinct keys, and no id can step into another tenant's hash tag or key.
Ids are stored inside the values too; nothing ever parses a key back.

Everything one session's append touches except the ``app:`` keys shares the
hash tag ``{<a>:<u>}``, so on Redis Cluster it lives in one slot.
"""

from __future__ import annotations

import functools
from typing import NamedTuple
from urllib.parse import quote

__all__ = ["AppKeys", "KeySchema", "SessionKeys", "UserKeys", "escape"]

#: Version of the stored layout described above, kept in each session's meta.
LAYOUT_VERSION = 1


@functools.lru_cache(maxsize=4096)
def escape(component: str) -> str:
    """Escapes one user-supplied id for use inside a key.

    Args:
        component: An app name, user id or session id.

    Returns:
        The percent-encoded id: injective, and free of separators and glob
        or hash-tag characters.

    Raises:
        TypeError: If ``component`` is not a string.
        ValueError: If it cannot be encoded as UTF-8 (lone surrogates).
    """
    if not isinstance(component, str):
        raise TypeError(f"ids must be str, got {type(component).__name__}")
    try:
        return quote(component, safe="", encoding="utf-8", errors="strict")
    except UnicodeEncodeError as exc:
        raise ValueError(f"id {component!r} is not valid Unicode text") from exc


class SessionKeys(NamedTuple):
    """Keys holding one session."""

    meta: str
    state: str
    events: str
    ts: str
    ids: str


class UserKeys(NamedTuple):
    """Keys shared by one user's sessions of one app."""

    state: str
    sessions: str
    expiry: str


class AppKeys(NamedTuple):
    """Keys shared by all users of one app."""

    state: str
    users: str


class KeySchema:
    """Builds key names under one prefix.

    Args:
        prefix: Namespace for every key; must not contain ``{`` or ``}``
            (they would change the hash tag).
    """

    def __init__(self, prefix: str) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("key_prefix must be a non-empty string")
        if "{" in prefix or "}" in prefix:
            raise ValueError("key_prefix must not contain '{' or '}'")
        self.prefix = prefix

    def _user_tag(self, app_name: str, user_id: str) -> str:
        return f"{self.prefix}:{{{escape(app_name)}:{escape(user_id)}}}"

    def session(self, app_name: str, user_id: str, session_id: str) -> SessionKeys:
        """Returns the keys of one session."""
        base = f"{self._user_tag(app_name, user_id)}:s:{escape(session_id)}"
        return SessionKeys(
            meta=f"{base}:meta",
            state=f"{base}:state",
            events=f"{base}:events",
            ts=f"{base}:ts",
            ids=f"{base}:ids",
        )

    def user(self, app_name: str, user_id: str) -> UserKeys:
        """Returns the keys shared by one user's sessions."""
        base = f"{self._user_tag(app_name, user_id)}:user"
        return UserKeys(
            state=f"{base}:state",
            sessions=f"{base}:sessions",
            expiry=f"{base}:expiry",
        )

    def app(self, app_name: str) -> AppKeys:
        """Returns the keys shared by all users of one app."""
        base = f"{self.prefix}:{{{escape(app_name)}}}:app"
        return AppKeys(state=f"{base}:state", users=f"{base}:users")

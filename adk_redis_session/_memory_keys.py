"""Key names of the memory index (pure; no I/O).

One index per (app, user). ``P`` is the key prefix, ``<a>`` and ``<u>`` the
app name and user id escaped by :func:`adk_redis_session._keys.escape`::

    P:{<a>:<u>}:mem:meta     HASH  v (layout version), app, user, len (sum of lengths)
    P:{<a>:<u>}:mem:time     ZSET  memory id -> timestamp (seconds)
    P:{<a>:<u>}:mem:docs     HASH  memory id -> entry JSON
    P:{<a>:<u>}:mem:terms    HASH  memory id -> "<length> <term> <term> ..." (distinct)
    P:{<a>:<u>}:mem:gone     ZSET  deleted memory id -> its timestamp (tombstones)
    P:{<a>:<u>}:mem:t:<term> HASH  memory id -> length * 1024 + min(count, 1023)

The hash tag ``{<a>:<u>}`` is the one the user's sessions use, so one user's
memory lives in one Redis Cluster slot. A term (see ``_tokenize``) holds only
letters and digits, and comes after the tag, so it can neither change the
slot nor reach a key of another kind.
"""

from __future__ import annotations

from typing import NamedTuple

from ._keys import escape

__all__ = ["MEMORY_LAYOUT_VERSION", "MemoryKeySchema", "MemoryKeys"]

#: Version of the memory layout above, kept in ``meta.v``.
MEMORY_LAYOUT_VERSION = 1


class MemoryKeys(NamedTuple):
    """The keys of one (app, user) memory index, in script KEYS order."""

    meta: str
    time: str
    docs: str
    terms: str
    gone: str


class MemoryKeySchema:
    """Builds memory key names under one prefix.

    Args:
        prefix: Namespace of every key; must not contain ``{`` or ``}``.
    """

    def __init__(self, prefix: str) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("key_prefix must be a non-empty string")
        if "{" in prefix or "}" in prefix:
            raise ValueError("key_prefix must not contain '{' or '}'")
        self.prefix = prefix

    def _base(self, app_name: str, user_id: str) -> str:
        return f"{self.prefix}:{{{escape(app_name)}:{escape(user_id)}}}:mem"

    def user(self, app_name: str, user_id: str) -> MemoryKeys:
        """Returns the fixed keys of one user's memory index."""
        base = self._base(app_name, user_id)
        return MemoryKeys(
            meta=f"{base}:meta",
            time=f"{base}:time",
            docs=f"{base}:docs",
            terms=f"{base}:terms",
            gone=f"{base}:gone",
        )

    def posting_prefix(self, app_name: str, user_id: str) -> str:
        """Returns the prefix that a term completes into its posting list key."""
        return f"{self._base(app_name, user_id)}:t:"

    def postings(self, app_name: str, user_id: str, terms: list[str]) -> list[str]:
        """Returns the posting list keys of ``terms``."""
        prefix = self.posting_prefix(app_name, user_id)
        return [prefix + term for term in terms]

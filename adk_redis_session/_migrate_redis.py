"""The Redis end of a migration: `RedisSessionService` plus its state hashes.

Besides the service, `RedisStore` writes state and the last update time
directly, in the service's own format, with two small scripts whose keys
all share the user's hash tag (so they also run on Redis Cluster).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._codec import decode_state_hash, encode_state_pairs
from ._keys import KeySchema
from ._migrate_stores import Store, redact_url

if TYPE_CHECKING:
    from .session_service import RedisSessionService

__all__ = ["RedisStore"]

# Sets session-scoped state keys of an existing session; new keys get the
# session's deadline. KEYS[1] meta  KEYS[2] state  ARGV field/JSON pairs.
_SET_SESSION_STATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
local deadline = redis.call('PEXPIRETIME', KEYS[1])
if deadline > 0 then redis.call('PEXPIREAT', KEYS[2], deadline) end
return 1
"""

# Sets a session's last update time. Reads trust the event list's order
# only while 'ordered' is 1, which appends keep true by comparing with
# 'updated': a time below the newest event's clears it for good.
# KEYS[1] meta  KEYS[2] ts  KEYS[3] user sessions
# ARGV[1] time (float text)  ARGV[2] session id
_SET_UPDATED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'updated', ARGV[1])
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2]
if newest and tonumber(newest) > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'ordered', 0)
end
redis.call('ZADD', KEYS[3], 'XX', ARGV[1], ARGV[2])
return 1
"""


class RedisStore(Store):
    """A `RedisSessionService` (no event cache) and its state hashes.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        key_prefix: The service's key prefix.
        ttl_seconds: Sliding TTL given to sessions this store writes.
    """

    kind = "redis"

    def __init__(
        self, url: str, *, key_prefix: str, ttl_seconds: float | None = None
    ) -> None:
        from .session_service import RedisSessionService

        # No event cache: verification must read what the server holds.
        self._redis: RedisSessionService = RedisSessionService.from_url(
            url, key_prefix=key_prefix, ttl_seconds=ttl_seconds, event_cache_size=0
        )
        super().__init__(
            self._redis, f"{redact_url(url)} (key prefix {key_prefix!r})", 16
        )
        self._keys = KeySchema(key_prefix)
        client = self._redis.client
        self._set_session_state = client.register_script(_SET_SESSION_STATE)
        self._set_updated = client.register_script(_SET_UPDATED)

    async def users_with_state(self, app_name: str) -> list[str]:
        """Lists the users in the app's user index (those with sessions)."""
        raw = await self._redis.client.zrange(self._keys.app(app_name).users, 0, -1)
        return [u.decode("utf-8") if isinstance(u, bytes) else str(u) for u in raw]

    async def read_app_state(self, app_name: str) -> dict[str, Any]:
        """Returns the app state hash, decoded."""
        raw = await self._redis.client.hgetall(self._keys.app(app_name).state)
        return decode_state_hash(raw, where=f"app {app_name!r}")

    async def _hset(self, key: str, values: Mapping[str, Any]) -> None:
        pairs = encode_state_pairs(dict(values))
        if pairs:
            await self._redis.client.hset(
                key, mapping=dict(zip(pairs[::2], pairs[1::2], strict=True))
            )

    async def write_app_state(self, app_name: str, values: Mapping[str, Any]) -> None:
        """HSETs keys of the app state hash."""
        await self._hset(self._keys.app(app_name).state, values)

    async def write_user_state(
        self, app_name: str, user_id: str, values: Mapping[str, Any]
    ) -> None:
        """HSETs keys of the user state hash."""
        await self._hset(self._keys.user(app_name, user_id).state, values)

    async def write_session_state(
        self, app_name: str, user_id: str, session_id: str, values: Mapping[str, Any]
    ) -> bool:
        """HSETs keys of the session state hash, keeping the session's TTL."""
        keys = self._keys.session(app_name, user_id, session_id)
        pairs = encode_state_pairs(dict(values))
        done = await self._set_session_state(keys=[keys.meta, keys.state], args=pairs)
        return bool(done)

    async def set_last_update_time(
        self, app_name: str, user_id: str, session_id: str, timestamp: float
    ) -> bool:
        """Sets ``meta.updated`` and the session's score in the user index."""
        keys = self._keys.session(app_name, user_id, session_id)
        user = self._keys.user(app_name, user_id)
        done = await self._set_updated(
            keys=[keys.meta, keys.ts, user.sessions],
            args=[repr(float(timestamp)), session_id],
        )
        return bool(done)

    async def aclose(self) -> None:
        """Closes the Redis client."""
        await self._redis.aclose()

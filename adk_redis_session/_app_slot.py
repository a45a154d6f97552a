"""The app-slot step of session writes on Redis Cluster.

On a single server every write is one script. On Redis Cluster the app keys
(``app:`` state and the app's user index, hash tag ``{<a>}``) live in
another slot than the user's keys (``{<a>:<u>}``), and a script may touch
one slot only. The user-slot script does the session's part and reports
what the app slot needs; `AppSlot` then runs ``APP_SYNC`` there. That second
step is not atomic with the first, and is idempotent, so repeating it (a
retried append does) repairs one that was lost. See docs/architecture.md.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import _scripts
from ._client import ClientHandle
from ._keys import KeySchema
from .errors import CorruptedDataError

__all__ = ["AppSlot", "AppSyncResult"]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class AppSyncResult(NamedTuple):
    """What ``APP_SYNC`` did.

    Attributes:
        entry: The deadline (ms, or ``+inf``) the user's app index entry was
            raised to; empty if it was not touched.
        state: The app state as a flat HGETALL array, if asked for.
    """

    entry: str
    state: list[Any]


class AppSlot:
    """Runs ``APP_SYNC``, the app-slot step, for one session service.

    Args:
        conn: The service's client (a ``RedisCluster``).
        keys: The service's key schema.
        session_ttl_ms: The service's session TTL in ms (0 = none).
        app_ttl_ms: The service's ``app:`` state TTL in ms (0 = none).
    """

    def __init__(
        self,
        conn: ClientHandle,
        keys: KeySchema,
        session_ttl_ms: int,
        app_ttl_ms: int,
    ) -> None:
        self._conn = conn
        self._keys = keys
        self._session_ttl_ms = session_ttl_ms
        # The user-slot scripts ask for a refresh at most every half TTL, so
        # the step sets one and a half: never shorter than the TTL asked for.
        self._app_ttl_ms = app_ttl_ms + app_ttl_ms // 2
        self._script = conn.client.register_script(_scripts.APP_SYNC)

    async def sync(
        self,
        app_name: str,
        user_id: str,
        *,
        mode: str = "keep",
        value: str = "",
        pairs: list[str] | None = None,
        want_state: bool = False,
    ) -> AppSyncResult:
        """Runs ``APP_SYNC`` for one user of one app.

        Args:
            app_name: The app.
            user_id: The user whose app index entry is meant.
            mode: ``keep``, ``remove``, ``at`` (raise the entry to ``value``)
                or ``after`` (to the server time + ``value`` ms).
            value: See ``mode``.
            pairs: ``app:`` state delta as ``[key, json, ...]``.
            want_state: Whether to return the app state.

        Raises:
            CorruptedDataError: If an app key has the wrong type (nothing is
                written then).
        """
        app = self._keys.app(app_name)
        pairs = pairs or []
        args = [
            user_id,
            mode,
            value,
            str(self._app_ttl_ms),
            "1" if want_state else "0",
            str(len(pairs) // 2),
            *pairs,
        ]
        where = f"app {app_name!r} (user {user_id!r})"
        async with self._conn.guard(f"write the app keys of {where}"):
            reply = await self._script(keys=[app.state, app.users], args=args)
        if _text(reply[0]) == "corrupt":
            raise CorruptedDataError(
                f"cannot write the app keys of {where}: key "
                f"{_text(reply[1])!r} has the wrong type"
            )
        return AppSyncResult(_text(reply[1]), reply[2])

    async def after_append(
        self, app_name: str, user_id: str, reply: list[Any], pairs: list[str]
    ) -> None:
        """The app step of an append, when it needs one.

        Runs when the event carries an ``app:`` delta, or when
        ``APPEND_EVENT`` asked for the user's app index entry or the app
        state TTL to move forward. A retried append (reply ``dup``/``retry``)
        repeats the step, which repairs it if the first attempt's was lost.

        Args:
            app_name: The app.
            user_id: The session's user.
            reply: ``APPEND_EVENT``'s reply.
            pairs: The event's ``app:`` delta as ``[key, json, ...]``.
        """
        status = _text(reply[0])
        if status == "ok":
            entry, touch = _text(reply[2]), int(reply[3])
        elif status == "dup" and _text(reply[2]) == "retry":
            entry, touch = _text(reply[3]), self._app_ttl_ms > 0
        else:
            return  # nothing was written, or the caller already holds it
        if pairs or entry or touch:
            await self.sync(
                app_name,
                user_id,
                mode="at" if entry else "keep",
                value=entry,
                pairs=pairs,
            )

    async def before_create(
        self, app_name: str, user_id: str, *, want_state: bool
    ) -> AppSyncResult:
        """Lists the user in the app index before their session exists.

        Listing a user too early (or for a create that then fails) is
        harmless: their session index is simply read and found empty.
        Listing them too late would hide their sessions from
        ``list_sessions()``, so this step comes first.
        """
        if self._session_ttl_ms > 0:
            ahead = self._session_ttl_ms + self._session_ttl_ms // 2
            return await self.sync(
                app_name, user_id, mode="after", value=str(ahead), want_state=want_state
            )
        return await self.sync(
            app_name, user_id, mode="at", value="+inf", want_state=want_state
        )

    async def after_delete(self, app_name: str, user_id: str) -> None:
        """Removes a user whose last session was deleted from the app index.

        A create for the same user may have slipped in between the delete
        and this step, so the user's session index is checked again
        afterwards and the entry restored if it lists a session.
        """
        await self.sync(app_name, user_id, mode="remove")
        user = self._keys.user(app_name, user_id)
        where = f"user {user_id!r} (app {app_name!r})"
        async with self._conn.guard(f"read the session index of {where}"):
            pipe = self._conn.client.pipeline(transaction=False)
            pipe.zcard(user.sessions)
            pipe.zrange(user.expiry, -1, -1, withscores=True)
            count, latest = await pipe.execute()
        if not count:
            return
        deadline = float(latest[0][1]) if latest else float("inf")
        if deadline == float("inf"):
            await self.sync(app_name, user_id, mode="at", value="+inf")
            return
        value = int(deadline) + self._session_ttl_ms // 2
        await self.sync(app_name, user_id, mode="at", value=str(value))

"""RedisSessionService: ADK sessions on Redis, one atomic script per write."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import weakref
from typing import Any

from google.adk.errors import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.platform import time as platform_time
from google.adk.platform import uuid as platform_uuid
from google.adk.sessions import _session_util
from google.adk.sessions.base_session_service import (
    BaseSessionService,
    GetSessionConfig,
    ListSessionsResponse,
)
from google.adk.sessions.session import Session
from google.adk.sessions.state import State
from typing_extensions import Self, override

from . import _scripts
from ._app_slot import AppSlot
from ._client import AnyRedis, ClientHandle
from ._codec import (
    META_FIELDS,
    decode_events,
    decode_meta,
    decode_state,
    decode_state_hash,
    encode_event,
    encode_state_pairs,
    without_temp_state,
)
from ._event_cache import EventCache
from ._keys import LAYOUT_VERSION, KeySchema, SessionKeys
from ._lifecycle import AsyncClosing
from .errors import (
    CorruptedDataError,
    EventIdConflictError,
    EventTooLargeError,
)

__all__ = ["RedisSessionService"]

logger = logging.getLogger(__name__)

# The same wording DatabaseSessionService uses, so callers see one message.
_STALE_SESSION_MESSAGE = (
    "The session has been modified in storage since it was loaded. "
    "Please reload the session before appending more events."
)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _id_text(value: bytes | str, where: str) -> str:
    """Decodes an id read from an index, naming the index if it is not UTF-8."""
    try:
        return _text(value)
    except UnicodeDecodeError as exc:
        raise CorruptedDataError(f"{where} holds an id that is not UTF-8") from exc


#: Longest TTL accepted; deadlines then stay exact integers in Lua.
_MAX_TTL_SECONDS = 100 * 365 * 24 * 3600

#: Default ``max_event_bytes``: 1 MiB of event JSON.
DEFAULT_MAX_EVENT_BYTES = 1 << 20


def _ttl_ms(name: str, seconds: float | None) -> int:
    """Converts an optional TTL in seconds to milliseconds (0 = no TTL)."""
    if seconds is None:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None")
    if not math.isfinite(seconds) or not 0 <= seconds <= _MAX_TTL_SECONDS:
        raise ValueError(
            f"{name} must be between 0 and {_MAX_TTL_SECONDS} seconds (100 "
            f"years), got {seconds!r}; use None for no expiry"
        )
    return int(seconds * 1000)


def _max_event_bytes(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"max_event_bytes must be a positive int or None, got {value!r}"
        )
    return value


def _merge_state(
    session_state: dict[str, Any],
    user_state: dict[str, Any],
    app_state: dict[str, Any],
) -> dict[str, Any]:
    """Merges the three scopes the way DatabaseSessionService does."""
    merged = dict(session_state)
    for key, value in app_state.items():
        merged[State.APP_PREFIX + key] = value
    for key, value in user_state.items():
        merged[State.USER_PREFIX + key] = value
    return merged


class RedisSessionService(AsyncClosing, BaseSessionService):
    """A session service that stores ADK sessions in Redis (or Valkey).

    A drop-in replacement for ``DatabaseSessionService``: the same behaviour,
    errors and stale-writer detection, with each write one atomic Lua script
    and one network round trip. Events live in a Redis LIST, so appending
    costs the same at any history length. See ``docs/architecture.md``.

    Construct it with an injected client (never closed by the service), or
    from a URL (the service owns and closes its client)::

        service = RedisSessionService.from_url("redis://localhost:6379/0")
        service = RedisSessionService(client=redis.asyncio.Redis(...))

    Redis Cluster: inject a ``redis.asyncio.cluster.RedisCluster``, or pass
    ``cluster=True`` (or a ``redis+cluster://`` URL) with a URL naming any
    node. The key layout is the same; the ``app:`` part of a write becomes a
    second step, not atomic with the event (see docs/architecture.md).

    Args:
        client: A ``redis.asyncio.Redis`` or
            ``redis.asyncio.cluster.RedisCluster`` the caller owns.
        uri: A ``redis://`` / ``rediss://`` / ``unix://`` URL, or
            ``redis+cluster://`` / ``rediss+cluster://`` for a cluster; the
            service creates and owns a client for it. ADK's
            ``services.yaml`` loader passes this (and ``agents_dir``, which
            is ignored).
        cluster: With ``uri``: connect to a Redis Cluster.
        key_prefix: Namespace of every key; one deployment, one prefix.
        ttl_seconds: Sliding expiry of each session, refreshed by every
            append; ``None`` or 0 keeps sessions until deleted.
        user_state_ttl_seconds: Sliding expiry of ``user:`` state, refreshed
            whenever one of the user's sessions is written; ``None`` keeps it.
        app_state_ttl_seconds: Sliding expiry of ``app:`` state, refreshed by
            any write in the app; ``None`` keeps it.
        event_cache_size: Events kept in this process so ``get_session``
            fetches only events it has not seen (stored events never change;
            callers always get their own copies). Bounds memory: roughly the
            events' JSON size twice over. 0 disables the cache.
        max_event_bytes: Largest event accepted, in bytes of its stored
            JSON (1 MiB by default); a larger one raises
            ``EventTooLargeError`` before anything is sent. ``None``: no
            limit.
        **redis_kwargs: Passed to ``redis.asyncio.Redis.from_url`` (or
            ``RedisCluster.from_url``) with ``uri``. Unless given,
            ``socket_timeout`` and ``socket_connect_timeout`` default to 5
            seconds so an unreachable server fails fast.
    """

    def __init__(
        self,
        *,
        client: AnyRedis | None = None,
        uri: str | None = None,
        cluster: bool = False,
        key_prefix: str = "adk",
        ttl_seconds: float | None = None,
        user_state_ttl_seconds: float | None = None,
        app_state_ttl_seconds: float | None = None,
        event_cache_size: int = 10_000,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
        **redis_kwargs: Any,
    ) -> None:
        redis_kwargs.pop("agents_dir", None)  # passed by ADK's services.yaml
        self._keys = KeySchema(key_prefix)
        self._session_ttl_ms = _ttl_ms("ttl_seconds", ttl_seconds)
        self._user_ttl_ms = _ttl_ms("user_state_ttl_seconds", user_state_ttl_seconds)
        self._app_ttl_ms = _ttl_ms("app_state_ttl_seconds", app_state_ttl_seconds)
        self._max_event_bytes = _max_event_bytes(max_event_bytes)
        # No network I/O here: from_url connects lazily.
        self._conn = ClientHandle(
            "RedisSessionService", client, uri, redis_kwargs, cluster=cluster
        )
        client = self._conn.client
        # Redis Cluster: the app keys are another slot, written in a 2nd step.
        self._app_slot = (
            AppSlot(self._conn, self._keys, self._session_ttl_ms, self._app_ttl_ms)
            if self._conn.is_cluster
            else None
        )
        self._cache = EventCache(event_cache_size)
        # One lock per session being appended to; entries vanish when unused.
        self._append_locks: weakref.WeakValueDictionary[
            tuple[str, str, str], asyncio.Lock
        ] = weakref.WeakValueDictionary()
        self._create_script = client.register_script(_scripts.CREATE_SESSION)
        self._append_script = client.register_script(_scripts.APPEND_EVENT)
        self._get_script = client.register_script(_scripts.GET_SESSION)
        self._delete_script = client.register_script(_scripts.DELETE_SESSION)
        self._list_users_script = client.register_script(_scripts.LIST_APP_USERS)
        self._prune_script = client.register_script(_scripts.PRUNE_SESSIONS)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key_prefix: str = "adk",
        ttl_seconds: float | None = None,
        cluster: bool = False,
        **kwargs: Any,
    ) -> Self:
        """Creates a service that owns a new client for ``url``.

        Args:
            url: A ``redis://``, ``rediss://`` or ``unix://`` URL; for a
                Redis Cluster, ``redis+cluster://`` / ``rediss+cluster://``
                (or ``cluster=True``) and any node's address.
            key_prefix: Namespace of every key.
            ttl_seconds: Sliding session expiry; ``None`` disables it.
            cluster: Connect to a Redis Cluster
                (``redis.asyncio.cluster.RedisCluster``).
            **kwargs: Other arguments of the constructor
                (``user_state_ttl_seconds``, ``max_event_bytes``, ...), or
                options for redis-py's ``from_url``.
        """
        return cls(
            uri=url,
            cluster=cluster,
            key_prefix=key_prefix,
            ttl_seconds=ttl_seconds,
            **kwargs,
        )

    @property
    def client(self) -> AnyRedis:
        """The Redis client this service uses."""
        return self._conn.client

    @property
    def is_cluster(self) -> bool:
        """Whether the client is a Redis Cluster client."""
        return self._conn.is_cluster

    @property
    def key_prefix(self) -> str:
        """The namespace of every key this service writes."""
        return self._keys.prefix

    async def aclose(self) -> None:
        """Closes the client if the service created it. Safe to call twice."""
        await self._conn.aclose()

    # -- helpers ---------------------------------------------------------

    def _script_keys(
        self, app_name: str, user_id: str, session_id: str
    ) -> tuple[SessionKeys, list[str]]:
        """Returns the session keys and the keys create/append pass.

        Those are the user slot's 8 keys, plus the 2 app keys on a single
        server (on a cluster they are another slot: see `AppSlot`).
        """
        session = self._keys.session(app_name, user_id, session_id)
        user = self._keys.user(app_name, user_id)
        if self._app_slot is not None:
            return session, [*session, *user]
        return session, [*session, *user, *self._keys.app(app_name)]

    def _state_args(self, state: dict[str, Any]) -> tuple[list[str], list[str]]:
        """Splits a state delta into scopes.

        Returns:
            The script arguments (three counts, then the pairs) and the
            ``app:`` pairs. On a cluster the script gets no app pairs: they
            are written by the app-slot step.
        """
        deltas = _session_util.extract_json_safe_state_delta(state)
        session_pairs = encode_state_pairs(deltas["session"])
        user_pairs = encode_state_pairs(deltas["user"])
        app_pairs = encode_state_pairs(deltas["app"])
        in_script = app_pairs if self._app_slot is None else []
        args = [
            str(len(session_pairs) // 2),
            str(len(user_pairs) // 2),
            str(len(in_script) // 2),
            *session_pairs,
            *user_pairs,
            *in_script,
        ]
        return args, app_pairs

    def _ttl_args(self) -> list[str]:
        return [
            str(self._session_ttl_ms),
            str(self._user_ttl_ms),
            str(self._app_ttl_ms),
        ]

    # -- BaseSessionService ----------------------------------------------

    @override
    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        if session_id is None:
            session_id = platform_uuid.new_uuid()
        _, keys = self._script_keys(app_name, user_id, session_id)
        incarnation = secrets.token_hex(8)
        now = repr(float(platform_time.get_time()))
        state_args, app_pairs = self._state_args(state or {})
        app_state: list[Any] | None = None
        app_entry = ""
        if self._app_slot is not None:
            # Cluster: list the user in the app index first (never too late).
            synced = await self._app_slot.before_create(
                app_name, user_id, want_state=not app_pairs
            )
            app_entry = synced.entry
            app_state = None if app_pairs else synced.state
        args = [
            incarnation,
            now,
            app_name,
            user_id,
            session_id,
            str(LAYOUT_VERSION),
            *self._ttl_args(),
            app_entry,
            *state_args,
        ]
        where = f"session {session_id!r} (app {app_name!r}, user {user_id!r})"
        async with self._conn.guard(f"create {where}"):
            reply = await self._create_script(keys=keys, args=args)
        status = _text(reply[0])
        if status == "exists":
            raise AlreadyExistsError(f"Session with id {session_id} already exists.")
        if status == "corrupt":
            raise CorruptedDataError(
                f"cannot create {where}: key {_text(reply[1])!r} has the wrong type"
            )
        if self._app_slot is not None and app_state is None:
            # Cluster, initial app: state: written once the session exists.
            synced = await self._app_slot.sync(
                app_name, user_id, pairs=app_pairs, want_state=True
            )
            app_state = synced.state
        session = Session(
            id=session_id,
            app_name=app_name,
            user_id=user_id,
            state=_merge_state(
                decode_state(reply[2], where=where),
                decode_state(reply[3], where=f"user {user_id!r}"),
                decode_state(
                    reply[4] if app_state is None else app_state,
                    where=f"app {app_name!r}",
                ),
            ),
            last_update_time=float(now),
        )
        session._storage_update_marker = _text(reply[1])
        return session

    @override
    async def get_session(
        self,
        *,
        app_name: str,
        user_id: str,
        session_id: str,
        config: GetSessionConfig | None = None,
    ) -> Session | None:
        keys = self._keys.session(app_name, user_id, session_id)
        user = self._keys.user(app_name, user_id)
        app = self._keys.app(app_name)
        limit = -1
        after = ""
        if config is not None:
            if config.num_recent_events is not None:
                limit = config.num_recent_events
            # A falsy 0.0 means no filter, as in DatabaseSessionService.
            if config.after_timestamp:
                after = repr(float(config.after_timestamp))
        where = f"session {session_id!r} (app {app_name!r}, user {user_id!r})"
        script_keys = [*keys, user.state]
        if self._app_slot is None:
            script_keys.append(app.state)
        args = [str(limit), after, *map(str, self._cache.window(keys.meta))]
        async with self._conn.guard(f"read {where}"):
            if self._app_slot is None:
                reply = await self._get_script(keys=script_keys, args=args)
            else:
                # Cluster: app state is another slot. Two requests in parallel,
                # so one round trip of latency, but not one snapshot.
                reply, app_hash = await asyncio.gather(
                    self._get_script(keys=script_keys, args=args),
                    self._conn.client.hgetall(app.state),
                )
                if reply is not None:
                    reply[3] = [part for pair in app_hash.items() for part in pair]
            if reply is None:
                return None
            meta, session_state, user_state, app_state, raw_events, start, sent = reply
            incarnation = _text(meta[1]) if meta[1] is not None else ""
            if sent > start and not self._cache.covers(
                keys.meta, incarnation, start, sent
            ):
                # The cache changed while the reply was in flight: read it all
                # (on a cluster, the app state read above is kept).
                reply = await self._get_script(
                    keys=script_keys, args=[str(limit), after, "", "0", "0"]
                )
                if reply is None:
                    return None
                meta, session_state, user_state, _, raw_events, start, sent = reply
        marker, last_update_time = decode_meta(meta, where=where)
        if start == -2:
            raise CorruptedDataError(f"the event order index of {where} is corrupted")
        events = self._cache.take(keys.meta, start, sent) if sent > start else []
        events.extend(decode_events(raw_events, where=where))
        if start < 0:  # out of (timestamp, id) order: positions unknown
            self._cache.drop(keys.meta)
        else:
            self._cache.put(keys.meta, incarnation, sent, raw_events)
        session = Session(
            id=session_id,
            app_name=app_name,
            user_id=user_id,
            state=_merge_state(
                decode_state(session_state, where=where),
                decode_state(user_state, where=f"user {user_id!r}"),
                decode_state(app_state, where=f"app {app_name!r}"),
            ),
            events=events,
            last_update_time=last_update_time,
        )
        session._storage_update_marker = marker
        return session

    @override
    async def list_sessions(
        self, *, app_name: str, user_id: str | None = None
    ) -> ListSessionsResponse:
        app = self._keys.app(app_name)
        async with self._conn.guard(f"list sessions of app {app_name!r}"):
            if user_id is None:
                raw_users = await self._list_users_script(keys=[app.users])
                user_ids = [
                    _id_text(u, f"the user index of app {app_name!r}")
                    for u in raw_users
                ]
            else:
                user_ids = [user_id]
            # Round trip: each user's session index and state, and app state.
            pipe = self._conn.client.pipeline(transaction=False)
            for uid in user_ids:
                user = self._keys.user(app_name, uid)
                pipe.zrange(user.sessions, 0, -1)
                pipe.hgetall(user.state)
            pipe.hgetall(app.state)
            replies = await pipe.execute()
            app_state = decode_state_hash(replies[-1], where=f"app {app_name!r}")
            found: list[tuple[str, str, dict[str, Any]]] = []
            for i, uid in enumerate(user_ids):
                where = f"user {uid!r} (app {app_name!r})"
                user_state = decode_state_hash(replies[2 * i + 1], where=where)
                found.extend(
                    (uid, _id_text(sid, f"the session index of {where}"), user_state)
                    for sid in replies[2 * i]
                )
            # Round trip: each listed session's metadata and state.
            pipe = self._conn.client.pipeline(transaction=False)
            for uid, sid, _ in found:
                keys = self._keys.session(app_name, uid, sid)
                pipe.hmget(keys.meta, META_FIELDS)
                pipe.hgetall(keys.state)
            replies = await pipe.execute() if found else []
            sessions: list[Session] = []
            vanished: dict[str, list[str]] = {}
            for i, (uid, sid, user_state) in enumerate(found):
                meta = replies[2 * i]
                if all(field is None for field in meta):
                    # Expired or evicted since it was indexed: drop the entry.
                    vanished.setdefault(uid, []).append(sid)
                    continue
                where = f"session {sid!r} (app {app_name!r}, user {uid!r})"
                marker, last_update_time = decode_meta(meta, where=where)
                session = Session(
                    id=sid,
                    app_name=app_name,
                    user_id=uid,
                    state=_merge_state(
                        decode_state_hash(replies[2 * i + 1], where=where),
                        user_state,
                        app_state,
                    ),
                    last_update_time=last_update_time,
                )
                session._storage_update_marker = marker
                sessions.append(session)
            if vanished:
                await self._prune(app_name, vanished)
        sessions.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsResponse(sessions=sessions)

    async def _prune(self, app_name: str, vanished: dict[str, list[str]]) -> None:
        """Drops vanished sessions from their users' indexes, users in parallel."""
        calls = []
        for uid, session_ids in vanished.items():
            logger.debug("pruning %d vanished sessions of %r", len(session_ids), uid)
            user = self._keys.user(app_name, uid)
            metas = [self._keys.session(app_name, uid, sid).meta for sid in session_ids]
            calls.append(
                self._prune_script(
                    keys=[user.sessions, user.expiry, *metas], args=session_ids
                )
            )
        await asyncio.gather(*calls)

    @override
    async def delete_session(
        self, *, app_name: str, user_id: str, session_id: str
    ) -> None:
        session = self._keys.session(app_name, user_id, session_id)
        user = self._keys.user(app_name, user_id)
        app = self._keys.app(app_name)
        where = f"session {session_id!r} (app {app_name!r}, user {user_id!r})"
        keys = [*session, user.sessions, user.expiry]
        if self._app_slot is None:
            keys.append(app.users)
        async with self._conn.guard(f"delete {where}"):
            self._cache.drop(session.meta)
            emptied = await self._delete_script(keys=keys, args=[session_id, user_id])
        if emptied and self._app_slot is not None:
            # Cluster: the user had no session left; unlist them (2nd step).
            await self._app_slot.after_delete(app_name, user_id)

    @override
    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        user = self._keys.user(app_name, user_id)
        async with self._conn.guard(
            f"read state of user {user_id!r} (app {app_name!r})"
        ):
            raw = await self._conn.client.hgetall(user.state)
        return decode_state_hash(raw, where=f"user {user_id!r} (app {app_name!r})")

    @override
    async def append_event(self, session: Session, event: Event) -> Event:
        if event.partial:
            return event
        if not math.isfinite(event.timestamp):
            raise ValueError(f"event {event.id!r} has a non-finite timestamp")
        payload = encode_event(without_temp_state(event))
        self._check_size(session, event, payload)
        # Temp state reaches the live session but never storage (ADK's rule).
        self._apply_temp_state(session, event)
        event = self._trim_temp_delta_state(event)

        _, keys = self._script_keys(session.app_name, session.user_id, session.id)
        state_args, app_pairs = self._state_args(
            event.actions.state_delta if event.actions else {}
        )
        event_args = [
            event.id,
            payload,
            repr(float(event.timestamp)),
            *self._ttl_args(),
            session.id,
            session.user_id,
            hashlib.sha1(payload.encode("utf-8")).hexdigest(),
            *state_args,
        ]
        where = (
            f"session {session.id!r} (app {session.app_name!r}, "
            f"user {session.user_id!r})"
        )
        # Like DatabaseSessionService, serialize appends to one session within
        # this process, so concurrent appends through one Session object each
        # see the revision the previous one stored instead of going stale.
        lock_key = (session.app_name, session.user_id, session.id)
        lock = self._append_locks.get(lock_key)
        if lock is None:
            lock = self._append_locks[lock_key] = asyncio.Lock()
        async with lock:
            revision_args = [
                session._storage_update_marker or "",
                repr(float(session.last_update_time)),
                session.events[-1].id if session.events else "",
                "1" if session.events else "0",
            ]
            async with self._conn.guard(f"append to {where}"):
                reply = await self._append_script(
                    keys=keys, args=[*revision_args, *event_args]
                )
            if self._app_slot is not None:
                await self._app_slot.after_append(
                    session.app_name, session.user_id, reply, app_pairs
                )
            appended = self._finish_append(session, event, reply, where)
        if _text(reply[0]) == "ok":
            # The next read of this session need not fetch this event back.
            incarnation, _, revision = _text(reply[1]).rpartition(":")
            self._cache.append(keys[0], incarnation, int(revision) - 1, payload)
        return appended

    def _check_size(self, session: Session, event: Event, payload: str) -> None:
        """Rejects an event over ``max_event_bytes`` before any I/O."""
        limit = self._max_event_bytes
        if limit is None or len(payload) <= limit // 4:  # at most 4 bytes/char
            return
        size = len(payload.encode("utf-8"))
        if size > limit:
            raise EventTooLargeError(
                f"event {event.id!r} of session {session.id!r} (app "
                f"{session.app_name!r}, user {session.user_id!r}) is {size} bytes "
                f"of JSON, over max_event_bytes={limit}; nothing was written"
            )

    def _finish_append(
        self, session: Session, event: Event, reply: list[Any], where: str
    ) -> Event:
        """Maps the append script's reply onto errors or the live session."""
        status = _text(reply[0])
        if status == "missing":
            raise SessionNotFoundError(f"Session {session.id} not found.")
        if status == "stale":
            raise StaleSessionError(_STALE_SESSION_MESSAGE)
        if status == "conflict":
            raise EventIdConflictError(
                f"event id {event.id!r} is already stored in {where} with "
                "different content"
            )
        if status == "corrupt":
            raise CorruptedDataError(
                f"cannot append to {where}: key {_text(reply[1])!r} is corrupted"
            )
        session._storage_update_marker = _text(reply[1])
        if status == "dup" and _text(reply[2]) == "held":
            # The object is current and the event already stored: no change,
            # but a caller whose object lacks it still gets it applied.
            if any(e.id == event.id for e in reversed(session.events)):
                return event
            return self._commit_event_to_session(session, event)
        # 'ok', or a retry after a lost reply: the session now ends with it.
        session.last_update_time = event.timestamp
        return self._commit_event_to_session(session, event)

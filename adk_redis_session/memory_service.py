"""RedisMemoryService: ranked long-term memory for ADK agents on plain Redis."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from google.adk.events.event import Event
from google.adk.memory.base_memory_service import (
    BaseMemoryService,
    SearchMemoryResponse,
)
from google.adk.memory.memory_entry import MemoryEntry
from google.adk.platform import time as platform_time
from typing_extensions import Self, override

from . import _memory_scripts
from ._client import AnyRedis, ClientHandle
from ._lifecycle import AsyncClosing, MemoryFromSessions
from ._memory_codec import (
    UNKNOWN_SESSION_ID,
    MemoryRecord,
    decode_entry,
    event_memory_id,
    record_from_entry,
    record_from_event,
)
from ._memory_keys import MEMORY_LAYOUT_VERSION, MemoryKeys, MemoryKeySchema
from ._tokenize import query_terms
from .errors import CorruptedDataError

__all__ = ["RedisMemoryService"]

logger = logging.getLogger(__name__)

#: BM25 parameters (the usual defaults).
BM25_K1 = 1.2
BM25_B = 0.75
#: Memories sent per ingestion script call; a larger call is split.
_BATCH = 1000
#: Calls with more events than this first ask which ones are stored.
_PRECHECK_ABOVE = 16
_MAX_TOP_K = 1000
_MAX_TTL_SECONDS = 100 * 365 * 24 * 3600


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _retention_ms(seconds: float | None) -> int:
    if seconds is None:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("ttl_seconds must be a number of seconds or None")
    if not math.isfinite(seconds) or not 0 <= seconds <= _MAX_TTL_SECONDS:
        raise ValueError(
            f"ttl_seconds must be between 0 and {_MAX_TTL_SECONDS} seconds (100 "
            f"years), got {seconds!r}; use None to keep memories"
        )
    return int(seconds * 1000)


def _where(app_name: str, user_id: str) -> str:
    """Names a memory index in messages."""
    return f"user {user_id!r} (app {app_name!r})"


def _positive(name: str, value: int | None, upper: int | None = None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{name} must be at most {upper}, got {value!r}")
    return value


class RedisMemoryService(MemoryFromSessions, AsyncClosing, BaseMemoryService):
    """Long-term memory on Redis (or Valkey), ranked with BM25 inside Redis.

    Each (app, user) has its own inverted index: one posting list per term,
    plus entries as JSON and a time index. Ingestion is one atomic script
    that stores each memory once (a memory's id derives from its session and
    event id, so re-adding a session that grew stores only the new events).
    Search tokenizes the query here and scores BM25 in a Lua script that
    reads only the query terms' posting lists. No Redis modules are needed.
    See ``docs/memory.md``.

    Construct it like ``RedisSessionService``::

        memory = RedisMemoryService.from_url("redis://localhost:6379/0")
        memory = RedisMemoryService(client=redis.asyncio.Redis(...))

    Every key of one user's index shares the user's hash tag, so the service
    runs unchanged on Redis Cluster, each operation one atomic script.

    Args:
        client: A ``redis.asyncio.Redis`` or
            ``redis.asyncio.cluster.RedisCluster`` the caller owns (never
            closed here).
        uri: A ``redis://`` / ``rediss://`` / ``unix://`` URL, or
            ``redis+cluster://`` / ``rediss+cluster://`` for a cluster; the
            service creates and owns a client for it. ADK's
            ``services.yaml`` loader passes this (and ``agents_dir``, which
            is ignored).
        cluster: With ``uri``: connect to a Redis Cluster.
        key_prefix: Namespace of every key; may be shared with a
            ``RedisSessionService`` (the key names do not overlap).
        ttl_seconds: Forget memories older than this (by the time they
            happened); ``None`` keeps them. The keys of an idle user expire.
        max_entries_per_user: Keep at most this many memories per (app,
            user), evicting the oldest; ``None`` for no limit.
        top_k: How many memories ``search_memory`` returns at most.
        **redis_kwargs: Passed to redis-py's ``from_url`` with ``uri``;
            ``socket_timeout`` and ``socket_connect_timeout`` default to 5
            seconds.
    """

    def __init__(
        self,
        *,
        client: AnyRedis | None = None,
        uri: str | None = None,
        cluster: bool = False,
        key_prefix: str = "adk",
        ttl_seconds: float | None = None,
        max_entries_per_user: int | None = None,
        top_k: int = 10,
        **redis_kwargs: Any,
    ) -> None:
        redis_kwargs.pop("agents_dir", None)  # passed by ADK's services.yaml
        self._keys = MemoryKeySchema(key_prefix)
        self._retention_ms = _retention_ms(ttl_seconds)
        self._max_entries = _positive("max_entries_per_user", max_entries_per_user)
        self._top_k = _positive("top_k", top_k, _MAX_TOP_K)
        self._conn = ClientHandle(
            "RedisMemoryService", client, uri, redis_kwargs, cluster=cluster
        )
        client = self._conn.client
        self._add_script = client.register_script(_memory_scripts.ADD_MEMORIES)
        self._search_script = client.register_script(_memory_scripts.SEARCH_MEMORIES)
        self._delete_script = client.register_script(_memory_scripts.DELETE_MEMORY)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key_prefix: str = "adk",
        ttl_seconds: float | None = None,
        max_entries_per_user: int | None = None,
        top_k: int = 10,
        cluster: bool = False,
        **kwargs: Any,
    ) -> Self:
        """Creates a service that owns a new client for ``url``.

        Args:
            url: A ``redis://``, ``rediss://`` or ``unix://`` URL; for a
                Redis Cluster, ``redis+cluster://`` / ``rediss+cluster://``
                (or ``cluster=True``) and any node's address.
            key_prefix: Namespace of every key.
            ttl_seconds: Forget memories older than this; ``None`` keeps them.
            max_entries_per_user: Memories kept per user; ``None``: no limit.
            top_k: How many memories a search returns at most.
            cluster: Connect to a Redis Cluster.
            **kwargs: Options for redis-py's ``from_url``.
        """
        return cls(
            uri=url,
            cluster=cluster,
            key_prefix=key_prefix,
            ttl_seconds=ttl_seconds,
            max_entries_per_user=max_entries_per_user,
            top_k=top_k,
            **kwargs,
        )

    @property
    def client(self) -> AnyRedis:
        """The Redis client this service uses."""
        return self._conn.client

    @property
    def key_prefix(self) -> str:
        """The namespace of every key this service writes."""
        return self._keys.prefix

    async def aclose(self) -> None:
        """Closes the client if the service created it. Safe to call twice."""
        await self._conn.aclose()

    # -- BaseMemoryService -----------------------------------------------

    @override
    async def add_events_to_memory(
        self,
        *,
        app_name: str,
        user_id: str,
        events: Sequence[Event],
        session_id: str | None = None,
        custom_metadata: Mapping[str, object] | None = None,
    ) -> None:
        """Adds events (a delta); each (session, event id) is stored once.

        Args:
            app_name: The application.
            user_id: The user whose memory this is.
            events: The events; those without text, function calls or
                function responses are skipped.
            session_id: The session they belong to (part of each memory's id
                and returned as ``custom_metadata["session_id"]``).
            custom_metadata: JSON-serializable metadata stored with each new
                memory and returned with it.
        """
        scoped = session_id or UNKNOWN_SESSION_ID
        keys = self._keys.user(app_name, user_id)
        fresh = list(events)
        if len(fresh) > _PRECHECK_ABOVE:
            fresh = await self._not_yet_stored(keys, scoped, fresh, app_name, user_id)
        records = [
            record
            for event in fresh
            if (record := record_from_event(event, scoped, custom_metadata)) is not None
        ]
        await self._store(app_name, user_id, records)

    @override
    async def add_memory(
        self,
        *,
        app_name: str,
        user_id: str,
        memories: Sequence[MemoryEntry],
        custom_metadata: Mapping[str, object] | None = None,
    ) -> None:
        """Adds explicit memories.

        An entry with an ``id`` replaces the stored memory of that id (and
        undoes its deletion); one without gets an id derived from its author,
        timestamp and content, so adding it twice stores it once.

        Args:
            app_name: The application.
            user_id: The user whose memory this is.
            memories: The entries. ``timestamp`` should be ISO-8601 (it
                orders memories and drives retention); otherwise the memory
                is dated now and the text is kept as given.
            custom_metadata: JSON-serializable metadata stored with each
                entry, under the entry's own ``custom_metadata``.
        """
        now = platform_time.get_time()
        records = [record_from_entry(m, now, custom_metadata) for m in memories]
        await self._store(app_name, user_id, records)

    @override
    async def search_memory(
        self,
        *,
        app_name: str,
        user_id: str,
        query: str,
        top_k: int | None = None,
    ) -> SearchMemoryResponse:
        """Returns the user's memories that best match ``query``, best first.

        Ranked by BM25 over the query's terms; ties go to the newer memory.
        Memories sharing no term with the query are not returned.

        Args:
            app_name: The application.
            user_id: The user whose memory is searched.
            query: Free text.
            top_k: At most this many memories (default: the service's).
        """
        k = self._top_k if top_k is None else _positive("top_k", top_k, _MAX_TOP_K)
        terms = query_terms(query)
        keys = self._keys.user(app_name, user_id)
        if not terms:
            return SearchMemoryResponse()
        where = _where(app_name, user_id)
        script_keys = [
            keys.meta,
            keys.time,
            keys.docs,
            *self._keys.postings(app_name, user_id, terms),
        ]
        args = [
            str(MEMORY_LAYOUT_VERSION),
            str(k),
            repr(BM25_K1),
            repr(BM25_B),
            str(self._retention_ms),
        ]
        async with self._conn.guard(f"search the memory of {where}"):
            reply = await self._search_script(keys=script_keys, args=args)
        self._check_status(reply, where)
        memories = []
        for i in range(1, len(reply), 3):
            memory_id = self._memory_id(reply[i], where)
            memories.append(decode_entry(memory_id, reply[i + 1], where))
        return SearchMemoryResponse(memories=memories)

    @override
    async def delete_memory(
        self,
        *,
        app_name: str,
        user_id: str,
        memory_id: str | None = None,
    ) -> None:
        """Deletes one memory by the id ``search_memory`` returned.

        Unknown ids are ignored. A deleted memory of an event is not stored
        again when its session is added again.

        Args:
            app_name: The application.
            user_id: The user whose memory it is.
            memory_id: ``MemoryEntry.id`` from a search; ``None`` does nothing.
        """
        if not memory_id:
            return
        if not isinstance(memory_id, str):
            raise TypeError(f"memory_id must be str, got {type(memory_id).__name__}")
        keys = self._keys.user(app_name, user_id)
        where = _where(app_name, user_id)
        args = [
            self._keys.posting_prefix(app_name, user_id),
            str(MEMORY_LAYOUT_VERSION),
            memory_id,
        ]
        async with self._conn.guard(f"delete memory {memory_id!r} of {where}"):
            reply = await self._delete_script(keys=list(keys), args=args)
        self._check_status(reply, where)

    # -- helpers ---------------------------------------------------------

    async def _not_yet_stored(
        self,
        keys: MemoryKeys,
        session_id: str,
        events: list[Event],
        app_name: str,
        user_id: str,
    ) -> list[Event]:
        """Drops events whose memory is stored or deleted (one round trip).

        Only an optimization for re-adding a long session: the script checks
        again, atomically.
        """
        ids = [event_memory_id(session_id, event.id) for event in events]
        where = _where(app_name, user_id)
        async with self._conn.guard(f"read the memory index of {where}"):
            pipe = self._conn.client.pipeline(transaction=False)
            pipe.zmscore(keys.time, ids)
            pipe.zmscore(keys.gone, ids)
            stored, gone = await pipe.execute()
        return [
            event
            for event, kept, deleted in zip(events, stored, gone, strict=True)
            if not event.id or (kept is None and deleted is None)
        ]

    async def _store(
        self, app_name: str, user_id: str, records: list[MemoryRecord]
    ) -> None:
        """Runs the ingestion script, one call per batch of memories."""
        keys = list(self._keys.user(app_name, user_id))
        where = _where(app_name, user_id)
        head = [
            self._keys.posting_prefix(app_name, user_id),
            str(MEMORY_LAYOUT_VERSION),
            app_name,
            user_id,
            str(self._retention_ms),
            str(self._max_entries),
        ]
        for start in range(0, len(records), _BATCH):
            batch = records[start : start + _BATCH]
            args = [*head, str(len(batch))]
            for record in batch:
                args.extend(record.script_args())
            async with self._conn.guard(f"add memories of {where}"):
                reply = await self._add_script(keys=keys, args=args)
            self._check_status(reply, where)
            logger.debug(
                "memory of %s: stored %s, skipped %s", where, reply[1], reply[2]
            )

    @staticmethod
    def _check_status(reply: list[Any], where: str) -> None:
        status = _text(reply[0])
        if status == "version":
            raise CorruptedDataError(
                f"the memory index of {where} has layout version "
                f"{_text(reply[1])!r}; this release reads {MEMORY_LAYOUT_VERSION}"
            )
        if status == "corrupt":
            raise CorruptedDataError(
                f"the memory index of {where}: key {_text(reply[1])!r} has the "
                "wrong type or content"
            )

    @staticmethod
    def _memory_id(value: bytes | str, where: str) -> str:
        try:
            return _text(value)
        except UnicodeDecodeError as exc:
            raise CorruptedDataError(
                f"the memory index of {where} holds an id that is not UTF-8"
            ) from exc

"""PostgresMemoryService: ranked long-term memory for ADK agents on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.adk.events.event import Event
from google.adk.memory.base_memory_service import (
    BaseMemoryService,
    SearchMemoryResponse,
)
from google.adk.memory.memory_entry import MemoryEntry
from google.adk.platform import time as platform_time
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from typing_extensions import override

from ._lifecycle import AsyncClosing, MemoryFromSessions
from ._memory_codec import (
    UNKNOWN_SESSION_ID,
    MemoryRecord,
    decode_entry,
    event_memory_id,
    record_from_entry,
    record_from_event,
)
from ._pg_memory_sql import (
    LAYOUT_VERSION,
    MemorySql,
    tsquery_literal,
    tsvector_literal,
)
from ._tokenize import query_terms
from .errors import CorruptedDataError, RedisSessionError, StoreUnavailableError
from .memory_service import BM25_B, BM25_K1

__all__ = ["EngineOwner", "PostgresMemoryService"]

logger = logging.getLogger(__name__)

#: Calls with more events than this first ask which ones are stored.
_PRECHECK_ABOVE = 16
_MAX_TOP_K = 1000
#: SQLAlchemy drivers with asyncio support for PostgreSQL.
_ASYNC_DRIVERS = ("asyncpg", "psycopg", "psycopg_async")


class EngineOwner(Protocol):
    """An engine with the resources behind it, handed over to the service.

    ``adk_redis_session.cloudsql.SqlEngine`` is one: ``aclose()`` disposes
    the engine and closes the Cloud SQL connector it created.
    """

    @property
    def engine(self) -> AsyncEngine:
        """The engine."""

    async def aclose(self) -> None:
        """Releases the engine and what it holds."""


@dataclass(frozen=True)
class _Scope:
    """One (app, user): the ids, their row digest and their write lock."""

    app_name: str
    user_id: str
    digest: bytes
    lock: int
    where: str = field(compare=False)

    @classmethod
    def of(cls, app_name: str, user_id: str, prefix: str) -> _Scope:
        _check_id("app_name", app_name)
        _check_id("user_id", user_id)
        digest = _digest(json.dumps([app_name, user_id]))
        lock = int.from_bytes(
            _digest(json.dumps([prefix, digest.hex()]))[:8], "big", signed=True
        )
        where = f"user {user_id!r} (app {app_name!r})"
        return cls(app_name, user_id, digest, lock, where)

    def params(self) -> dict[str, Any]:
        return {"scope": self.digest, "app": self.app_name, "user": self.user_id}


@dataclass
class _WritePlan:
    """What one ingestion call writes, decided under the user's lock."""

    rows: dict[bytes, MemoryRecord] = field(default_factory=dict)
    revive: set[bytes] = field(default_factory=set)
    added: int = 0
    length_delta: int = 0
    skipped: int = 0


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()[:16]


def _memory_key(memory_id: str) -> bytes:
    return _digest(memory_id)


def _check_id(name: str, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{name} must not contain NUL (PostgreSQL text cannot)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} {value!r} is not valid Unicode") from exc


def _storable(memory_id: str) -> bool:
    try:
        _check_id("memory_id", memory_id)
    except ValueError:
        return False
    return True


def _top_k(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"top_k must be a positive int, got {value!r}")
    if value > _MAX_TOP_K:
        raise ValueError(f"top_k must be at most {_MAX_TOP_K}, got {value!r}")
    return value


def _engine_for(db_url: str, engine_kwargs: dict[str, Any]) -> AsyncEngine:
    """Creates an engine for a PostgreSQL URL (no I/O)."""
    try:
        url = make_url(db_url)
    except sa_exc.ArgumentError:
        raise ValueError(
            "db_url is not a database URL (expected "
            "postgresql+asyncpg://user:password@host:5432/database)"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend not in ("postgres", "postgresql") or (
        driver and driver not in _ASYNC_DRIVERS
    ):
        raise ValueError(
            "db_url must be a PostgreSQL URL with an asyncio driver "
            "(postgresql+asyncpg://, or postgresql:// for asyncpg), got "
            f"{url.render_as_string(hide_password=True)}"
        )
    if not driver:
        url = url.set(drivername="postgresql+asyncpg")
        if "sslmode" in url.query and "ssl" not in url.query:
            # libpq's sslmode is asyncpg's ssl (same values).
            mode = url.query["sslmode"]
            url = url.difference_update_query(["sslmode"]).update_query_dict(
                {"ssl": mode}
            )
    elif backend == "postgres":
        url = url.set(drivername=f"postgresql+{driver}")
    engine_kwargs.setdefault("pool_pre_ping", True)
    engine_kwargs.setdefault("hide_parameters", True)
    return create_async_engine(url, **engine_kwargs)


def _plan(
    records: Sequence[MemoryRecord],
    stored: Mapping[bytes, tuple[str, int]],
    deleted: set[bytes],
) -> _WritePlan:
    """Decides what to write, exactly as ``RedisMemoryService`` does.

    An ``event`` memory is stored unless its key is stored or deleted; an
    ``entry`` memory replaces a stored one whose payload differs and clears
    its tombstone. Records are taken in order, each seeing the ones before.

    Args:
        records: The memories of the call.
        stored: Key -> (payload, length) of those already stored.
        deleted: Keys with a tombstone.
    """
    plan = _WritePlan()
    current = dict(stored)
    for record in records:
        key = _memory_key(record.memory_id)
        existing = current.get(key)
        if existing is not None:
            if record.mode != "entry" or existing[0] == record.payload:
                plan.skipped += 1
                continue
            plan.length_delta += record.length - existing[1]
        elif record.mode == "event" and key in deleted:
            plan.skipped += 1
            continue
        else:
            plan.added += 1
            plan.length_delta += record.length
        if record.mode == "entry" and key in deleted:
            plan.revive.add(key)
        current[key] = (record.payload, record.length)
        plan.rows[key] = record
    return plan


class PostgresMemoryService(MemoryFromSessions, AsyncClosing, BaseMemoryService):
    """Long-term memory on PostgreSQL, ranked with BM25 inside PostgreSQL.

    The same memories as ``RedisMemoryService``: the same ids (so adding a
    session again, or again after it grew, stores each event once), the same
    stored and indexed content, the same tokens (this package's tokenizer,
    kept in a GIN-indexed ``tsvector``, so CJK, accents and plurals match
    alike), the same BM25 ranking and tie-break. Each (app, user) is its own
    collection. See ``docs/memory-postgres.md``.

    Give exactly one of ``db_url``, ``engine`` or ``sql``::

        memory = PostgresMemoryService(db_url="postgresql://user:pw@host/db")
        memory = PostgresMemoryService(engine=my_async_engine)

    The tables (``<table_prefix>_meta``, ``_users``, ``_entries``,
    ``_deleted``) are created on first use, idempotently. No I/O happens in
    the constructor.

    Args:
        db_url: A PostgreSQL URL; ``postgres://`` and ``postgresql://`` use
            asyncpg (a libpq ``sslmode`` becomes asyncpg's ``ssl``). The
            service creates and owns the engine (disposed by ``aclose()``).
        engine: A SQLAlchemy ``AsyncEngine`` on PostgreSQL the caller owns
            (never disposed here), e.g. one on the Cloud SQL connector.
        sql: An object with an ``engine`` and an ``aclose()`` (such as
            ``cloudsql.SqlEngine``) that the service takes over and closes.
        table_prefix: Names the tables: lowercase letters, digits and ``_``,
            at most 45 characters. Unqualified: they go to the first schema
            of the connection's ``search_path``.
        top_k: How many memories ``search_memory`` returns at most.
        **engine_kwargs: Passed to ``create_async_engine`` with ``db_url``;
            ``pool_pre_ping`` and ``hide_parameters`` default to True.

    Raises:
        ValueError: If not exactly one of ``db_url``, ``engine`` and ``sql``
            is given, ``db_url`` is not a PostgreSQL URL (the message hides
            the password), or ``table_prefix`` or ``top_k`` is invalid.
        TypeError: If ``engine`` is not an ``AsyncEngine`` on PostgreSQL.
    """

    def __init__(
        self,
        db_url: str | None = None,
        *,
        engine: AsyncEngine | None = None,
        sql: EngineOwner | None = None,
        table_prefix: str = "adk_memory",
        top_k: int = 10,
        **engine_kwargs: Any,
    ) -> None:
        if sum(x is not None for x in (db_url, engine, sql)) != 1:
            raise ValueError(
                "Exactly one of 'db_url', 'engine' or 'sql' must be given."
            )
        if engine_kwargs and db_url is None:
            raise TypeError(
                f"unexpected arguments without db_url=: {sorted(engine_kwargs)}"
            )
        self._sql = MemorySql.for_prefix(table_prefix)
        self._prefix = table_prefix
        self._top_k = _top_k(top_k)
        self._owner: EngineOwner | None = sql
        if db_url is not None:
            engine = _engine_for(db_url, engine_kwargs)
        elif sql is not None:
            engine = sql.engine
        if not isinstance(engine, AsyncEngine):
            raise TypeError(
                "engine must be a sqlalchemy.ext.asyncio.AsyncEngine, got "
                f"{type(engine).__name__}"
            )
        if engine.dialect.name != "postgresql":
            raise TypeError(
                f"engine must be on PostgreSQL, not {engine.dialect.name!r}"
            )
        self._engine = engine
        self._owns_engine = db_url is not None
        self._closed = False
        self._ready = False
        self._ready_lock = asyncio.Lock()

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine this service uses."""
        return self._engine

    @property
    def table_prefix(self) -> str:
        """The prefix of this service's table names."""
        return self._prefix

    async def aclose(self) -> None:
        """Disposes the engine if the service owns it. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._owner is not None:
            await self._owner.aclose()
        elif self._owns_engine:
            await self._engine.dispose()

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
        scope = self._scope(app_name, user_id)
        scoped = session_id or UNKNOWN_SESSION_ID
        fresh = list(events)
        if len(fresh) > _PRECHECK_ABOVE:
            fresh = await self._not_yet_stored(scope, scoped, fresh)
        records = [
            record
            for event in fresh
            if (record := record_from_event(event, scoped, custom_metadata)) is not None
        ]
        await self._store(scope, records)

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
                orders memories); otherwise the memory is dated now and the
                text is kept as given. An ``id`` must not contain NUL.
            custom_metadata: JSON-serializable metadata stored with each
                entry, under the entry's own ``custom_metadata``.
        """
        scope = self._scope(app_name, user_id)
        now = platform_time.get_time()
        records = [record_from_entry(m, now, custom_metadata) for m in memories]
        for record in records:
            _check_id("MemoryEntry.id", record.memory_id)
        await self._store(scope, records)

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
        k = self._top_k if top_k is None else _top_k(top_k)
        scope = self._scope(app_name, user_id)
        terms = query_terms(query)
        if not terms:
            return SearchMemoryResponse()
        params = {
            **scope.params(),
            "query": tsquery_literal(terms),
            "terms": terms,
            "k1": BM25_K1,
            "b": BM25_B,
            "k": k,
        }
        async with self._reading(f"search the memory of {scope.where}") as conn:
            rows = (await conn.execute(text(self._sql.search), params)).all()
        return SearchMemoryResponse(
            memories=[decode_entry(row[0], row[1], scope.where) for row in rows]
        )

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
        scope = self._scope(app_name, user_id)
        if not _storable(memory_id):
            return  # no such memory can have been stored
        params = {
            **scope.params(),
            "key": _memory_key(memory_id),
            "memory_id": memory_id,
        }
        what = f"delete memory {memory_id!r} of {scope.where}"
        async with self._writing(what, scope) as conn:
            await conn.execute(text(self._sql.delete), params)

    # -- helpers ---------------------------------------------------------

    def _scope(self, app_name: str, user_id: str) -> _Scope:
        return _Scope.of(app_name, user_id, self._prefix)

    async def _not_yet_stored(
        self, scope: _Scope, session_id: str, events: list[Event]
    ) -> list[Event]:
        """Drops events whose memory is stored or deleted (one query).

        Only an optimization for re-adding a long session: the write checks
        again, under the user's lock.
        """
        keys = {
            event.id: _memory_key(event_memory_id(session_id, event.id))
            for event in events
            if event.id
        }
        params = {**scope.params(), "keys": list(keys.values())}
        async with self._reading(f"read the memory index of {scope.where}") as conn:
            rows = (await conn.execute(text(self._sql.state), params)).all()
        known = {bytes(row[1]) for row in rows}
        return [
            event for event in events if not event.id or keys[event.id] not in known
        ]

    async def _store(self, scope: _Scope, records: list[MemoryRecord]) -> None:
        """Writes the memories in one transaction, under the user's lock."""
        if not records:
            return
        keys = list({_memory_key(record.memory_id) for record in records})
        async with self._writing(f"add memories of {scope.where}", scope) as conn:
            rows = (
                await conn.execute(
                    text(self._sql.state), {**scope.params(), "keys": keys}
                )
            ).all()
            stored = {bytes(r[1]): (str(r[2]), int(r[3])) for r in rows if r[0]}
            deleted = {bytes(r[1]) for r in rows if not r[0]}
            plan = _plan(records, stored, deleted)
            if plan.rows or plan.revive:
                await conn.execute(
                    text(self._sql.write), self._write_params(scope, plan)
                )
        logger.debug(
            "memory of %s: stored %s, skipped %s",
            scope.where,
            len(plan.rows),
            plan.skipped,
        )

    @staticmethod
    def _write_params(scope: _Scope, plan: _WritePlan) -> dict[str, Any]:
        rows = list(plan.rows.items())
        return {
            **scope.params(),
            "keys": [key for key, _ in rows],
            "ids": [r.memory_id for _, r in rows],
            "ts": [r.timestamp for _, r in rows],
            "lengths": [r.length for _, r in rows],
            "payloads": [r.payload for _, r in rows],
            "terms": [tsvector_literal(r.counts) for _, r in rows],
            "revive": sorted(plan.revive),
            "added": plan.added,
            "length_delta": plan.length_delta,
        }

    @contextlib.asynccontextmanager
    async def _reading(self, what: str) -> AsyncIterator[AsyncConnection]:
        """A connection in autocommit: one statement, no transaction."""
        await self._ensure_tables()
        async with self._guard(what), self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @contextlib.asynccontextmanager
    async def _writing(
        self, what: str, scope: _Scope
    ) -> AsyncIterator[AsyncConnection]:
        """A transaction holding the user's write lock; commits on success.

        READ COMMITTED whatever the engine's default: each statement after
        the lock must see what the previous holder of the lock committed.
        """
        await self._ensure_tables()
        async with self._guard(what), self._engine.connect() as conn:
            await conn.execution_options(isolation_level="READ COMMITTED")
            async with conn.begin():
                await conn.execute(text(self._sql.lock_user), {"lock": scope.lock})
                yield conn

    async def _ensure_tables(self) -> None:
        """Creates the tables on first use (idempotent) and checks the layout."""
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            async with self._guard(f"create the memory tables {self._prefix}_*"):
                async with self._engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    found = await conn.scalar(
                        text(self._sql.count_relations),
                        {"names": list(self._sql.relations)},
                    )
                    version = None
                    if found == len(self._sql.relations):
                        version = await conn.scalar(text(self._sql.read_version))
                if version is None:
                    version = await self._create_tables()
            if version != str(LAYOUT_VERSION):
                raise CorruptedDataError(
                    f"the memory tables {self._prefix}_* have layout version "
                    f"{version!r}; this release reads {LAYOUT_VERSION}"
                )
            self._ready = True

    async def _create_tables(self) -> str | None:
        lock = int.from_bytes(
            _digest(json.dumps(["ddl", self._prefix]))[:8], "big", signed=True
        )
        async with self._engine.begin() as conn:
            await conn.execute(text(self._sql.lock_ddl), {"key": lock})
            for statement in self._sql.create:
                await conn.execute(text(statement))
            await conn.execute(
                text(self._sql.insert_version), {"version": str(LAYOUT_VERSION)}
            )
            version = await conn.scalar(text(self._sql.read_version))
        logger.info("memory tables %s_* ready", self._prefix)
        return None if version is None else str(version)

    def _endpoint(self) -> str:
        """``PostgreSQL at host:port/database``, never credentials."""
        url = self._engine.url
        if not url.host:
            return f"PostgreSQL (database {url.database or '?'})"
        return f"PostgreSQL at {url.host}:{url.port or 5432}/{url.database or ''}"

    @contextlib.asynccontextmanager
    async def _guard(self, what: str) -> AsyncIterator[None]:
        """Turns driver errors into this package's errors, naming ``what``."""
        if self._closed:
            raise RedisSessionError("PostgresMemoryService is closed")
        try:
            yield
        except RedisSessionError:
            raise
        except (OSError, asyncio.TimeoutError, sa_exc.TimeoutError) as exc:
            raise StoreUnavailableError(
                f"{self._endpoint()} is unreachable or timed out while trying "
                f"to {what}: {type(exc).__name__}: {exc}"
            ) from exc
        except sa_exc.DBAPIError as exc:
            # Not str(exc): it holds the SQL and, on engines we do not own,
            # the parameters (memory content).
            reason = f"{type(exc.orig).__name__}: {exc.orig}"
            if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
                raise StoreUnavailableError(
                    f"{self._endpoint()} dropped the connection while trying to "
                    f"{what}: {reason}"
                ) from exc
            raise RedisSessionError(
                f"{self._endpoint()} rejected the request to {what}: {reason}"
            ) from exc

# ruff: noqa: RUF001 (CJK punctuation is test data)
"""PostgresMemoryService: what the contract suite cannot see.

Tables created once, the stored rows and statistics, idempotent re-adds,
delete and tombstones, BM25 equal to the reference and to the Redis service,
isolation of hostile ids (SQL-looking ones included), CJK, engine ownership,
errors. Every test has its own tables on the session's PostgreSQL.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from google.adk.memory.memory_entry import MemoryEntry
from google.genai import types
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adk_redis_session._memory_codec import event_memory_id
from adk_redis_session._pg_memory_sql import (
    MemorySql,
    tsquery_literal,
    tsvector_literal,
)
from adk_redis_session._tokenize import tokenize
from adk_redis_session.bench.servers import LocalPostgres
from adk_redis_session.errors import (
    CorruptedDataError,
    RedisSessionError,
    StoreUnavailableError,
)
from adk_redis_session.memory_service import BM25_B, BM25_K1, RedisMemoryService
from adk_redis_session.pg_memory_service import PostgresMemoryService
from adk_redis_session.testing import free_port

from .conftest import NO_POSTGRES, drop_memory_tables, open_pg_memory
from .helpers import texts
from .quality import evaluate
from .test_search import DOCS, QUERIES, bm25_reference, reference_top

if TYPE_CHECKING:
    from .conftest import MakeEvent, MakeSession

pytestmark = NO_POSTGRES

APP = "app"
USER = "alice"


@pytest.fixture
async def pg_memory(
    memory_postgres: LocalPostgres, key_prefix: str
) -> AsyncIterator[PostgresMemoryService]:
    """The service on the session's server, with this test's own tables."""
    async with open_pg_memory(memory_postgres, key_prefix) as service:
        yield service


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Records the SQL the engine sends while the block runs."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def rows(service: PostgresMemoryService, sql: str, **params: Any) -> list[Any]:
    """Runs ``sql`` with ``{entries}``-style table names filled in."""
    names = dict(
        zip(
            ("meta", "users", "entries", "deleted"),
            MemorySql.for_prefix(service.table_prefix).tables,
            strict=True,
        )
    )
    async with service.engine.connect() as conn:
        result = await conn.execute(text(sql.format(**names)), params)
        return list(result.all())


async def search(
    memory: PostgresMemoryService, query: str, app: str = APP, user: str = USER
) -> list[str]:
    response = await memory.search_memory(app_name=app, user_id=user, query=query)
    return texts(response.memories)


# -- tables ------------------------------------------------------------------


async def test_tables_are_created_once_on_first_use(
    memory_postgres: LocalPostgres, key_prefix: str, make_event: MakeEvent
) -> None:
    async with open_pg_memory(memory_postgres, key_prefix) as memory:
        with statements(memory.engine) as sent:
            pass
        assert sent == []  # no I/O in the constructor
        with statements(memory.engine) as sent:
            await asyncio.gather(
                *(search(memory, f"word{i}") for i in range(8)),
                memory.add_events_to_memory(
                    app_name=APP, user_id=USER, events=[make_event("first note")]
                ),
            )
            await search(memory, "note")
        creates = [s for s in sent if s.startswith("CREATE")]
        assert len(creates) == 5  # four tables and the GIN index, once
        indexes = await rows(
            memory,
            "SELECT indexdef FROM pg_indexes WHERE tablename = '{entries}'",
        )
        assert any("USING gin (terms)" in r[0] for r in indexes)
        # A second service on the same tables finds them and creates nothing.
        async with PostgresMemoryService(
            db_url=memory_postgres.url, table_prefix=key_prefix
        ) as again:
            with statements(again.engine) as sent:
                assert await search(again, "note") == ["first note"]
            assert not [s for s in sent if s.startswith("CREATE")]


async def test_two_services_creating_the_same_tables_at_once(
    memory_postgres: LocalPostgres, key_prefix: str
) -> None:
    services = [
        PostgresMemoryService(db_url=memory_postgres.url, table_prefix=key_prefix)
        for _ in range(4)
    ]
    try:
        found = await asyncio.gather(*(search(s, "anything") for s in services))
        assert found == [[]] * 4
    finally:
        await drop_memory_tables(services[0])
        for service in services:
            await service.aclose()


async def test_another_layout_version_is_refused(
    memory_postgres: LocalPostgres, pg_memory: PostgresMemoryService, key_prefix: str
) -> None:
    await search(pg_memory, "warm up")
    async with pg_memory.engine.begin() as conn:
        meta = MemorySql.for_prefix(key_prefix).tables[0]
        await conn.execute(text(f"UPDATE {meta} SET value = '99'"))
    async with PostgresMemoryService(
        db_url=memory_postgres.url, table_prefix=key_prefix
    ) as newer:
        with pytest.raises(CorruptedDataError, match="layout version '99'"):
            await search(newer, "anything")


# -- stored rows, idempotence, delete -----------------------------------------


async def test_re_adding_stores_each_event_once_and_keeps_statistics(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    events = [make_event(f"pizza night number {i}") for i in range(3)]
    session = make_session(events)
    for _ in range(3):
        await pg_memory.add_session_to_memory(session)
    stored = await rows(pg_memory, "SELECT memory_id, length FROM {entries}")
    assert sorted(r[0] for r in stored) == sorted(
        event_memory_id("s1", e.id) for e in events
    )
    [(memories, total)] = await rows(
        pg_memory, "SELECT memories, total_length FROM {users}"
    )
    assert (memories, total) == (3, sum(r[1] for r in stored))


async def test_the_index_holds_exactly_the_tokenizer_terms(
    pg_memory: PostgresMemoryService, make_event: MakeEvent
) -> None:
    text_ = "Flights to Zürich & 東京タワー, cafés, the user's résumé x2 x2"
    await pg_memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=[make_event(text_)], session_id="s"
    )
    [(terms, length)] = await rows(
        pg_memory,
        "SELECT tsvector_to_array(terms), length FROM {entries}",
    )
    assert sorted(terms) == sorted(set(tokenize(text_)))
    assert length == len(tokenize(text_))


async def test_long_session_re_added_sends_no_write(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    session = make_session([make_event(f"log line {i}") for i in range(40)])
    await pg_memory.add_session_to_memory(session)
    with statements(pg_memory.engine) as sent:
        await pg_memory.add_session_to_memory(session)
    assert len(sent) == 1 and sent[0].lstrip().startswith("SELECT true AS stored")
    session.events.append(make_event("log line new"))
    await pg_memory.add_session_to_memory(session)
    [(count,)] = await rows(pg_memory, "SELECT count(*) FROM {entries}")
    assert count == 41


async def test_delete_removes_the_row_and_leaves_a_tombstone(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    session = make_session([make_event("red bike"), make_event("blue bike")])
    await pg_memory.add_session_to_memory(session)
    response = await pg_memory.search_memory(app_name=APP, user_id=USER, query="red")
    [red] = response.memories
    assert red.id is not None
    await pg_memory.delete_memory(app_name=APP, user_id=USER, memory_id=red.id)
    await pg_memory.delete_memory(app_name=APP, user_id=USER, memory_id=red.id)
    assert await rows(pg_memory, "SELECT memory_id FROM {deleted}") == [(red.id,)]
    [(memories, total)] = await rows(
        pg_memory, "SELECT memories, total_length FROM {users}"
    )
    [(length,)] = await rows(pg_memory, "SELECT length FROM {entries}")
    assert (memories, total) == (1, length)
    await pg_memory.add_session_to_memory(session)
    assert await search(pg_memory, "bike") == ["blue bike"]


async def test_explicit_id_replaces_and_undoes_a_deletion(
    pg_memory: PostgresMemoryService,
) -> None:
    def entry(words: str) -> MemoryEntry:
        return MemoryEntry(
            id="pref-1",
            content=types.Content(parts=[types.Part(text=words)]),
            author="user",
            timestamp="2026-01-02T03:04:05+00:00",
            custom_metadata={"source": "form"},
        )

    await pg_memory.add_memory(app_name=APP, user_id=USER, memories=[entry("tea")])
    await pg_memory.add_memory(
        app_name=APP, user_id=USER, memories=[entry("green tea please")]
    )
    response = await pg_memory.search_memory(app_name=APP, user_id=USER, query="tea")
    [found] = response.memories
    assert (found.id, texts([found]), found.author) == (
        "pref-1",
        ["green tea please"],
        "user",
    )
    assert found.timestamp == "2026-01-02T03:04:05+00:00"
    assert found.custom_metadata == {"source": "form"}
    await pg_memory.delete_memory(app_name=APP, user_id=USER, memory_id="pref-1")
    assert await search(pg_memory, "tea") == []
    await pg_memory.add_memory(app_name=APP, user_id=USER, memories=[entry("tea")])
    assert await search(pg_memory, "tea") == ["tea"]
    assert await rows(pg_memory, "SELECT * FROM {deleted}") == []
    [(memories, total)] = await rows(
        pg_memory, "SELECT memories, total_length FROM {users}"
    )
    assert (memories, total) == (1, 1)


async def write_concurrently(
    memory: PostgresMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    """Overlapping sessions added at once, then deletes racing re-adds."""
    events = [make_event(f"shared kayak note {i}") for i in range(30)]
    sessions = [make_session(events[: 10 + i]) for i in range(0, 21, 4)]
    await asyncio.gather(*(memory.add_session_to_memory(s) for s in sessions))
    first = await memory.search_memory(
        app_name=APP, user_id=USER, query="kayak", top_k=3
    )
    await asyncio.gather(
        *(
            memory.delete_memory(app_name=APP, user_id=USER, memory_id=m.id)
            for m in first.memories
        ),
        *(memory.add_session_to_memory(s) for s in sessions),
    )
    stored = await rows(memory, "SELECT length FROM {entries}")
    assert len(stored) == 27
    [(memories, total)] = await rows(
        memory, "SELECT memories, total_length FROM {users}"
    )
    assert (memories, total) == (27, sum(r[0] for r in stored))


async def test_concurrent_writers_of_one_user_keep_exact_statistics(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await write_concurrently(pg_memory, make_event, make_session)


async def test_writes_stay_exact_on_a_repeatable_read_engine(
    memory_postgres: LocalPostgres,
    key_prefix: str,
    make_event: MakeEvent,
    make_session: MakeSession,
) -> None:
    engine = create_async_engine(memory_postgres.url, isolation_level="REPEATABLE READ")
    try:
        async with PostgresMemoryService(engine=engine, table_prefix=key_prefix) as m:
            try:
                await write_concurrently(m, make_event, make_session)
            finally:
                await drop_memory_tables(m)
    finally:
        await engine.dispose()


# -- ranking -----------------------------------------------------------------


@pytest.fixture
async def loaded(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> PostgresMemoryService:
    await pg_memory.add_session_to_memory(make_session([make_event(d) for d in DOCS]))
    return pg_memory


@pytest.mark.parametrize("query", QUERIES)
async def test_scores_and_order_are_bm25(
    loaded: PostgresMemoryService, key_prefix: str, query: str
) -> None:
    expected = bm25_reference(DOCS, query)
    order = sorted(expected, key=lambda i: (-expected[i], -i))  # ties: newer
    assert await search(loaded, query) == [DOCS[i] for i in order]
    sql = MemorySql.for_prefix(key_prefix).search
    terms = list(dict.fromkeys(tokenize(query)))
    if not terms:
        return
    params = {
        **loaded._scope(APP, USER).params(),
        "query": tsquery_literal(terms),
        "terms": terms,
        "k1": BM25_K1,
        "b": BM25_B,
        "k": 10,
    }
    async with loaded.engine.connect() as conn:
        got = (await conn.execute(text(sql), params)).all()
    assert [r[2] for r in got] == pytest.approx(
        sorted(expected.values(), reverse=True), rel=1e-12
    )


async def test_a_rare_term_outweighs_a_common_one(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    events = [make_event(f"team meeting about topic {i}") for i in range(20)]
    events.append(make_event("meeting notes: budget meeting, meeting again"))
    events.append(make_event("dentist on Friday"))
    await pg_memory.add_session_to_memory(make_session(events))
    assert (await search(pg_memory, "meeting dentist"))[0] == "dentist on Friday"


@pytest.mark.parametrize("top_k", [1, 3, 10])
async def test_ties_and_top_k_match_full_bm25_on_a_skewed_corpus(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, top_k: int
) -> None:
    rng = random.Random(top_k)
    vocabulary = [f"w{i}" for i in range(80)]
    weights = [1 / (rank + 1) ** 1.2 for rank in range(len(vocabulary))]
    docs = [
        " ".join(rng.choices(vocabulary, weights, k=rng.randint(3, 12)))
        for _ in range(300)
    ]
    stamps = [1_000.0 + rng.randint(0, 50) for _ in docs]  # many equal times
    events = [make_event(d, timestamp=t) for d, t in zip(docs, stamps, strict=True)]
    await pg_memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=events, session_id="s"
    )
    index = {e.id: i for i, e in enumerate(events)}
    for _ in range(30):
        query = " ".join(rng.choices(vocabulary, k=rng.randint(1, 4)))
        response = await pg_memory.search_memory(
            app_name=APP, user_id=USER, query=query, top_k=top_k
        )
        got = [index[m.custom_metadata["event_id"]] for m in response.memories]
        expected = reference_top(docs, stamps, query, top_k)
        assert [stamps[i] for i in got] == [stamps[i] for i, _ in expected], query
        assert [round(bm25_reference(docs, query)[i], 9) for i in got] == [
            round(s, 9) for _, s in expected
        ], query


async def test_top_k_of_the_service_and_of_the_call(
    memory_postgres: LocalPostgres,
    key_prefix: str,
    make_event: MakeEvent,
    make_session: MakeSession,
) -> None:
    service = PostgresMemoryService(
        db_url=memory_postgres.url, table_prefix=key_prefix, top_k=3
    )
    try:
        await service.add_session_to_memory(
            make_session([make_event(f"tea note {i}") for i in range(15)])
        )
        assert len(await search(service, "tea")) == 3
        response = await service.search_memory(
            app_name=APP, user_id=USER, query="tea", top_k=12
        )
        assert len(response.memories) == 12
        for bad in (0, -1, 1001, True):
            with pytest.raises(ValueError, match="top_k"):
                await service.search_memory(
                    app_name=APP, user_id=USER, query="tea", top_k=bad
                )
    finally:
        await drop_memory_tables(service)
        await service.aclose()


async def test_cjk_search(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await pg_memory.add_session_to_memory(
        make_session(
            [
                make_event("下周去北京出差，住在王府井附近"),
                make_event("北京的天气很冷"),
                make_event("来週の大阪出張の新幹線を予約した"),
                make_event("서울에서 친구를 만났어요"),
                make_event("Trip to Beijing next week"),
            ]
        )
    )
    assert (await search(pg_memory, "北京出差"))[0] == "下周去北京出差，住在王府井附近"
    assert await search(pg_memory, "大阪") == ["来週の大阪出張の新幹線を予約した"]
    assert await search(pg_memory, "新幹線の予約") == [
        "来週の大阪出張の新幹線を予約した"
    ]
    assert await search(pg_memory, "서울") == ["서울에서 친구를 만났어요"]
    assert await search(pg_memory, "ＢＥＩＪＩＮＧ") == ["Trip to Beijing next week"]


@pytest.mark.redis
async def test_same_memories_and_ranking_as_the_redis_service(
    pg_memory: PostgresMemoryService,
    redis_memory: RedisMemoryService,
    make_event: MakeEvent,
    make_session: MakeSession,
) -> None:
    session = make_session(
        [make_event(d) for d in [*DOCS, "東京タワーに行きました", "Café crème"]]
    )
    call = types.FunctionCall(name="book_flight", args={"city": "Lisbon"})
    extra = [make_event(None, parts=[types.Part(function_call=call)])]
    entry = MemoryEntry(
        content=types.Content(parts=[types.Part(text="fox fact")]),
        author="me",
        timestamp="2026-01-01T00:00:00Z",
    )
    for service in (pg_memory, redis_memory):
        await service.add_session_to_memory(session)
        await service.add_events_to_memory(
            app_name=APP,
            user_id=USER,
            events=extra,
            session_id="s2",
            custom_metadata={"k": [1, "v"]},
        )
        await service.add_memory(app_name=APP, user_id=USER, memories=[entry])
    for query in [*QUERIES, "東京", "cafe", "lisbon flight", "fox"]:
        ours = await pg_memory.search_memory(app_name=APP, user_id=USER, query=query)
        theirs = await redis_memory.search_memory(
            app_name=APP, user_id=USER, query=query
        )
        assert ours == theirs, query


async def test_quality_equals_the_redis_service(
    pg_memory: PostgresMemoryService,
) -> None:
    scores = (await evaluate(pg_memory))["all"]
    # RedisMemoryService's published numbers (docs/memory.md): same ranking.
    assert (round(scores.p5, 3), round(scores.r10, 3)) == (0.396, 0.914)


# -- isolation ---------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE x; --",
    "x' OR '1'='1",
    '"; DELETE FROM pg_class; --',
    "%",
    "_",
    "\\",
    "a\\'b",
    "$1",
    ":user",
    "{entries}",
    "*",
    "",
    " ",
    "\U0001f99c",
    "ß",  # casefolds to "ss", a different id
    "ss",
    "".join(random.Random(7).choices(string.printable + "éλ東", k=6000)),
]


@pytest.mark.parametrize("role", ["app", "user"])
async def test_hostile_ids_see_only_their_own_memories(
    pg_memory: PostgresMemoryService, make_event: MakeEvent, role: str
) -> None:
    def scope(value: str) -> dict[str, str]:
        if role == "app":
            return {"app_name": value, "user_id": "user"}
        return {"app_name": "app", "user_id": value}

    for n, value in enumerate(HOSTILE):
        await pg_memory.add_events_to_memory(
            **scope(value), events=[make_event(f"shared word owner{n}")]
        )
        await pg_memory.add_memory(
            **scope(value),
            memories=[
                MemoryEntry(
                    id=value or "same-id",
                    content=types.Content(
                        parts=[types.Part(text=f"shared note number{n}")]
                    ),
                )
            ],
        )
    for n, value in enumerate(HOSTILE):
        response = await pg_memory.search_memory(**scope(value), query="shared")
        assert sorted(texts(response.memories)) == [
            f"shared note number{n}",
            f"shared word owner{n}",
        ]
    victim = HOSTILE[0]
    await pg_memory.delete_memory(**scope(victim), memory_id=victim)
    for value in HOSTILE:
        response = await pg_memory.search_memory(**scope(value), query="note")
        assert len(response.memories) == (0 if value == victim else 1)
    [(count,)] = await rows(pg_memory, "SELECT count(*) FROM {entries}")
    assert count == 2 * len(HOSTILE) - 1
    assert await rows(pg_memory, "SELECT to_regclass('x')") == [(None,)]


async def test_a_sql_looking_query_is_just_words(
    pg_memory: PostgresMemoryService, make_event: MakeEvent
) -> None:
    await pg_memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=[make_event("drop the table please")]
    )
    for query in ["'; DROP TABLE x; --", "table' | '*", "!table & (drop", "a:*"]:
        response = await pg_memory.search_memory(
            app_name=APP, user_id=USER, query=query
        )
        assert len(response.memories) <= 1
    assert await search(pg_memory, "') OR 1=1 -- table") == ["drop the table please"]


async def test_ids_postgres_cannot_hold_are_refused_clearly(
    pg_memory: PostgresMemoryService, make_event: MakeEvent
) -> None:
    with pytest.raises(ValueError, match="NUL"):
        await pg_memory.add_events_to_memory(
            app_name="a\x00b", user_id=USER, events=[make_event("x")]
        )
    with pytest.raises(ValueError, match="NUL"):
        await pg_memory.search_memory(app_name=APP, user_id="u\x00", query="x")
    with pytest.raises(ValueError, match="NUL"):
        await pg_memory.add_memory(
            app_name=APP,
            user_id=USER,
            memories=[
                MemoryEntry(
                    id="a\x00", content=types.Content(parts=[types.Part(text="x")])
                )
            ],
        )
    with pytest.raises(TypeError, match="user_id must be str"):
        await pg_memory.search_memory(app_name=APP, user_id=7, query="x")  # type: ignore[arg-type]
    await pg_memory.delete_memory(app_name=APP, user_id=USER, memory_id="a\x00")


# -- construction, ownership, errors -----------------------------------------


def test_construction_is_validated_and_does_no_io() -> None:
    url = f"postgresql://u:s3cret-pw@127.0.0.1:{free_port()}/db"
    service = PostgresMemoryService(db_url=url)
    assert service.table_prefix == "adk_memory"
    assert service.engine.url.drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="Exactly one"):
        PostgresMemoryService()
    with pytest.raises(ValueError, match="Exactly one"):
        PostgresMemoryService(db_url=url, engine=service.engine)
    with pytest.raises(ValueError, match="PostgreSQL URL") as info:
        PostgresMemoryService(db_url="mysql://u:s3cret-pw@host/db")
    assert "s3cret-pw" not in str(info.value)
    with pytest.raises(ValueError, match="not a database URL") as info:
        PostgresMemoryService(db_url="s3cret-pw")
    assert "s3cret-pw" not in str(info.value)
    for prefix in ("Memory", "1x", "x;drop table y", "a" * 46, "", "x-y"):
        with pytest.raises(ValueError, match="table_prefix"):
            PostgresMemoryService(db_url=url, table_prefix=prefix)
    with pytest.raises(ValueError, match="top_k"):
        PostgresMemoryService(db_url=url, top_k=0)
    with pytest.raises(TypeError, match="PostgreSQL"):
        PostgresMemoryService(engine=create_async_engine("sqlite+aiosqlite://"))
    with pytest.raises(TypeError, match="AsyncEngine"):
        PostgresMemoryService(engine="postgresql://x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected"):
        PostgresMemoryService(engine=service.engine, pool_size=3)
    sslmode = PostgresMemoryService(db_url=url + "?sslmode=require")
    assert dict(sslmode.engine.url.query) == {"ssl": "require"}


async def connections(postgres: LocalPostgres) -> int:
    engine = create_async_engine(postgres.url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_an_owned_engine_is_disposed_by_aclose(
    memory_postgres: LocalPostgres, key_prefix: str
) -> None:
    async with PostgresMemoryService(
        db_url=memory_postgres.url, table_prefix=key_prefix
    ) as memory:
        await search(memory, "anything")
        assert await connections(memory_postgres) >= 1
        await drop_memory_tables(memory)
    assert await connections(memory_postgres) == 0
    await memory.aclose()  # twice is fine
    with pytest.raises(RedisSessionError, match="closed"):
        await search(memory, "anything")


async def test_an_injected_engine_is_never_disposed(
    memory_postgres: LocalPostgres, key_prefix: str, make_event: MakeEvent
) -> None:
    engine = create_async_engine(memory_postgres.url)
    try:
        async with PostgresMemoryService(engine=engine, table_prefix=key_prefix) as m:
            await m.add_events_to_memory(
                app_name=APP, user_id=USER, events=[make_event("kept")]
            )
            assert m.engine is engine
        assert await connections(memory_postgres) >= 1
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
        await drop_memory_tables(m)
    finally:
        await engine.dispose()


async def test_a_handed_over_engine_owner_is_closed_once(
    memory_postgres: LocalPostgres, key_prefix: str
) -> None:
    class Owner:
        def __init__(self) -> None:
            self.engine = create_async_engine(memory_postgres.url)
            self.closed = 0

        async def aclose(self) -> None:
            self.closed += 1
            await self.engine.dispose()

    owner = Owner()
    memory = PostgresMemoryService(sql=owner, table_prefix=key_prefix)
    await search(memory, "anything")
    await drop_memory_tables(memory)
    await memory.aclose()
    await memory.aclose()
    assert owner.closed == 1


async def test_unreachable_server_names_the_endpoint_not_the_password() -> None:
    port = free_port()
    memory = PostgresMemoryService(
        db_url=f"postgresql://u:s3cret-pw@127.0.0.1:{port}/db"
    )
    try:
        with pytest.raises(StoreUnavailableError) as info:
            await search(memory, "anything")
        assert f"127.0.0.1:{port}/db" in str(info.value)
        assert "s3cret-pw" not in str(info.value)
    finally:
        await memory.aclose()


async def test_a_rejected_login_is_a_clear_error_without_the_password(
    memory_postgres: LocalPostgres,
) -> None:
    url = f"postgresql://nobody:s3cret-pw@127.0.0.1:{memory_postgres.port}/nodb"
    async with PostgresMemoryService(db_url=url) as memory:
        with pytest.raises(RedisSessionError) as info:
            await search(memory, "anything")
    message = str(info.value)
    assert "rejected" in message and '"nobody"' in message
    assert "s3cret-pw" not in message


def test_literals_quote_everything() -> None:
    assert tsvector_literal({"a'b": 2, "c\\": 300}) == (
        "'a''b':1,2 'c\\\\':" + ",".join(str(i) for i in range(1, 257))
    )
    assert tsquery_literal(["x", "y'"]) == "'x' | 'y'''"

# ruff: noqa: RUF001 (full-width and CJK punctuation are the test data)
"""Search: BM25 computed in Redis, recency ties, top-k, cost, Unicode."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import redis.asyncio as aioredis
from google.adk.memory.memory_entry import MemoryEntry
from google.genai import types

from adk_redis_session._memory_keys import MEMORY_LAYOUT_VERSION, MemoryKeySchema
from adk_redis_session._tokenize import query_terms, tokenize
from adk_redis_session.memory_service import BM25_B, BM25_K1, RedisMemoryService
from adk_redis_session.testing import LocalRedisServer

from .helpers import texts

if TYPE_CHECKING:
    from .conftest import MakeEvent, MakeSession

pytestmark = pytest.mark.redis

APP = "app"
USER = "alice"

DOCS = [
    "The quick brown fox jumps over the lazy dog",
    "A fox, a fox and another fox in the garden",
    "Brown bread and butter for breakfast",
    "Dog walking schedule: morning and evening walks with the dog",
    "Garden party with lemonade; the dog stays inside",
    "Quarterly report on fox populations in the northern forest region",
    "Lazy Sunday breakfast",
    "Nothing about animals at all",
]
QUERIES = ["fox", "brown dog", "lazy breakfast", "garden fox dog", "report", "cat"]


def bm25_reference(docs: list[str], query: str) -> dict[int, float]:
    """Textbook BM25 (k1, b as ours; idf = ln(1 + (N - df + .5)/(df + .5)))."""
    tokenized = [tokenize(d) for d in docs]
    n = len(docs)
    avgdl = sum(map(len, tokenized)) / n
    scores: dict[int, float] = {}
    for term in query_terms(query):
        df = sum(term in t for t in tokenized)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, doc in enumerate(tokenized):
            tf = Counter(doc)[term]
            if tf:
                norm = tf + BM25_K1 * (1 - BM25_B + BM25_B * len(doc) / avgdl)
                scores[i] = scores.get(i, 0.0) + idf * tf * (BM25_K1 + 1) / norm
    return scores


@pytest.fixture
async def loaded(
    redis_memory: RedisMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> RedisMemoryService:
    await redis_memory.add_session_to_memory(
        make_session([make_event(d) for d in DOCS])
    )
    return redis_memory


@pytest.mark.parametrize("query", QUERIES)
async def test_scores_are_bm25(
    loaded: RedisMemoryService, key_prefix: str, query: str
) -> None:
    expected = bm25_reference(DOCS, query)
    schema = MemoryKeySchema(key_prefix)
    keys = schema.user(APP, USER)
    terms = query_terms(query)
    reply: list[Any] = await loaded._search_script(
        keys=[
            keys.meta,
            keys.time,
            keys.docs,
            *schema.postings(APP, USER, terms),
        ],
        args=[str(MEMORY_LAYOUT_VERSION), "10", repr(BM25_K1), repr(BM25_B), "0"],
    )
    assert reply[0] == b"ok"
    got = [float(reply[i + 2]) for i in range(1, len(reply), 3)]
    assert got == pytest.approx(sorted(expected.values(), reverse=True), rel=1e-12)


@pytest.mark.parametrize("query", QUERIES)
async def test_results_come_in_bm25_order(
    loaded: RedisMemoryService, query: str
) -> None:
    expected = bm25_reference(DOCS, query)
    # Ties: the newer memory (later in DOCS) first.
    order = sorted(expected, key=lambda i: (-expected[i], -i))
    response = await loaded.search_memory(app_name=APP, user_id=USER, query=query)
    assert texts(response.memories) == [DOCS[i] for i in order]


async def test_ties_go_to_the_newer_memory(
    redis_memory: RedisMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    events = [make_event("parcel delivered", timestamp=t) for t in (300, 100, 200)]
    await redis_memory.add_session_to_memory(make_session(events))
    response = await redis_memory.search_memory(
        app_name=APP, user_id=USER, query="parcel"
    )
    stamps = [e.timestamp for e in events]
    found = [m.custom_metadata["event_id"] for m in response.memories]
    by_id = {e.id: e.timestamp for e in events}
    assert [by_id[i] for i in found] == sorted(stamps, reverse=True)


async def test_top_k_of_the_service_and_of_the_call(
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
    make_session: MakeSession,
) -> None:
    async with RedisMemoryService(
        client=redis_client, key_prefix=key_prefix, top_k=3
    ) as memory:
        await memory.add_session_to_memory(
            make_session([make_event(f"tea note {i}") for i in range(20)])
        )
        one = await memory.search_memory(app_name=APP, user_id=USER, query="tea")
        assert len(one.memories) == 3
        two = await memory.search_memory(
            app_name=APP, user_id=USER, query="tea", top_k=15
        )
        assert len(two.memories) == 15
        # The best three (here: the newest, all scores tie) lead either way.
        assert texts(two.memories)[:3] == texts(one.memories)
        with pytest.raises(ValueError, match="top_k"):
            await memory.search_memory(app_name=APP, user_id=USER, query="t", top_k=0)


async def test_query_of_only_stop_words_finds_nothing(
    loaded: RedisMemoryService,
) -> None:
    response = await loaded.search_memory(app_name=APP, user_id=USER, query="the and")
    assert response.memories == []


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("Rendez-vous chez le MÉDECIN", "medecin"),
        ("Straße 5", "STRASSE"),
        ("ｔｏｋｙｏ trip", "Tokyo"),
        ("我正在学习日语，准备明年去东京留学。", "东京留学"),
        ("東京の大学院に出願しました。", "大学院"),
        ("고양이가 좋아요", "고양이"),
        ("Ελληνικά κείμενα", "ελληνικα"),
        ("Привет, Мир", "мир"),
        ("emoji 🦜 parrot", "parrot"),
    ],
)
async def test_unicode_text_is_found(
    redis_memory: RedisMemoryService,
    make_event: MakeEvent,
    make_session: MakeSession,
    stored: str,
    query: str,
) -> None:
    await redis_memory.add_session_to_memory(
        make_session([make_event(stored), make_event("unrelated filler words")])
    )
    response = await redis_memory.search_memory(app_name=APP, user_id=USER, query=query)
    assert texts(response.memories) == [stored]


async def test_cjk_phrase_ranks_the_exact_phrase_first(
    redis_memory: RedisMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await redis_memory.add_session_to_memory(
        make_session(
            [
                make_event("北京的天气很好"),
                make_event("下周三我要去北京出差"),
                make_event("出差报销单已提交"),
            ]
        )
    )
    response = await redis_memory.search_memory(
        app_name=APP, user_id=USER, query="北京出差"
    )
    assert texts(response.memories)[0] == "下周三我要去北京出差"


# -- cost: only the query terms' posting lists are read ------------------------


@pytest.fixture
async def monitor_client(
    redis_server: LocalRedisServer,
) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


async def script_commands(
    monitor_client: aioredis.Redis, action: Any, key_prefix: str
) -> list[str]:
    """The commands a script ran on our keys while ``action`` ran."""
    seen: list[str] = []
    async with monitor_client.monitor() as monitor:
        await action()
        await monitor_client.ping()  # marks the end in the monitor stream
        while True:
            command = await asyncio.wait_for(monitor.next_command(), 5)
            if command["command"] == "PING":
                break
            if command["client_type"] == "lua" and key_prefix in command["command"]:
                seen.append(command["command"])
    return seen


async def test_search_reads_only_the_query_terms_postings(
    redis_memory: RedisMemoryService,
    monitor_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
) -> None:
    schema = MemoryKeySchema(key_prefix)
    costs = []
    for user, size in (("small", 20), ("large", 1000)):
        events = [make_event(f"common filler text number {i}") for i in range(size)]
        events.append(make_event("the rare kingfisher"))
        await redis_memory.add_events_to_memory(
            app_name=APP, user_id=user, events=events, session_id="s"
        )

        async def search(user: str = user) -> None:
            response = await redis_memory.search_memory(
                app_name=APP, user_id=user, query="kingfisher sighting"
            )
            assert texts(response.memories) == ["the rare kingfisher"]

        commands = await script_commands(monitor_client, search, key_prefix)
        keys = schema.user(APP, user)
        postings = schema.posting_prefix(APP, user)
        allowed = {
            f"HGET {keys.meta} ",
            f"ZCARD {keys.time}",
            f"HLEN {postings}kingfisher",
            f"HLEN {postings}sighting",
            f"HGETALL {postings}kingfisher",
            f"ZSCORE {keys.time} ",
            f"HMGET {keys.docs} ",
        }
        for command in commands:
            assert any(command.startswith(a) for a in allowed), command
        costs.append(len(commands))
    assert 0 < costs[0] == costs[1]


async def test_common_terms_are_looked_up_only_for_candidates(
    redis_memory: RedisMemoryService,
    monitor_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
) -> None:
    events = [make_event(f"common filler line {i}") for i in range(2000)]
    events += [make_event(f"kingfisher seen at the common pond {i}") for i in range(15)]
    await redis_memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=events, session_id="s"
    )
    found: list[str] = []

    async def search() -> None:
        response = await redis_memory.search_memory(
            app_name=APP, user_id=USER, query="common kingfisher"
        )
        found.extend(texts(response.memories))

    commands = await script_commands(monitor_client, search, key_prefix)
    postings = MemoryKeySchema(key_prefix).posting_prefix(APP, USER)
    assert f"HGETALL {postings}kingfisher" in commands
    assert not [c for c in commands if c.startswith(f"HGETALL {postings}common")]
    [lookup] = [c for c in commands if c.startswith(f"HMGET {postings}common ")]
    assert len(lookup.split()) == 2 + 15  # HMGET, key, the 15 candidates
    assert len(found) == 10
    assert all("kingfisher" in text for text in found)


async def test_searches_run_concurrently_with_writes(
    redis_memory: RedisMemoryService, make_event: MakeEvent
) -> None:
    async def write(i: int) -> None:
        await redis_memory.add_events_to_memory(
            app_name=APP,
            user_id=USER,
            events=[make_event(f"stream item {i}")],
            session_id="s",
        )

    async def read(_: int = 0) -> int:
        response = await redis_memory.search_memory(
            app_name=APP, user_id=USER, query="stream"
        )
        return len(response.memories)

    counts = await asyncio.gather(*(f(i) for i in range(40) for f in (write, read)))
    assert all(c is None or 0 <= c <= 10 for c in counts)
    assert await read() == 10


async def test_explicit_memory_with_a_unicode_id(
    redis_memory: RedisMemoryService,
) -> None:
    entry = MemoryEntry(
        id="ключ 🦜 {x}:*",
        content=types.Content(parts=[types.Part(text="parrot named Kiwi")]),
    )
    await redis_memory.add_memory(app_name=APP, user_id=USER, memories=[entry])
    response = await redis_memory.search_memory(
        app_name=APP, user_id=USER, query="kiwi"
    )
    assert [m.id for m in response.memories] == [entry.id]
    await redis_memory.delete_memory(app_name=APP, user_id=USER, memory_id=entry.id)
    response = await redis_memory.search_memory(
        app_name=APP, user_id=USER, query="kiwi"
    )
    assert response.memories == []


# -- pruning never changes the result -----------------------------------------


def reference_top(
    docs: list[str], stamps: list[float], query: str, k: int
) -> list[tuple[int, float]]:
    scores = bm25_reference(docs, query)
    order = sorted(scores, key=lambda i: (-round(scores[i], 9), -stamps[i]))
    return [(i, scores[i]) for i in order[:k]]


@pytest.mark.parametrize("top_k", [1, 3, 10])
async def test_pruned_search_equals_full_bm25(
    redis_memory: RedisMemoryService, make_event: MakeEvent, top_k: int
) -> None:
    rng = random.Random(top_k)
    # Skewed vocabulary: a few words in most memories, many in a handful.
    vocabulary = [f"w{i}" for i in range(80)]
    weights = [1 / (rank + 1) ** 1.2 for rank in range(len(vocabulary))]
    docs = [
        " ".join(rng.choices(vocabulary, weights, k=rng.randint(3, 12)))
        for _ in range(400)
    ]
    stamps = [1_000.0 + rng.randint(0, 50) for _ in docs]  # many equal times
    events = [make_event(d, timestamp=t) for d, t in zip(docs, stamps, strict=True)]
    await redis_memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=events, session_id="s"
    )
    index = {e.id: i for i, e in enumerate(events)}
    for _ in range(60):
        query = " ".join(rng.choices(vocabulary, k=rng.randint(1, 4)))
        response = await redis_memory.search_memory(
            app_name=APP, user_id=USER, query=query, top_k=top_k
        )
        got = [index[m.custom_metadata["event_id"]] for m in response.memories]
        expected = reference_top(docs, stamps, query, top_k)
        assert [stamps[i] for i in got] == [stamps[i] for i, _ in expected], query
        assert [round(bm25_reference(docs, query)[i], 9) for i in got] == [
            round(s, 9) for _, s in expected
        ], query

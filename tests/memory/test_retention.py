"""Retention: a maximum number of memories per user, and an age limit (TTL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis

from adk_redis_session._memory_keys import MemoryKeySchema
from adk_redis_session.memory_service import RedisMemoryService

from .helpers import texts

if TYPE_CHECKING:
    from .conftest import MakeEvent, MakeSession

pytestmark = pytest.mark.redis

APP = "app"
USER = "alice"
DAY = 24 * 3600.0

Make = Callable[..., RedisMemoryService]


@pytest.fixture
async def make_memory(
    redis_client: aioredis.Redis, key_prefix: str
) -> AsyncIterator[Make]:
    made: list[RedisMemoryService] = []

    def make(**options: float | int | None) -> RedisMemoryService:
        service = RedisMemoryService(
            client=redis_client,
            key_prefix=key_prefix,
            **options,  # type: ignore[arg-type]
        )
        made.append(service)
        return service

    yield make
    for service in made:
        await service.aclose()


async def search(memory: RedisMemoryService, query: str) -> list[str]:
    response = await memory.search_memory(app_name=APP, user_id=USER, query=query)
    return texts(response.memories)


async def our_keys(client: aioredis.Redis, prefix: str) -> list[str]:
    return sorted(
        k.decode() if isinstance(k, bytes) else k
        for k in await client.keys(f"{prefix}:*")
    )


# -- max entries --------------------------------------------------------------


async def test_max_entries_keeps_the_newest(
    make_memory: Make, make_event: MakeEvent, make_session: MakeSession
) -> None:
    memory = make_memory(max_entries_per_user=3)
    events = [make_event(f"memo {i}", timestamp=1000.0 + i) for i in range(5)]
    await memory.add_session_to_memory(make_session(events))
    assert sorted(await search(memory, "memo")) == ["memo 2", "memo 3", "memo 4"]


async def test_a_full_index_skips_older_memories_and_takes_newer(
    make_memory: Make,
    make_event: MakeEvent,
    make_session: MakeSession,
    redis_client: aioredis.Redis,
    key_prefix: str,
) -> None:
    memory = make_memory(max_entries_per_user=2)
    session = make_session(
        [make_event(f"memo {i}", timestamp=100.0 + i) for i in (5, 6)]
    )
    await memory.add_session_to_memory(session)
    session.events.insert(0, make_event("memo 1", timestamp=101.0))
    await memory.add_session_to_memory(session)
    assert sorted(await search(memory, "memo")) == ["memo 5", "memo 6"]
    session.events.append(make_event("memo 7", timestamp=107.0))
    await memory.add_session_to_memory(session)
    assert sorted(await search(memory, "memo")) == ["memo 6", "memo 7"]
    keys = MemoryKeySchema(key_prefix).user(APP, USER)
    assert await redis_client.hlen(keys.docs) == 2
    assert await redis_client.hlen(keys.terms) == 2
    assert await redis_client.hget(keys.meta, "len") == b"4"


async def test_a_lower_maximum_trims_on_the_next_write(
    make_memory: Make, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await make_memory().add_session_to_memory(
        make_session([make_event(f"memo {i}", timestamp=10.0 + i) for i in range(6)])
    )
    small = make_memory(max_entries_per_user=2)
    await small.add_events_to_memory(
        app_name=APP, user_id=USER, events=[make_event("memo 9", timestamp=99.0)]
    )
    assert sorted(await search(small, "memo")) == ["memo 5", "memo 9"]


# -- age limit ------------------------------------------------------------------


async def test_memories_older_than_the_ttl_are_not_stored(
    make_memory: Make, make_event: MakeEvent, make_session: MakeSession
) -> None:
    memory = make_memory(ttl_seconds=30 * DAY)
    now = time.time()
    await memory.add_session_to_memory(
        make_session(
            [
                make_event("ancient trip to Rome", timestamp=now - 60 * DAY),
                make_event("recent trip to Oslo", timestamp=now - DAY),
            ]
        )
    )
    assert await search(memory, "trip") == ["recent trip to Oslo"]


async def test_aged_memories_are_hidden_and_then_pruned(
    make_memory: Make,
    make_event: MakeEvent,
    make_session: MakeSession,
    redis_client: aioredis.Redis,
    key_prefix: str,
) -> None:
    now = time.time()
    forever = make_memory()
    await forever.add_session_to_memory(
        make_session(
            [
                make_event("old kayak story", timestamp=now - 60 * DAY),
                make_event("new kayak story", timestamp=now - DAY),
            ]
        )
    )
    limited = make_memory(ttl_seconds=30 * DAY)
    assert await search(limited, "kayak") == ["new kayak story"]
    assert len(await search(forever, "kayak")) == 2
    # The next write of the limited service removes the aged memory for good.
    await limited.add_events_to_memory(
        app_name=APP, user_id=USER, events=[make_event("unrelated", timestamp=now)]
    )
    assert await search(forever, "kayak") == ["new kayak story"]
    schema = MemoryKeySchema(key_prefix)
    assert not await redis_client.exists(*schema.postings(APP, USER, ["old"]))
    keys = schema.user(APP, USER)
    assert await redis_client.zcard(keys.time) == 2


async def test_keys_expire_when_the_newest_memory_ages_out(
    make_memory: Make,
    make_event: MakeEvent,
    make_session: MakeSession,
    redis_client: aioredis.Redis,
    key_prefix: str,
) -> None:
    memory = make_memory(ttl_seconds=1.0)
    await memory.add_session_to_memory(
        make_session([make_event("fleeting thought", timestamp=time.time())])
    )
    keys = await our_keys(redis_client, key_prefix)
    assert len(keys) == 6  # meta, time, docs, terms + 2 posting lists
    ttls = [await redis_client.pttl(k) for k in keys]
    assert all(0 < ttl <= 1000 for ttl in ttls), ttls
    await asyncio.sleep(1.2)
    assert await our_keys(redis_client, key_prefix) == []


async def test_deadline_follows_the_newest_memory_and_a_no_ttl_writer_persists(
    make_memory: Make,
    make_event: MakeEvent,
    redis_client: aioredis.Redis,
    key_prefix: str,
) -> None:
    memory = make_memory(ttl_seconds=10 * DAY)
    now = time.time()
    await memory.add_events_to_memory(
        app_name=APP,
        user_id=USER,
        events=[
            make_event("newer note", timestamp=now - DAY),
            make_event("older note", timestamp=now - 5 * DAY),
        ],
    )
    schema = MemoryKeySchema(key_prefix)
    meta = schema.user(APP, USER).meta
    deadline = await redis_client.pexpiretime(meta)
    assert deadline == pytest.approx((now + 9 * DAY) * 1000, abs=1000)
    for key in schema.postings(APP, USER, ["older", "newer", "note"]):
        assert await redis_client.pexpiretime(key) == deadline
    await make_memory().add_events_to_memory(
        app_name=APP, user_id=USER, events=[make_event("note again", timestamp=now)]
    )
    assert await redis_client.pttl(meta) == -1
    [note] = schema.postings(APP, USER, ["note"])
    assert await redis_client.pttl(note) == -1


async def test_tombstones_outlive_nothing_they_guard(
    make_memory: Make,
    make_event: MakeEvent,
    make_session: MakeSession,
    redis_client: aioredis.Redis,
    key_prefix: str,
) -> None:
    memory = make_memory(ttl_seconds=10 * DAY)
    session = make_session([make_event("delete me soon", timestamp=time.time())])
    await memory.add_session_to_memory(session)
    [found] = (
        await memory.search_memory(app_name=APP, user_id=USER, query="delete")
    ).memories
    await memory.delete_memory(app_name=APP, user_id=USER, memory_id=found.id)
    keys = MemoryKeySchema(key_prefix).user(APP, USER)
    assert await redis_client.pexpiretime(keys.gone) == await redis_client.pexpiretime(
        keys.meta
    )
    await memory.add_session_to_memory(session)
    assert await search(memory, "delete") == []


@pytest.mark.parametrize(
    "options",
    [
        {"ttl_seconds": -1},
        {"ttl_seconds": float("nan")},
        {"ttl_seconds": 200 * 365 * DAY},
        {"max_entries_per_user": 0},
        {"max_entries_per_user": 2.5},
        {"top_k": 0},
        {"top_k": 1001},
    ],
)
async def test_bad_retention_options_are_rejected(
    make_memory: Make, options: dict[str, float]
) -> None:
    with pytest.raises(ValueError):
        make_memory(**options)


async def test_ttl_must_be_a_number(make_memory: Make) -> None:
    with pytest.raises(TypeError):
        make_memory(ttl_seconds="60")

"""Ingestion into RedisMemoryService: each memory once, atomically, in full."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
import redis.asyncio as aioredis
from google.adk.memory.memory_entry import MemoryEntry
from google.genai import types

from adk_redis_session import _memory_codec, memory_service
from adk_redis_session._memory_keys import MemoryKeySchema
from adk_redis_session.errors import CorruptedDataError
from adk_redis_session.memory_service import RedisMemoryService

from .helpers import texts

if TYPE_CHECKING:
    from .conftest import MakeEvent, MakeSession

pytestmark = pytest.mark.redis

APP = "app"
USER = "alice"


async def search(memory: RedisMemoryService, query: str, **kw: Any) -> list[str]:
    response = await memory.search_memory(app_name=APP, user_id=USER, query=query, **kw)
    return texts(response.memories)


async def counters(
    client: aioredis.Redis, key_prefix: str, user: str = USER
) -> tuple[int, int, int]:
    """(memories in the time index, meta.len, sum of stored lengths)."""
    keys = MemoryKeySchema(key_prefix).user(APP, user)
    terms = await client.hvals(keys.terms)
    total = await client.hget(keys.meta, "len")
    return (
        await client.zcard(keys.time),
        int(total or 0),
        sum(int(v.split()[0]) for v in terms),
    )


async def test_function_calls_are_searchable_by_their_arguments(
    redis_memory: RedisMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    call = types.Part(
        function_call=types.FunctionCall(name="book_hotel", args={"city": "Porto"})
    )
    await redis_memory.add_session_to_memory(
        make_session([make_event(parts=[call], author="agent")])
    )
    response = await redis_memory.search_memory(
        app_name=APP, user_id=USER, query="hotel in Porto"
    )
    [found] = response.memories
    assert found.content.parts is not None
    assert found.content.parts[0].function_call is not None
    assert found.content.parts[0].function_call.args == {"city": "Porto"}


async def test_memory_tool_results_are_not_remembered(
    redis_memory: RedisMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    recall = types.Part(
        function_response=types.FunctionResponse(
            name="load_memory", response={"memories": ["old fact about cats"]}
        )
    )
    await redis_memory.add_session_to_memory(
        make_session([make_event(parts=[recall], author="agent")])
    )
    assert await search(redis_memory, "cats") == []


async def test_metadata_names_session_and_event(
    redis_memory: RedisMemoryService, make_event: MakeEvent
) -> None:
    event = make_event("blue whale sighting")
    await redis_memory.add_events_to_memory(
        app_name=APP,
        user_id=USER,
        events=[event],
        session_id="s9",
        custom_metadata={"channel": "slack"},
    )
    response = await redis_memory.search_memory(
        app_name=APP, user_id=USER, query="whale"
    )
    assert response.memories[0].custom_metadata == {
        "channel": "slack",
        "session_id": "s9",
        "event_id": event.id,
    }


async def test_explicit_memories_round_trip(redis_memory: RedisMemoryService) -> None:
    entry = MemoryEntry(
        id="pref-1",
        content=types.Content(role="user", parts=[types.Part(text="Prefers jazz")]),
        author="profile",
        timestamp="2025-02-03T04:05:06+00:00",
        custom_metadata={"kind": "preference"},
    )
    await redis_memory.add_memory(app_name=APP, user_id=USER, memories=[entry])
    response = await redis_memory.search_memory(
        app_name=APP, user_id=USER, query="jazz"
    )
    assert response.memories == [entry]


async def test_explicit_id_replaces_and_un_deletes(
    redis_memory: RedisMemoryService, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    def entry(text: str) -> MemoryEntry:
        return MemoryEntry(
            id="m1", content=types.Content(parts=[types.Part(text=text)])
        )

    await redis_memory.add_memory(app_name=APP, user_id=USER, memories=[entry("red")])
    await redis_memory.add_memory(app_name=APP, user_id=USER, memories=[entry("blue")])
    assert await search(redis_memory, "red") == []
    assert await search(redis_memory, "blue") == ["blue"]
    await redis_memory.delete_memory(app_name=APP, user_id=USER, memory_id="m1")
    assert await search(redis_memory, "blue") == []
    await redis_memory.add_memory(app_name=APP, user_id=USER, memories=[entry("blue")])
    assert await search(redis_memory, "blue") == ["blue"]
    count, total, lengths = await counters(redis_client, key_prefix)
    assert (count, total, lengths) == (1, 1, 1)
    schema = MemoryKeySchema(key_prefix)
    assert not await redis_client.exists(*schema.postings(APP, USER, ["red"]))


async def test_entries_without_id_are_stored_once(
    redis_memory: RedisMemoryService,
) -> None:
    entry = MemoryEntry(content=types.Content(parts=[types.Part(text="likes tea")]))
    for _ in range(2):
        await redis_memory.add_memory(app_name=APP, user_id=USER, memories=[entry])
    assert await search(redis_memory, "tea") == ["likes tea"]


async def test_long_session_is_stored_once_and_re_adding_builds_nothing(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
    make_session: MakeSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # More than one script batch (1000), and above the pre-check threshold.
    session = make_session([make_event(f"note {i} about otters") for i in range(1050)])
    await redis_memory.add_session_to_memory(session)
    built: list[str] = []
    original = _memory_codec.record_from_event

    def spy(*args: Any, **kwargs: Any) -> Any:
        built.append("x")
        return original(*args, **kwargs)

    monkeypatch.setattr(memory_service, "record_from_event", spy)
    session.events.append(make_event("the newest otter note"))
    await redis_memory.add_session_to_memory(session)
    assert built == ["x"]  # only the new event was tokenized and sent
    count, total, lengths = await counters(redis_client, key_prefix)
    assert count == 1051
    assert total == lengths


async def test_concurrent_adds_of_one_session_store_each_event_once(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
    make_session: MakeSession,
) -> None:
    session = make_session([make_event(f"parallel fact {i}") for i in range(30)])
    await asyncio.gather(
        *(redis_memory.add_session_to_memory(session) for _ in range(8))
    )
    count, total, lengths = await counters(redis_client, key_prefix)
    assert count == 30
    assert total == lengths == 30 * 3  # parallel, fact, i


async def test_a_bad_key_fails_the_whole_call_before_any_write(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
) -> None:
    schema = MemoryKeySchema(key_prefix)
    [zebra] = schema.postings(APP, USER, ["zebra"])
    await redis_client.set(zebra, "not a posting list")
    with pytest.raises(CorruptedDataError, match="zebra"):
        await redis_memory.add_events_to_memory(
            app_name=APP,
            user_id=USER,
            events=[make_event("lion"), make_event("zebra")],
            session_id="s1",
        )
    assert await counters(redis_client, key_prefix) == (0, 0, 0)
    assert await redis_client.exists(schema.user(APP, USER).meta) == 0


async def test_counters_stay_consistent_through_adds_and_deletes(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
    make_session: MakeSession,
) -> None:
    await redis_memory.add_session_to_memory(
        make_session([make_event("alpha beta gamma"), make_event("beta gamma")])
    )
    response = await redis_memory.search_memory(
        app_name=APP, user_id=USER, query="alpha"
    )
    await redis_memory.delete_memory(
        app_name=APP, user_id=USER, memory_id=response.memories[0].id
    )
    assert await counters(redis_client, key_prefix) == (1, 2, 2)
    schema = MemoryKeySchema(key_prefix)
    assert not await redis_client.exists(*schema.postings(APP, USER, ["alpha"]))
    assert await redis_client.hlen(schema.postings(APP, USER, ["beta"])[0]) == 1

"""Hostile app names and user ids never reach another tenant's memories.

Each hostile id is used as the app name and as the user id next to
neighbours a naive key scheme (raw concatenation, glob patterns, percent
decoding, hash tags) would confuse it with. Every search and delete must see
only the memories of its own (app, user).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import pytest
import redis.asyncio as aioredis
from google.adk.memory.memory_entry import MemoryEntry
from google.genai import types
from redis.crc import key_slot

from adk_redis_session._memory_keys import MemoryKeySchema
from adk_redis_session.memory_service import RedisMemoryService

from .helpers import texts

if TYPE_CHECKING:
    from .conftest import MakeEvent

pytestmark = pytest.mark.redis

HOSTILE: list[tuple[str, tuple[str, ...]]] = [
    ("*", ("a",)),
    ("?", ("a",)),
    ("[ab]", ("a", "b")),
    ("{x}", ("x",)),
    ("}{", ("x",)),
    ("a:b", ("a", "b")),
    ("a:mem:meta", ("a",)),
    (" ", ("",)),
    ("\n", ("",)),
    ("\U0001f99c", ("?",)),
    ("x" * 5000, ("x" * 4999,)),
    ("%2A", ("*",)),
    ("", ("%",)),
]


def hostile_id(value: tuple[str, tuple[str, ...]]) -> str:
    return f"len{len(value[0])}" if len(value[0]) > 20 else repr(value[0])


class Scope(NamedTuple):
    app: str
    user: str


def place(role: str, value: str) -> Scope:
    return Scope(value, "user") if role == "app" else Scope("app", value)


HOSTILE_PARAMS = pytest.mark.parametrize("value", HOSTILE, ids=hostile_id)
ROLE_PARAMS = pytest.mark.parametrize("role", ["app", "user"])


async def populate(
    memory: RedisMemoryService, make_event: MakeEvent, role: str, ids: list[str]
) -> list[Scope]:
    """Stores, for each id, one event and one explicit memory marked with it."""
    scopes = []
    for n, value in enumerate(ids):
        scope = place(role, value)
        await memory.add_events_to_memory(
            app_name=scope.app,
            user_id=scope.user,
            events=[make_event(f"shared word owner{n}")],
            session_id=value,
        )
        await memory.add_memory(
            app_name=scope.app,
            user_id=scope.user,
            memories=[
                MemoryEntry(
                    id="same-id",
                    content=types.Content(
                        parts=[types.Part(text=f"shared note number{n}")]
                    ),
                )
            ],
        )
        scopes.append(scope)
    return scopes


@ROLE_PARAMS
@HOSTILE_PARAMS
async def test_search_sees_only_its_own_memories(
    redis_memory: RedisMemoryService,
    make_event: MakeEvent,
    role: str,
    value: tuple[str, tuple[str, ...]],
) -> None:
    ids = [value[0], *value[1]]
    scopes = await populate(redis_memory, make_event, role, ids)
    for n, scope in enumerate(scopes):
        response = await redis_memory.search_memory(
            app_name=scope.app, user_id=scope.user, query="shared"
        )
        assert sorted(texts(response.memories)) == [
            f"shared note number{n}",
            f"shared word owner{n}",
        ]


@ROLE_PARAMS
@HOSTILE_PARAMS
@pytest.mark.parametrize("victim", [0, 1], ids=["del-hostile", "del-neighbour"])
async def test_delete_removes_only_its_own_memory(
    redis_memory: RedisMemoryService,
    make_event: MakeEvent,
    role: str,
    value: tuple[str, tuple[str, ...]],
    victim: int,
) -> None:
    ids = [value[0], *value[1]]
    scopes = await populate(redis_memory, make_event, role, ids)
    gone = scopes[victim]
    await redis_memory.delete_memory(
        app_name=gone.app, user_id=gone.user, memory_id="same-id"
    )
    for n, scope in enumerate(scopes):
        response = await redis_memory.search_memory(
            app_name=scope.app, user_id=scope.user, query="note"
        )
        expected = [] if n == victim else [f"shared note number{n}"]
        assert texts(response.memories) == expected


@HOSTILE_PARAMS
async def test_all_keys_of_a_user_share_one_slot(
    redis_memory: RedisMemoryService,
    redis_client: aioredis.Redis,
    key_prefix: str,
    make_event: MakeEvent,
    value: tuple[str, tuple[str, ...]],
) -> None:
    await populate(redis_memory, make_event, "user", [value[0]])
    schema = MemoryKeySchema(key_prefix)
    keys = await redis_client.keys(f"{key_prefix}:*")
    assert len(keys) == 4 + 5  # fixed keys (no tombstones yet) + postings
    slot = key_slot(schema.user("app", value[0]).meta.encode())
    assert {key_slot(k if isinstance(k, bytes) else k.encode()) for k in keys} == {slot}


async def test_other_prefixes_are_untouched(
    redis_client: aioredis.Redis, key_prefix: str, make_event: MakeEvent
) -> None:
    async with (
        RedisMemoryService(client=redis_client, key_prefix=key_prefix + "a") as one,
        RedisMemoryService(client=redis_client, key_prefix=key_prefix + "b") as two,
    ):
        await one.add_events_to_memory(
            app_name="app", user_id="u", events=[make_event("private fact")]
        )
        found = await two.search_memory(app_name="app", user_id="u", query="fact")
        assert found.memories == []

"""The memory key schema (no server): one slot per user, no id can escape it."""

from __future__ import annotations

import itertools

import pytest
from redis.crc import key_slot

from adk_redis_session._keys import KeySchema
from adk_redis_session._memory_keys import MemoryKeySchema

HOSTILE = ["", " ", "*", "?", "[ab]", "{x}", "}{", "a:b", "a", "b", "%2A", "\U0001f99c"]


def test_memory_keys_share_the_users_session_hash_tag() -> None:
    memory = MemoryKeySchema("adk")
    sessions = KeySchema("adk")
    for app, user in itertools.product(HOSTILE, repeat=2):
        keys = [*memory.user(app, user), *memory.postings(app, user, ["term", "猫"])]
        slot = key_slot(sessions.user(app, user).state.encode())
        assert {key_slot(k.encode()) for k in keys} == {slot}


def test_distinct_ids_never_share_keys() -> None:
    schema = MemoryKeySchema("adk")
    seen: dict[str, tuple[str, str]] = {}
    for app, user in itertools.product(HOSTILE, repeat=2):
        for key in [*schema.user(app, user), schema.posting_prefix(app, user)]:
            assert seen.setdefault(key, (app, user)) == (app, user)


def test_ids_cannot_open_or_close_a_hash_tag() -> None:
    schema = MemoryKeySchema("p")
    for app, user in itertools.product(HOSTILE, repeat=2):
        key = schema.user(app, user).docs
        assert key.count("{") == 1
        assert key.count("}") == 1


def test_memory_keys_do_not_overlap_session_keys() -> None:
    memory = set(MemoryKeySchema("adk").user("app", "u"))
    sessions = KeySchema("adk")
    others = {*sessions.user("app", "u"), *sessions.session("app", "u", "mem")}
    assert not memory & others
    assert all(":mem:" in key for key in memory)


@pytest.mark.parametrize("prefix", ["", "a{b", "a}b"])
def test_bad_prefixes_are_rejected(prefix: str) -> None:
    with pytest.raises(ValueError, match="key_prefix"):
        MemoryKeySchema(prefix)

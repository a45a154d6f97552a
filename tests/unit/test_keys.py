"""The key schema: escaping is injective and keeps ids out of key syntax."""

from __future__ import annotations

import re
import unicodedata

import pytest
from redis.crc import key_slot

from adk_redis_session._keys import KeySchema, escape

TRICKY_IDS = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "a",
    "A",
    "a:b",
    "a::b",
    ":",
    "::",
    "*",
    "**",
    "?",
    "[ab]",
    "[",
    "]",
    "{",
    "}",
    "{x}",
    "}{",
    "x",
    "%",
    "%%",
    "%2A",
    "%252A",
    "%25",
    "%3A",
    "+",
    "a b",
    "a+b",
    "a%20b",
    "/",
    "\\",
    "|",
    "\x00",
    "é",
    unicodedata.normalize("NFD", "é"),
    "🦜",
    "日本語",
    "x" * 5000,
    "x" * 4999,
    "-_.~",
    "user:state",
    "s:x:meta",
]

# What an escaped id may consist of: unreserved characters and %XX triplets.
ESCAPED = re.compile(r"(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})*")


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: between first '{' and next '}'."""
    start = key.index("{")
    end = key.index("}", start + 1)
    return key[start + 1 : end]


def test_escape_is_injective_on_tricky_ids() -> None:
    escaped = [escape(i) for i in TRICKY_IDS]
    assert len(set(TRICKY_IDS)) == len(TRICKY_IDS)
    assert len(set(escaped)) == len(escaped)


@pytest.mark.parametrize("component", TRICKY_IDS, ids=repr)
def test_escaped_id_has_no_key_syntax(component: str) -> None:
    escaped = escape(component)
    assert ESCAPED.fullmatch(escaped), escaped
    for forbidden in ":{}*?[]\\|/+ ":
        assert forbidden not in escaped
    assert not any(ch.isspace() for ch in escaped)
    assert escaped.isascii()


@pytest.mark.parametrize("component", ["%", "%2A", "a%b", "%%25"], ids=repr)
def test_percent_in_id_is_itself_escaped(component: str) -> None:
    escaped = escape(component)
    # Every '%' in the output starts an escape; a literal '%' becomes '%25'.
    assert escaped.count("%") == len(re.findall(r"%[0-9A-F]{2}", escaped))
    assert escaped.count("%25") == component.count("%")


@pytest.mark.parametrize("prefix", ["", "a{b", "a}b", "{", "}", "{tag}"], ids=repr)
def test_key_schema_rejects_bad_prefix(prefix: str) -> None:
    with pytest.raises(ValueError):
        KeySchema(prefix)


@pytest.mark.parametrize(("app", "user"), [("app", "u"), ("a:b", "{x}"), ("", "")])
def test_session_and_user_keys_share_one_hash_tag(app: str, user: str) -> None:
    schema = KeySchema("pfx")
    keys = [
        *schema.session(app, user, "s1"),
        *schema.session(app, user, "other:session"),
        *schema.user(app, user),
    ]
    assert {hash_tag(k) for k in keys} == {f"{escape(app)}:{escape(user)}"}


def test_session_and_user_keys_share_one_cluster_slot() -> None:
    schema = KeySchema("pfx")
    keys = [*schema.session("app", "u", "s1"), *schema.user("app", "u")]
    assert len({key_slot(k.encode()) for k in keys}) == 1


def test_app_keys_have_their_own_hash_tag() -> None:
    schema = KeySchema("pfx")
    user_tag = hash_tag(schema.user("app", "u").state)
    app_tags = {hash_tag(k) for k in schema.app("app")}
    assert app_tags == {escape("app")}
    assert user_tag not in app_tags


def test_different_users_have_different_hash_tags() -> None:
    schema = KeySchema("pfx")
    assert hash_tag(schema.user("app", "u1").state) != hash_tag(
        schema.user("app", "u2").state
    )


@pytest.mark.parametrize("bad", [1, None, b"bytes", 1.5, ("a",)], ids=repr)
def test_escape_rejects_non_str(bad: object) -> None:
    with pytest.raises(TypeError):
        escape(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("position", [0, 1, 2])
def test_session_keys_reject_non_str_ids(position: int) -> None:
    ids: list[object] = ["app", "user", "session"]
    ids[position] = 42
    with pytest.raises(TypeError):
        KeySchema("pfx").session(*ids)  # type: ignore[arg-type]


@pytest.mark.parametrize("component", ["\ud800", "a\udfffb"], ids=repr)
def test_escape_rejects_lone_surrogates(component: str) -> None:
    with pytest.raises(ValueError):
        escape(component)


def test_separator_in_app_or_user_gives_distinct_keys() -> None:
    schema = KeySchema("pfx")
    left = {*schema.session("a:b", "c", "s"), *schema.user("a:b", "c")}
    right = {*schema.session("a", "b:c", "s"), *schema.user("a", "b:c")}
    assert left.isdisjoint(right)


def test_separator_in_user_or_session_gives_distinct_keys() -> None:
    schema = KeySchema("pfx")
    left = set(schema.session("app", "a:b", "c"))
    right = set(schema.session("app", "a", "b:c"))
    assert left.isdisjoint(right)


def test_session_id_cannot_collide_with_user_keys() -> None:
    schema = KeySchema("pfx")
    user_keys = set(schema.user("app", "u"))
    for sid in ["x:user", "user", "state", "..", "s"]:
        assert user_keys.isdisjoint(schema.session("app", "u", sid))


def test_every_key_starts_with_prefix_and_separator() -> None:
    schema = KeySchema("my-prefix")
    keys = [
        *schema.session("*", "?", "[ab]"),
        *schema.user("*", "?"),
        *schema.app("*"),
    ]
    assert all(k.startswith("my-prefix:{") for k in keys)

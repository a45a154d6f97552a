"""What a memory stores and indexes, and how ids are made (no server)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest
from google.adk.memory.memory_entry import MemoryEntry
from google.genai import types

from adk_redis_session._memory_codec import (
    UNKNOWN_SESSION_ID,
    decode_entry,
    event_memory_id,
    record_from_entry,
    record_from_event,
)
from adk_redis_session.errors import CorruptedDataError

if TYPE_CHECKING:
    from .conftest import MakeEvent

NOW = 1_750_000_000.0


def call(name: str, **args: object) -> types.Part:
    return types.Part(function_call=types.FunctionCall(name=name, args=args))


def result(name: str, response: dict[str, object]) -> types.Part:
    return types.Part(
        function_response=types.FunctionResponse(name=name, response=response)
    )


def test_text_function_calls_and_responses_are_indexed(make_event: MakeEvent) -> None:
    event = make_event(
        parts=[
            types.Part(text="Booking now"),
            call("book_hotel", city="Paris", nights=3, late=True),
            result("book_hotel", {"confirmation": "HX-77", "rooms": [{"floor": 4}]}),
        ],
        author="agent",
    )
    record = record_from_event(event, "s1")
    assert record is not None
    assert set(record.counts) == {
        "booking", "now", "book", "hotel", "city", "pari", "night", "3",
        "late", "confirmation", "hx", "77", "room", "floor", "4",
    }  # fmt: skip
    assert record.counts["hotel"] == 2
    assert record.length == sum(record.counts.values())
    stored = json.loads(record.payload)["content"]["parts"]
    assert [sorted(p) for p in stored] == [
        ["text"],
        ["function_call"],
        ["function_response"],
    ]


def test_thoughts_and_memory_tool_parts_are_left_out(make_event: MakeEvent) -> None:
    event = make_event(
        parts=[
            types.Part(text="secret reasoning", thought=True),
            call("load_memory", query="cat"),
            result("preload_memory", {"memories": ["cat Miso"]}),
            types.Part(text="Your cat is Miso."),
        ],
        author="agent",
    )
    record = record_from_event(event, "s1")
    assert record is not None
    assert set(record.counts) == {"cat", "miso"}
    assert json.loads(record.payload)["content"]["parts"] == [
        {"text": "Your cat is Miso."}
    ]


def test_events_with_nothing_to_remember_are_skipped(make_event: MakeEvent) -> None:
    assert record_from_event(make_event(None), "s1") is None
    assert record_from_event(make_event(parts=[]), "s1") is None
    assert record_from_event(make_event("the of and"), "s1") is None
    only_recall = make_event(parts=[result("load_memory", {"memories": []})])
    assert record_from_event(only_recall, "s1") is None
    image = types.Part(inline_data=types.Blob(mime_type="image/png", data=b"\x89"))
    assert record_from_event(make_event(parts=[image]), "s1") is None


def test_event_metadata_names_session_and_event(make_event: MakeEvent) -> None:
    event = make_event("hello world")
    record = record_from_event(event, "s1", {"source": "x", "session_id": "forged"})
    assert record is not None
    assert json.loads(record.payload)["metadata"] == {
        "source": "x",
        "session_id": "s1",
        "event_id": event.id,
    }


def test_event_memory_ids_are_stable_and_unambiguous() -> None:
    assert event_memory_id("s", "e") == event_memory_id("s", "e")
    assert event_memory_id("a:b", "c") != event_memory_id("a", "b:c")
    assert event_memory_id("s1", "e") != event_memory_id("s2", "e")
    assert event_memory_id(UNKNOWN_SESSION_ID, "e") != event_memory_id("s", "e")
    assert len(event_memory_id("s", "e")) == 32


def test_custom_metadata_must_be_json(make_event: MakeEvent) -> None:
    with pytest.raises(TypeError, match="JSON-serializable"):
        record_from_event(make_event("hi there"), "s1", {"when": datetime.now()})


def entry(text: str, **fields: Any) -> MemoryEntry:
    return MemoryEntry(content=types.Content(parts=[types.Part(text=text)]), **fields)


def test_explicit_entry_keeps_its_id_and_timestamp_text() -> None:
    record = record_from_entry(
        entry("likes jazz", id="m-1", timestamp="2024-05-01T10:00:00Z"), NOW
    )
    assert record.memory_id == "m-1"
    assert record.mode == "entry"
    assert record.timestamp == datetime(2024, 5, 1, 10, tzinfo=timezone.utc).timestamp()
    decoded = decode_entry("m-1", record.payload, "here")
    assert decoded.timestamp == "2024-05-01T10:00:00Z"
    assert decoded.id == "m-1"


def test_explicit_entry_without_id_gets_a_content_id() -> None:
    one = record_from_entry(entry("likes jazz"), NOW)
    assert one.memory_id == record_from_entry(entry("likes jazz"), NOW + 5).memory_id
    assert one.memory_id != record_from_entry(entry("likes rock"), NOW).memory_id
    assert one.timestamp == NOW


def test_unreadable_timestamp_is_kept_and_dated_now() -> None:
    record = record_from_entry(entry("x y", timestamp="last spring"), NOW)
    assert record.timestamp == NOW
    assert decode_entry("i", record.payload, "here").timestamp == "last spring"


def test_entry_metadata_wins_over_call_metadata() -> None:
    record = record_from_entry(
        entry("x y", custom_metadata={"a": 1}), NOW, {"a": 0, "b": 2}
    )
    assert decode_entry("i", record.payload, "w").custom_metadata == {"a": 1, "b": 2}


def test_empty_entry_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="id"):
        record_from_entry(entry("x", id=""), NOW)


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"v": 2, "content": {}}', b'{"v": 1}', b'{"v": 1, "ts": 1}'],
)
def test_unreadable_entries_raise_corrupted_data(payload: bytes) -> None:
    with pytest.raises(CorruptedDataError, match="memory 'm' of user"):
        decode_entry("m", payload, "user 'u'")


def test_non_finite_event_timestamps_are_rejected(make_event: MakeEvent) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        record_from_event(make_event("x y", timestamp=float("nan")), "s1")


def test_entry_ids_must_be_valid_unicode() -> None:
    with pytest.raises(ValueError, match="Unicode"):
        record_from_entry(entry("x", id="\ud800"), NOW)

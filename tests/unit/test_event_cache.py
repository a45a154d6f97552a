"""The client-side event cache: copies that share nothing mutable, LRU bounds."""

from __future__ import annotations

import copy

import pytest
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.genai import types

from adk_redis_session._event_cache import EventCache, compile_copier


def _event(i: int) -> Event:
    return Event(
        author="model",
        invocation_id=f"inv-{i}",
        content=types.Content(
            role="model",
            parts=[
                types.Part(text=f"reply {i}"),
                types.Part(
                    function_call=types.FunctionCall(
                        name="tool", args={"n": i, "tags": ["a", "b"]}
                    )
                ),
            ],
        ),
        actions=EventActions(state_delta={"n": i, "nested": {"list": [1, 2]}}),
        timestamp=1_700_000_000.0 + i,
        id=f"event-{i}",
    )


def _raw(i: int) -> bytes:
    return _event(i).model_dump_json(exclude_none=True).encode()


def test_compiled_copy_equals_deepcopy_and_shares_nothing_mutable() -> None:
    original = Event.model_validate_json(_raw(1))
    copier = compile_copier(original)
    assert copier is not None
    copied = copier(original)
    assert copied == copy.deepcopy(original) == original
    assert copied.model_fields_set == original.model_fields_set
    copied.content.parts[0].text = "changed"
    copied.content.parts[1].function_call.args["tags"].append("c")
    copied.actions.state_delta["nested"]["list"].append(3)
    copied.actions.state_delta["new"] = 1
    assert original == Event.model_validate_json(_raw(1))


def test_immutable_values_need_no_copier() -> None:
    assert compile_copier("text") is None
    assert compile_copier(3) is None
    assert compile_copier(None) is None


def test_take_returns_fresh_copies_each_time() -> None:
    cache = EventCache(100)
    cache.put("s", "inc", 0, [_raw(0), _raw(1)])
    first = cache.take("s", 0, 2)
    second = cache.take("s", 0, 2)  # promoted to decoded objects by now
    third = cache.take("s", 0, 2)
    assert first == second == third == [_event(0), _event(1)]
    second[0].actions.state_delta["n"] = 99
    assert cache.take("s", 0, 1)[0].actions.state_delta["n"] == 0
    assert third[0] is not second[0]


def test_put_extends_a_contiguous_window_and_replaces_otherwise() -> None:
    cache = EventCache(100)
    cache.put("s", "inc", 0, [_raw(0), _raw(1)])
    cache.put("s", "inc", 2, [_raw(2)])
    assert cache.window("s") == ("inc", 0, 3)
    cache.put("s", "inc", 1, [_raw(1), _raw(2), _raw(3)])  # overlapping read
    assert cache.window("s") == ("inc", 0, 4)
    assert cache.covers("s", "inc", 0, 4)
    cache.put("s", "inc", 10, [_raw(10)])  # a gap: start again there
    assert cache.window("s") == ("inc", 10, 11)
    cache.put("s", "other", 11, [_raw(11)])  # re-created session
    assert cache.window("s") == ("other", 11, 12)
    assert not cache.covers("s", "inc", 11, 12)


def test_append_only_extends_when_contiguous() -> None:
    cache = EventCache(100)
    cache.append("s", "inc", 0, _raw(0).decode())  # nothing cached: ignored
    assert cache.window("s") == ("", 0, 0)
    cache.put("s", "inc", 0, [_raw(0)])
    cache.append("s", "inc", 1, _raw(1).decode())
    cache.append("s", "inc", 5, _raw(5).decode())  # not contiguous: ignored
    assert cache.window("s") == ("inc", 0, 2)
    assert cache.take("s", 1, 2) == [_event(1)]


def test_least_recently_used_sessions_are_evicted_first() -> None:
    cache = EventCache(4)
    cache.put("a", "i", 0, [_raw(0), _raw(1)])
    cache.put("b", "i", 0, [_raw(0), _raw(1)])
    cache.take("a", 0, 1)  # a is now the most recently used
    cache.put("c", "i", 0, [_raw(0), _raw(1)])
    assert cache.window("b") == ("", 0, 0)
    assert cache.window("a") == ("i", 0, 2)
    assert cache.window("c") == ("i", 0, 2)


def test_one_session_larger_than_the_cache_keeps_its_tail() -> None:
    cache = EventCache(3)
    cache.put("s", "i", 0, [_raw(n) for n in range(5)])
    assert cache.window("s") == ("i", 2, 5)
    assert cache.take("s", 2, 5) == [_event(2), _event(3), _event(4)]


def test_size_zero_disables_the_cache() -> None:
    cache = EventCache(0)
    cache.put("s", "i", 0, [_raw(0)])
    assert cache.window("s") == ("", 0, 0)
    with pytest.raises(ValueError):
        EventCache(-1)

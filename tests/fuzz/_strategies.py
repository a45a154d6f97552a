"""Hypothesis strategies: hostile ids, JSON state, ADK events."""

from __future__ import annotations

import math
from typing import Any

from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.genai import types
from hypothesis import strategies as st

# Ids a naive key scheme would mix up: separators, hash tags, globs, escapes,
# the key layout's own words, empty, control characters, non-BMP text.
TRICKY = [
    "",
    " ",
    "*",
    "?",
    "[a-z]",
    "{",
    "}",
    "{x}",
    "}{",
    ":",
    "a:b",
    "::",
    "%",
    "%2A",
    "%25",
    "%3A",
    "\x00",
    "\n",
    "\t",
    "\\",
    "/",
    "..",
    "s",
    "user",
    "app:",
    "user:",
    "temp:",
    "s:x:meta",
    "{a}:{b}",
    "é",
    "e\u0301",
    "\ufeff",
    "\u202e",
    "\U0001f99c",
    "\U0001f99c:{\U0001f99c}",
]

ids = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=24),
    st.text(alphabet=":{}*?[]%\\ \x00", max_size=6),
    st.lists(st.sampled_from(TRICKY), min_size=2, max_size=3).map("".join),
)

triples = st.tuples(ids, ids, ids)


@st.composite
def related_triples(draw: st.DrawFn) -> tuple[tuple[str, str, str], ...]:
    """Two different (app, user, session) triples that often share parts."""
    first = draw(triples)
    other = draw(triples)
    keep = draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
    second = tuple(f if k else o for f, o, k in zip(first, other, keep, strict=True))
    return first, second  # may be equal: the test assumes they differ


# Separators of a naive "app:user:session" key; moving one from one id to
# the next keeps the concatenation and changes the triple.
SEPARATORS = [":", "::", "}:{", ":s:", "}", "{", "%3A", ":user:", "*", "\x00"]
FRAGMENTS = ["", "a", "b", "s", "user", "app", "x:y", "%", "{", "}"]


@st.composite
def confusable_triples(draw: st.DrawFn) -> tuple[tuple[str, str, str], ...]:
    """Two different triples whose parts, joined by a separator, give the
    same text: what a key scheme without escaping would mix up."""
    fragment = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3))
    f = draw(st.lists(fragment, min_size=4, max_size=4))
    sep = draw(st.sampled_from(SEPARATORS))
    layouts = [
        ((f[0] + sep + f[1], f[2], f[3]), (f[0], f[1] + sep + f[2], f[3])),
        ((f[0], f[1] + sep + f[2], f[3]), (f[0], f[1], f[2] + sep + f[3])),
        ((f[0] + sep + f[1], f[2], f[3]), (f[0], f[1], f[2] + sep + f[3])),
    ]
    return draw(st.sampled_from(layouts))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**100), max_value=2**100),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=16),
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)

state_keys = st.tuples(
    st.sampled_from(["", "", "", "app:", "user:", "temp:"]), st.text(max_size=12)
).map("".join)

states = st.dictionaries(state_keys, json_values, max_size=6)

json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)

parts = st.one_of(
    st.text(max_size=40).map(lambda text: types.Part(text=text)),
    st.builds(
        lambda name, args: types.Part(
            function_call=types.FunctionCall(name=name, args=args)
        ),
        st.text(max_size=12),
        json_objects,
    ),
    st.builds(
        lambda name, response: types.Part(
            function_response=types.FunctionResponse(name=name, response=response)
        ),
        st.text(max_size=12),
        json_objects,
    ),
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """An event with hostile text, function calls/responses and a delta.

    The timestamp is left to the test (it decides the order).
    """
    content_parts = draw(st.lists(parts, max_size=3))
    return Event(
        id=draw(st.one_of(st.uuids().map(str), st.text(min_size=1, max_size=16))),
        author=draw(st.text(max_size=10)),
        invocation_id=draw(st.text(max_size=10)),
        branch=draw(st.none() | st.text(max_size=10)),
        content=types.Content(
            role=draw(st.sampled_from(["user", "model"])), parts=content_parts
        )
        if content_parts or draw(st.booleans())
        else None,
        custom_metadata=draw(st.none() | json_objects),
        actions=EventActions(state_delta=draw(states)),
    )


def canonical(value: Any) -> Any:
    """A form in which equal means identical: types kept (True != 1 != 1.0),
    floats by their exact text, dict order ignored."""
    if value is None or isinstance(value, (bool, str)):
        return (type(value).__name__, value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        assert math.isfinite(value)
        return ("float", float.hex(value))
    if isinstance(value, list):
        return ("list", [canonical(v) for v in value])
    if isinstance(value, dict):
        return ("dict", sorted((k, canonical(v)) for k, v in value.items()))
    raise TypeError(f"not a JSON value: {value!r}")


def without_temp(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if not k.startswith("temp:")}


def scoped(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}

"""Deterministic, realistically sized ADK events for the benchmark.

A conversation is a run of turns: a user message (~100 bytes of text), in
about one turn of three a tool call (a model ``function_call`` event and its
``function_response`` event), then a model reply (~1.5 KB of text) carrying a
session and a ``user:`` state delta. Content and ids come from a seeded
`random.Random`, so every backend gets byte-identical events; only the
timestamps are the real clock (strictly increasing per conversation).
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.genai import types

__all__ = ["AGENT", "Conversation"]

AGENT = "assistant"
_MODEL = "gemini-2.5-flash"
_USER_TEXT_BYTES = 100
_MODEL_TEXT_BYTES = 1500
_TOOL_RESULT_BYTES = 300
_TOOL_EVERY = 3  # about one turn in three calls a tool

_WORDS = (
    "session",
    "redis",
    "agent",
    "latency",
    "request",
    "reply",
    "order",
    "ticket",
    "invoice",
    "refund",
    "customer",
    "shipping",
    "account",
    "password",
    "reset",
    "billing",
    "plan",
    "upgrade",
    "region",
    "cluster",
    "deploy",
    "rollback",
    "version",
    "error",
    "timeout",
    "retry",
    "queue",
    "worker",
    "cache",
    "memory",
    "event",
    "state",
    "user",
    "model",
    "tool",
    "search",
    "result",
    "summary",
    "detail",
    "update",
    "please",
    "thanks",
    "could",
    "would",
    "should",
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "and",
    "or",
)


def _text(rng: random.Random, size: int) -> str:
    """Returns about `size` bytes of ASCII words."""
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


class Conversation:
    """The deterministic event stream of one benchmark session.

    Args:
        seed: Seeds the content and ids; equal seeds give equal streams.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._last_ts = 0.0
        self._turn = 0
        self._pending: list[Event] = []

    def _timestamp(self) -> float:
        now = time.time()
        self._last_ts = now if now > self._last_ts else self._last_ts + 1e-6
        return self._last_ts

    def _id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def user_message(self) -> Event:
        """A user event with ~100 bytes of text, no state delta."""
        self._turn += 1
        return Event(
            id=self._id(),
            invocation_id=f"e-{self._id()}",
            author="user",
            content=types.Content(
                role="user",
                parts=[types.Part(text=_text(self._rng, _USER_TEXT_BYTES))],
            ),
            timestamp=self._timestamp(),
        )

    def model_reply(self) -> Event:
        """A model event with ~1.5 KB of text and session + ``user:`` deltas."""
        delta: dict[str, Any] = {
            "turn": self._turn,
            "last_topic": self._rng.choice(_WORDS),
            "user:turns_total": self._turn,
        }
        return Event(
            id=self._id(),
            invocation_id=f"e-{self._id()}",
            author=AGENT,
            model_version=_MODEL,
            content=types.Content(
                role="model",
                parts=[types.Part(text=_text(self._rng, _MODEL_TEXT_BYTES))],
            ),
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=self._rng.randint(500, 5000),
                candidates_token_count=self._rng.randint(200, 500),
                total_token_count=self._rng.randint(700, 5500),
            ),
            actions=EventActions(state_delta=delta),
            timestamp=self._timestamp(),
        )

    def tool_call(self) -> tuple[Event, Event]:
        """A model ``function_call`` event and its ``function_response``."""
        call_id = f"adk-{self._id()}"
        invocation = f"e-{self._id()}"
        name = self._rng.choice(("search_docs", "lookup_order", "open_ticket"))
        call = Event(
            id=self._id(),
            invocation_id=invocation,
            author=AGENT,
            model_version=_MODEL,
            content=types.Content(
                role="model",
                parts=[
                    types.Part(
                        function_call=types.FunctionCall(
                            id=call_id,
                            name=name,
                            args={
                                "query": _text(self._rng, 60),
                                "limit": self._rng.randint(1, 10),
                            },
                        )
                    )
                ],
            ),
            timestamp=self._timestamp(),
        )
        response = Event(
            id=self._id(),
            invocation_id=invocation,
            author=AGENT,
            content=types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            id=call_id,
                            name=name,
                            response={
                                "status": "ok",
                                "result": _text(self._rng, _TOOL_RESULT_BYTES),
                            },
                        )
                    )
                ],
            ),
            timestamp=self._timestamp(),
        )
        return call, response

    def history_event(self) -> Event:
        """The next event of the conversation's history (turns with tools)."""
        if not self._pending:
            self._pending.append(self.user_message())
            if self._rng.randrange(_TOOL_EVERY) == 0:
                self._pending.extend(self.tool_call())
            self._pending.append(self.model_reply())
        # Stamp when handed out, so timestamps follow the append order.
        event = self._pending.pop(0)
        event.timestamp = self._timestamp()
        return event

    def chat_turn(self) -> tuple[Event, Event]:
        """The two events one chat turn appends: user message, model reply."""
        self._pending.clear()
        return self.user_message(), self.model_reply()

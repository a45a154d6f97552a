"""Events and MemoryEntry items <-> stored memories (pure; no I/O).

What a memory built from an event holds and indexes:

* **Stored** (returned by search): the event's text parts, function calls and
  function responses, without thought parts (the model's private reasoning)
  and without the calls to and results of ADK's memory tools
  (``load_memory``, ``preload_memory``), whose output is memory already:
  storing it again would echo old memories into new ones. Inline data, files
  and code parts are not stored. An event with nothing left is skipped.
* **Indexed**: the text, a function's name, and the keys and scalar values of
  its arguments / response (``{"city": "Paris"}`` -> ``city paris``).

An explicit ``MemoryEntry`` is stored as given and indexed the same way.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from google.adk.events.event import Event
from google.adk.memory import _utils as memory_utils
from google.adk.memory.memory_entry import MemoryEntry
from google.genai import types

from ._tokenize import tokenize
from .errors import CorruptedDataError

__all__ = [
    "MEMORY_TOOLS",
    "UNKNOWN_SESSION_ID",
    "MemoryRecord",
    "decode_entry",
    "event_memory_id",
    "record_from_entry",
    "record_from_event",
]

#: Session id recorded for events added without one (ADK's own placeholder).
UNKNOWN_SESSION_ID = "__unknown_session_id__"
#: ADK tools whose calls and results are not remembered.
MEMORY_TOOLS = frozenset({"load_memory", "preload_memory"})
#: At most this much text per memory is tokenized, and this many terms kept.
MAX_INDEXED_CHARS = 262_144
MAX_INDEXED_TERMS = 10_000
#: Version of the entry JSON envelope.
_ENTRY_VERSION = 1
_MAX_DEPTH = 32

Mode = Literal["event", "entry"]


@dataclass(frozen=True)
class MemoryRecord:
    """One memory, ready for the ingestion script.

    Attributes:
        memory_id: The id search returns and delete takes.
        mode: ``"event"`` (stored once, never replaced) or ``"entry"`` (an
            explicit item: replaces a stored one of its id).
        timestamp: When it happened, seconds since the epoch.
        payload: The entry JSON.
        length: Number of indexed terms (BM25's document length).
        counts: Term -> how often it occurs.
    """

    memory_id: str
    mode: Mode
    timestamp: float
    payload: str
    length: int
    counts: dict[str, int]

    def script_args(self) -> list[str]:
        """Returns this memory's part of the ingestion script's ARGV."""
        args = [
            self.memory_id,
            self.mode,
            repr(float(self.timestamp)),
            self.payload,
            str(self.length),
            str(len(self.counts)),
        ]
        for term, count in self.counts.items():
            args.append(term)
            args.append(str(count))
        return args


def event_memory_id(session_id: str, event_id: str) -> str:
    """The stable id of the memory of one event of one session."""
    digest = hashlib.sha256(json.dumps([session_id, event_id]).encode("utf-8"))
    return digest.hexdigest()[:32]


def _content_id(author: str | None, timestamp: str | None, content: str) -> str:
    digest = hashlib.sha256(json.dumps([author, timestamp, content]).encode())
    return digest.hexdigest()[:32]


def _kept_parts(content: types.Content) -> list[types.Part]:
    """The parts of an event worth remembering, stripped of other fields."""
    kept: list[types.Part] = []
    for part in content.parts or []:
        if part.thought:
            continue
        if part.text:
            kept.append(types.Part(text=part.text))
        elif part.function_call and part.function_call.name not in MEMORY_TOOLS:
            kept.append(types.Part(function_call=part.function_call))
        elif part.function_response and part.function_response.name not in MEMORY_TOOLS:
            kept.append(types.Part(function_response=part.function_response))
    return kept


def _flatten(value: Any, depth: int = 0) -> Iterator[str]:
    """Yields the keys and scalar values of a JSON-like value."""
    if depth > _MAX_DEPTH or value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)):
        yield str(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _flatten(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item, depth + 1)


def _part_texts(parts: list[types.Part]) -> Iterator[str]:
    for part in parts:
        if part.thought:
            continue
        if part.text:
            yield part.text
        call = part.function_call
        if call is not None and call.name not in MEMORY_TOOLS:
            yield from _flatten([call.name, call.args])
        response = part.function_response
        if response is not None and response.name not in MEMORY_TOOLS:
            yield from _flatten([response.name, response.response])


def _counts(parts: list[types.Part]) -> tuple[int, dict[str, int]]:
    text = " ".join(_part_texts(parts))[:MAX_INDEXED_CHARS]
    terms = tokenize(text, limit=MAX_INDEXED_TERMS)
    return len(terms), dict(Counter(terms))


def _json_metadata(metadata: Mapping[str, object] | None) -> dict[str, Any]:
    if not metadata:
        return {}
    plain = dict(metadata)
    try:
        json.dumps(plain)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"custom_metadata must be JSON-serializable: {exc}") from exc
    return plain


def _payload(
    content: types.Content,
    author: str | None,
    timestamp: float,
    timestamp_text: str | None,
    metadata: dict[str, Any],
) -> str:
    envelope: dict[str, Any] = {
        "v": _ENTRY_VERSION,
        "content": content.model_dump(mode="json", exclude_none=True),
        "author": author,
        "ts": timestamp,
        "metadata": metadata,
    }
    if timestamp_text is not None:
        envelope["timestamp"] = timestamp_text
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def record_from_event(
    event: Event,
    session_id: str,
    custom_metadata: Mapping[str, object] | None = None,
) -> MemoryRecord | None:
    """Builds the memory of one event, or ``None`` if it holds nothing to keep.

    Args:
        event: A stored session event.
        session_id: The session it belongs to (or ``UNKNOWN_SESSION_ID``).
        custom_metadata: The caller's metadata, stored with the memory.
    """
    if event.content is None:
        return None
    if not math.isfinite(event.timestamp):
        raise ValueError(f"event {event.id!r} has a non-finite timestamp")
    parts = _kept_parts(event.content)
    if not parts:
        return None
    length, counts = _counts(parts)
    if not counts:
        return None
    content = types.Content(role=event.content.role, parts=parts)
    event_id = event.id or _content_id(
        event.author, repr(event.timestamp), content.model_dump_json()
    )
    metadata = {
        **_json_metadata(custom_metadata),
        "session_id": session_id,
        "event_id": event_id,
    }
    return MemoryRecord(
        memory_id=event_memory_id(session_id, event_id),
        mode="event",
        timestamp=float(event.timestamp),
        payload=_payload(content, event.author, event.timestamp, None, metadata),
        length=length,
        counts=counts,
    )


def _parse_timestamp(text: str | None, now: float) -> float:
    """Reads an ISO-8601 timestamp (naive = local time); ``now`` if unreadable."""
    if not text:
        return now
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        return now


def record_from_entry(
    entry: MemoryEntry,
    now: float,
    custom_metadata: Mapping[str, object] | None = None,
) -> MemoryRecord:
    """Builds the memory of an explicit ``MemoryEntry``.

    Its id is ``entry.id``, or a digest of author, timestamp and content, so
    adding the same entry twice stores it once. A timestamp that is not
    ISO-8601 is kept as text and the memory is dated ``now``.

    Args:
        entry: The item to store.
        now: The current time, seconds since the epoch.
        custom_metadata: The caller's metadata; the entry's own wins.

    Raises:
        ValueError: If ``entry.id`` is an empty string or not valid Unicode.
    """
    if entry.id is not None:
        if not entry.id:
            raise ValueError("MemoryEntry.id must be None or a non-empty string")
        try:
            entry.id.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"MemoryEntry.id {entry.id!r} is not valid Unicode"
            ) from exc
    parts = list(entry.content.parts or [])
    length, counts = _counts(parts)
    content_json = entry.content.model_dump_json(exclude_none=True)
    memory_id = entry.id or _content_id(entry.author, entry.timestamp, content_json)
    timestamp = _parse_timestamp(entry.timestamp, now)
    metadata = {
        **_json_metadata(custom_metadata),
        **_json_metadata(entry.custom_metadata),
    }
    return MemoryRecord(
        memory_id=memory_id,
        mode="entry",
        timestamp=timestamp,
        payload=_payload(
            entry.content,
            entry.author,
            timestamp,
            entry.timestamp or memory_utils.format_timestamp(timestamp),
            metadata,
        ),
        length=length,
        counts=counts,
    )


def decode_entry(memory_id: str, payload: bytes | str, where: str) -> MemoryEntry:
    """Turns a stored entry JSON back into a ``MemoryEntry``.

    Raises:
        CorruptedDataError: If the JSON is unreadable or of another version.
    """
    try:
        envelope = json.loads(payload)
        if envelope.get("v") != _ENTRY_VERSION:
            raise ValueError(f"unknown entry version {envelope.get('v')!r}")
        timestamp = envelope.get("timestamp") or memory_utils.format_timestamp(
            float(envelope["ts"])
        )
        return MemoryEntry(
            id=memory_id,
            content=types.Content.model_validate(envelope["content"]),
            author=envelope.get("author"),
            timestamp=timestamp,
            custom_metadata=dict(envelope.get("metadata") or {}),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CorruptedDataError(
            f"memory {memory_id!r} of {where} cannot be decoded: {exc}"
        ) from exc

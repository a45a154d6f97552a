"""Conversion between ADK objects and the JSON stored in Redis.

Events are stored as ``Event.model_dump_json(exclude_none=True)``, the same
JSON document ``DatabaseSessionService`` keeps in its ``event_data`` column.
State values are stored one JSON document per key. Nothing is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from google.adk.events.event import Event
from google.adk.sessions.state import State
from pydantic import ValidationError

from ._keys import LAYOUT_VERSION
from .errors import CorruptedDataError

__all__ = [
    "META_FIELDS",
    "decode_events",
    "decode_meta",
    "decode_state",
    "decode_state_hash",
    "encode_event",
    "encode_state_pairs",
    "without_temp_state",
]

#: The meta hash fields readers need, in the order ``decode_meta`` takes them.
META_FIELDS = ("v", "inc", "rev", "updated")


def encode_event(event: Event) -> str:
    """Returns the stored JSON form of an event."""
    return event.model_dump_json(exclude_none=True)


def without_temp_state(event: Event) -> Event:
    """The event as an append stores it: without its ``temp:`` state delta.

    ``event`` itself is not changed (a copy is returned if it had any).
    """
    delta = event.actions.state_delta if event.actions else {}
    if not any(key.startswith(State.TEMP_PREFIX) for key in delta):
        return event
    kept = {k: v for k, v in delta.items() if not k.startswith(State.TEMP_PREFIX)}
    actions = event.actions.model_copy(update={"state_delta": kept})
    return event.model_copy(update={"actions": actions})


def encode_state_pairs(delta: dict[str, Any]) -> list[str]:
    """Flattens a JSON-safe state delta into ``[key, json, key, json, ...]``."""
    pairs: list[str] = []
    for key, value in delta.items():
        pairs.append(key)
        pairs.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return pairs


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


def decode_state(flat: Sequence[bytes | str], *, where: str) -> dict[str, Any]:
    """Decodes a flat HGETALL reply of JSON values into a dict.

    Args:
        flat: ``[key, json, key, json, ...]`` as returned by a script.
        where: What the state belongs to, for the error message.

    Raises:
        CorruptedDataError: If a value is not valid JSON.
    """
    state: dict[str, Any] = {}
    for i in range(0, len(flat), 2):
        try:
            key = _text(flat[i])
        except UnicodeDecodeError as exc:
            raise CorruptedDataError(
                f"stored state of {where} has a key that is not UTF-8"
            ) from exc
        try:
            state[key] = json.loads(flat[i + 1])
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptedDataError(
                f"stored state key {key!r} of {where} is not valid JSON"
            ) from exc
    return state


_STORED_EVENT_FIELDS = frozenset({"author", "timestamp", "invocation_id"})


def decode_events(raw_events: Sequence[bytes | str], *, where: str) -> list[Event]:
    """Decodes stored event JSON documents.

    Raises:
        CorruptedDataError: If a stored event cannot be decoded.
    """
    events: list[Event] = []
    for position, raw in enumerate(raw_events):
        try:
            event = Event.model_validate_json(raw)
        except (ValidationError, ValueError) as exc:
            raise CorruptedDataError(
                f"stored event #{position} of {where} cannot be decoded: {exc}"
            ) from exc
        # Every stored event has these; without them pydantic would fill in
        # defaults (a fresh random id on each read) instead of failing.
        if not event.model_fields_set >= _STORED_EVENT_FIELDS:
            raise CorruptedDataError(
                f"stored event #{position} of {where} lacks its author, timestamp or "
                "invocation id"
            )
        events.append(event)
    return events


def decode_state_hash(value: dict[Any, Any], *, where: str) -> dict[str, Any]:
    """Decodes an HGETALL reply (a dict) of JSON values, as `decode_state`."""
    flat: list[bytes | str] = []
    for key, item in value.items():
        flat.extend((key, item))
    return decode_state(flat, where=where)


def decode_meta(meta: Sequence[Any], *, where: str) -> tuple[str, float]:
    """Reads the revision marker and last update time from ``META_FIELDS``.

    Returns:
        ``("<incarnation>:<revision>", last_update_time)``.

    Raises:
        CorruptedDataError: If a field is missing or malformed, or the layout
            version is not the one this release reads.
    """
    version, incarnation, revision, updated = meta[:4]
    try:
        if incarnation is None:
            raise ValueError("no incarnation")
        if int(version) != LAYOUT_VERSION:
            raise CorruptedDataError(
                f"{where} has storage layout version {_text(version)}, "
                f"this release reads version {LAYOUT_VERSION}"
            )
        return f"{_text(incarnation)}:{int(revision)}", float(updated)
    except (TypeError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, CorruptedDataError):
            raise
        raise CorruptedDataError(f"metadata of {where} is corrupted") from exc

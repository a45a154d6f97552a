"""Comparing one session as two stores hold it: what to copy, what differs.

Values are compared as canonical JSON (sorted keys), so ``1`` and ``1.0``
or ``True`` differ as they would for a reader, while the key order a
database imposes on JSON objects does not matter. Messages name fields and
state keys, never values: state may hold personal data or secrets.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from google.adk.events.event import Event
from google.adk.sessions.session import Session
from google.adk.sessions.state import State

__all__ = [
    "TIME_TOLERANCE",
    "SessionPlan",
    "changed_keys",
    "compare_sessions",
    "extra_keys",
    "plan_session",
    "same_time",
    "session_scoped",
]

#: Databases keep a session's update time to the microsecond; Redis keeps
#: the float. Event timestamps are kept exactly by both.
TIME_TOLERANCE = 1e-6

_SHARED_PREFIXES = (State.APP_PREFIX, State.USER_PREFIX, State.TEMP_PREFIX)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True)


def session_scoped(state: Mapping[str, Any]) -> dict[str, Any]:
    """The session-scoped part of a merged state (no app:/user:/temp: keys)."""
    return {k: v for k, v in state.items() if not k.startswith(_SHARED_PREFIXES)}


def changed_keys(
    source: Mapping[str, Any], target: Mapping[str, Any]
) -> dict[str, Any]:
    """Source keys whose value the target lacks or holds differently."""
    return {
        key: value
        for key, value in source.items()
        if key not in target or _canonical(target[key]) != _canonical(value)
    }


def extra_keys(source: Mapping[str, Any], target: Mapping[str, Any]) -> list[str]:
    """Keys only the target has, sorted."""
    return sorted(set(target) - set(source))


def same_time(a: float, b: float) -> bool:
    """Whether two last-update times are equal up to a microsecond."""
    return abs(a - b) <= TIME_TOLERANCE


def _event_json(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json")


def event_fields_differing(a: Event, b: Event) -> list[str]:
    """Top-level fields in which two events differ (empty if equal)."""
    da, db = _event_json(a), _event_json(b)
    return sorted(
        key
        for key in set(da) | set(db)
        if _canonical(da.get(key)) != _canonical(db.get(key))
    )


@dataclasses.dataclass
class SessionPlan:
    """What copying one session takes.

    Attributes:
        create: The target has no such session yet.
        missing: Source events the target lacks, in the source's order.
        conflict: Why the session must not be touched, or None.
    """

    create: bool
    missing: list[Event]
    conflict: str | None = None


def _common_conflict(source: Session, target: Session) -> str | None:
    """Events the target has that the source lacks or holds differently."""
    by_id = {e.id: e for e in source.events}
    extra = [e.id for e in target.events if e.id not in by_id]
    if extra:
        return (
            f"the target has {len(extra)} event(s) the source lacks (first: {extra[0]})"
        )
    for event in target.events:
        fields = event_fields_differing(by_id[event.id], event)
        if fields:
            return (
                f"event {event.id} differs between source and target "
                f"(fields: {', '.join(fields)})"
            )
    return None


def plan_session(source: Session, target: Session | None) -> SessionPlan:
    """Decides how to bring ``target`` up to ``source``.

    A target that is behind (holds a subset of the source's events, equal
    ones) gets the missing events. A target with events the source lacks,
    an event that differs, or session state keys the source lacks was
    written to on its own: that is a conflict, and nothing is copied.
    """
    if target is None:
        return SessionPlan(create=True, missing=list(source.events))
    conflict = _common_conflict(source, target)
    if conflict is None:
        extra = extra_keys(session_scoped(source.state), session_scoped(target.state))
        if extra:
            conflict = (
                "the target's session state has key(s) the source lacks: "
                + ", ".join(extra)
            )
    if conflict is not None:
        return SessionPlan(create=False, missing=[], conflict=conflict)
    held = {e.id for e in target.events}
    return SessionPlan(
        create=False, missing=[e for e in source.events if e.id not in held]
    )


def compare_sessions(source: Session, target: Session | None) -> tuple[str, str]:
    """Compares what ``get_session`` returns from both stores.

    Returns:
        ``("equal", "")``; ``("behind", why)`` when the source has events the
        target lacks and nothing else differs in the events (the source was
        written to after the copy); or ``("mismatch", why)``.
    """
    if target is None:
        return "mismatch", "missing in the target"
    if _common_conflict(source, target) is None and len(target.events) < len(
        source.events
    ):
        return (
            "behind",
            f"the source has {len(source.events) - len(target.events)} newer event(s)",
        )
    reason = _events_difference(source.events, target.events)
    if reason:
        return "mismatch", reason
    keys = sorted(
        set(changed_keys(source.state, target.state))
        | set(extra_keys(source.state, target.state))
    )
    if keys:
        return "mismatch", f"state differs in key(s): {', '.join(keys)}"
    if not same_time(source.last_update_time, target.last_update_time):
        return "mismatch", (
            f"last_update_time {source.last_update_time!r} in the source, "
            f"{target.last_update_time!r} in the target"
        )
    return "equal", ""


def _events_difference(source: Sequence[Event], target: Sequence[Event]) -> str:
    if len(source) != len(target):
        return f"{len(source)} event(s) in the source, {len(target)} in the target"
    for i, (a, b) in enumerate(zip(source, target, strict=True)):
        if a.id != b.id:
            return f"event #{i} is {a.id} in the source, {b.id} in the target"
        fields = event_fields_differing(a, b)
        if fields:
            return f"event #{i} ({a.id}) differs in: {', '.join(fields)}"
    return ""

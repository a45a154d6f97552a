"""A client-side cache of events already read, so they are not sent again.

Stored events never change: a session's event at position p stays the same
until the session is deleted or expires, and a re-created session gets a new
incarnation token. So events keyed by (session, incarnation, position) can be
kept in the process, and ``get_session`` only needs the server to send the
positions the cache lacks.

Callers must never share an object with the cache or with each other, so the
cache hands out copies. Decoding JSON costs ~20-50 us per event and
``copy.deepcopy`` (ADK's fast version) ~13 us; a copier compiled for one
cached event duplicates only its containers and models, field by field,
sharing immutable leaves, in ~5 us. An event read once is kept as its JSON
bytes (no extra cost on the cold path); it is decoded and gets a copier the
second time it is read.
"""

from __future__ import annotations

import copy
import enum
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.adk.events.event import Event
from pydantic import BaseModel

__all__ = ["EventCache", "compile_copier"]

Copier = Callable[[Any], Any]

_ATOMIC = frozenset({type(None), bool, int, float, str, bytes})
_new_object = object.__new__
_set_attribute = object.__setattr__


def _container_copier(kind: type[Any], subs: list[tuple[Any, Copier]]) -> Copier:
    if not subs:
        return kind.copy  # type: ignore[no-any-return]

    def copy_container(value: Any) -> Any:
        new = value.copy()
        for key, copier in subs:
            new[key] = copier(value[key])
        return new

    return copy_container


def _model_copier(
    cls: type[BaseModel],
    subs: list[tuple[str, Copier]],
    extra: Copier | None,
    private: Copier | None,
) -> Copier:
    def copy_model(value: Any) -> Any:
        new = _new_object(cls)
        fields = value.__dict__.copy()
        for name, copier in subs:
            fields[name] = copier(fields[name])
        _set_attribute(new, "__dict__", fields)
        _set_attribute(
            new, "__pydantic_fields_set__", set(value.__pydantic_fields_set__)
        )
        extra_value = value.__pydantic_extra__
        _set_attribute(
            new, "__pydantic_extra__", extra(extra_value) if extra else extra_value
        )
        private_value = value.__pydantic_private__
        _set_attribute(
            new,
            "__pydantic_private__",
            private(private_value) if private else private_value,
        )
        return new

    return copy_model


def compile_copier(value: Any) -> Copier | None:
    """Returns a function that deep-copies objects shaped exactly like ``value``.

    Args:
        value: The object the copier is built for (its structure is fixed).

    Returns:
        ``None`` when ``value`` is immutable (share it), else a copier.
        Anything not a plain model, list or dict falls back to
        ``copy.deepcopy``.
    """
    cls = type(value)
    if cls in _ATOMIC or isinstance(value, enum.Enum):
        return None
    if cls is list or cls is dict:
        items = enumerate(value) if cls is list else value.items()
        subs = [(key, c) for key, item in items if (c := compile_copier(item))]
        return _container_copier(cls, subs)
    if isinstance(value, BaseModel):
        model_subs = [
            (name, c)
            for name, item in value.__dict__.items()
            if (c := compile_copier(item))
        ]
        # Extra fields and private attributes are None or plain dicts.
        return _model_copier(
            cls,
            model_subs,
            compile_copier(value.__pydantic_extra__),
            compile_copier(value.__pydantic_private__),
        )
    return copy.deepcopy


@dataclass
class _Window:
    """Cached events of one session: positions ``lo`` .. ``lo + len - 1``."""

    incarnation: str
    lo: int
    # Each entry is raw JSON (read once) or (event, copier) (read again).
    entries: list[bytes | str | tuple[Event, Copier]] = field(default_factory=list)

    @property
    def hi(self) -> int:
        return self.lo + len(self.entries)


class EventCache:
    """A bounded LRU of per-session event windows.

    Args:
        max_events: Upper bound on events kept over all sessions; the least
            recently used sessions are dropped first. 0 disables the cache.
    """

    def __init__(self, max_events: int) -> None:
        if max_events < 0:
            raise ValueError("event cache size must be >= 0")
        self.max_events = max_events
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._size = 0

    def window(self, key: str) -> tuple[str, int, int]:
        """Returns ``(incarnation, lo, hi)`` cached for ``key``, or ``("", 0, 0)``."""
        found = self._windows.get(key)
        if found is None:
            return "", 0, 0
        return found.incarnation, found.lo, found.hi

    def covers(self, key: str, incarnation: str, start: int, stop: int) -> bool:
        """Whether positions ``start`` .. ``stop - 1`` of that incarnation are here."""
        win = self._windows.get(key)
        return (
            win is not None
            and win.incarnation == incarnation
            and win.lo <= start
            and stop <= win.hi
        )

    def take(self, key: str, start: int, stop: int) -> list[Event]:
        """Returns copies of cached positions ``start`` .. ``stop - 1``.

        The caller must have checked (via ``covers``) that they are cached.
        """
        win = self._windows[key]
        self._windows.move_to_end(key)
        events: list[Event] = []
        for index in range(start - win.lo, stop - win.lo):
            entry = win.entries[index]
            if isinstance(entry, tuple):
                cached, copier = entry
            else:
                cached = Event.model_validate_json(entry)
                copier = compile_copier(cached) or copy.deepcopy
                win.entries[index] = (cached, copier)
            events.append(copier(cached))
        return events

    def put(
        self, key: str, incarnation: str, start: int, raw: list[bytes | str]
    ) -> None:
        """Records raw event JSON for positions ``start`` .. onwards.

        Extends the session's window when contiguous with it, else replaces it.
        """
        if self.max_events == 0 or not raw:
            return
        win = self._windows.get(key)
        if (
            win is not None
            and win.incarnation == incarnation
            and win.lo <= start <= win.hi
        ):
            # Contiguous, or overlapping when a concurrent read got some first.
            raw = raw[win.hi - start :]
        else:
            self.drop(key)
            win = self._windows[key] = _Window(incarnation, start)
        win.entries.extend(raw)
        self._size += len(raw)
        self._windows.move_to_end(key)
        self._evict()

    def append(self, key: str, incarnation: str, position: int, raw: str) -> None:
        """Records one just-appended event if it extends the session's window."""
        win = self._windows.get(key)
        if win is not None and win.incarnation == incarnation and win.hi == position:
            self.put(key, incarnation, position, [raw])

    def drop(self, key: str) -> None:
        """Forgets a session's events (deleted, re-created or re-ordered)."""
        win = self._windows.pop(key, None)
        if win is not None:
            self._size -= len(win.entries)

    def _evict(self) -> None:
        while self._size > self.max_events and self._windows:
            key, win = next(iter(self._windows.items()))
            excess = self._size - self.max_events
            if key == next(reversed(self._windows)) and excess < len(win.entries):
                # The most recent session alone is too big: keep its tail.
                del win.entries[:excess]
                win.lo += excess
                self._size -= excess
                return
            self.drop(key)

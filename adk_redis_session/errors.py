"""Errors raised by adk-redis-session.

Where ADK defines the situation, ADK's own error types are raised unchanged
(``AlreadyExistsError``, ``SessionNotFoundError``, ``StaleSessionError``), so
code written against ``DatabaseSessionService`` keeps working. Everything else
derives from one base class::

    RedisSessionError
    ├── StoreUnavailableError   (also ConnectionError) Redis unreachable/timing out
    ├── CorruptedDataError      (also ValueError) a stored value cannot be decoded
    ├── EventIdConflictError    (also ValueError) same event id, different content
    └── EventTooLargeError      (also ValueError) an event over max_event_bytes
"""

from __future__ import annotations

__all__ = [
    "CorruptedDataError",
    "EventIdConflictError",
    "EventTooLargeError",
    "RedisSessionError",
    "StoreUnavailableError",
]


class RedisSessionError(Exception):
    """Base class of the errors this package defines."""


class StoreUnavailableError(RedisSessionError, ConnectionError):
    """Redis could not be reached or did not answer in time.

    The message names the server as ``host:port`` and never a password.
    """


class CorruptedDataError(RedisSessionError, ValueError):
    """A stored value could not be decoded; the message names the session."""


class EventIdConflictError(RedisSessionError, ValueError):
    """An event id is already stored in the session with different content.

    Re-appending an identical event is a no-op (a retry after a lost reply);
    a different event under an id that is already used is rejected, as
    ``DatabaseSessionService`` rejects it through its primary key.
    """


class EventTooLargeError(RedisSessionError, ValueError):
    """An event's JSON is larger than the service's ``max_event_bytes``.

    Raised by ``append_event`` before any I/O: nothing is written, and the
    session object is left as it was.
    """

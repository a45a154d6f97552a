"""Behaviour every service here shares: closing, and adding whole sessions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType

from google.adk.events.event import Event
from google.adk.sessions.session import Session
from typing_extensions import Self

__all__ = ["AsyncClosing", "MemoryFromSessions"]


class AsyncClosing:
    """Mixin: ``async with service:`` awaits ``service.aclose()`` on exit."""

    async def aclose(self) -> None:
        """Releases what the service owns; implemented by each service."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class MemoryFromSessions:
    """Mixin: ``add_session_to_memory`` as a delta of all the session's events.

    Memory ids derive from (session id, event id), so adding a session again,
    or after it grew, stores each event once.
    """

    async def add_events_to_memory(
        self,
        *,
        app_name: str,
        user_id: str,
        events: Sequence[Event],
        session_id: str | None = None,
        custom_metadata: Mapping[str, object] | None = None,
    ) -> None:
        """Adds events; implemented by each memory service."""
        raise NotImplementedError

    async def add_session_to_memory(self, session: Session) -> None:
        """Adds a session's events; events already stored are not stored again.

        Args:
            session: The session; call again whenever it grew.
        """
        await self.add_events_to_memory(
            app_name=session.app_name,
            user_id=session.user_id,
            events=session.events,
            session_id=session.id,
        )

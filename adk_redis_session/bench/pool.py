"""Sessions with a given history length, planned up front and built once.

Measuring a write at "history 100" would drift if one session took every
append, so each session may grow by at most `slack_for` events past its
nominal history (10 %, at least 2) before the pool hands out another one.
The runner first `reserve`s every operation of a backend (all workloads,
loopback and delayed, plus round-trip counting), then `build`s the sessions
those need in one batch through the backend's own ``create_session`` /
``append_event``, timed as setup and never counted in the results.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass, field

from google.adk.sessions.base_session_service import BaseSessionService

from .events import Conversation

__all__ = ["SessionPool", "SessionRef", "slack_for"]


def slack_for(history: int) -> int:
    """How many events a session of `history` events may gain while in use."""
    return max(2, history // 10)


@dataclass(eq=False)
class SessionRef:
    """One benchmark session: its ids, event stream and bookkeeping.

    Attributes:
        planned: Events the session will hold once every reserved operation
            has run (its history plus reserved appends).
        built: Whether its history has been written.
    """

    app_name: str
    user_id: str
    session_id: str
    history: int
    conversation: Conversation = field(repr=False)
    planned: int = 0
    built: bool = False


class SessionPool:
    """Plans and builds the sessions of one store (one backend).

    Args:
        app_name: The app every session belongs to (unique per run).
        parallel: How many sessions to build at once.
    """

    def __init__(self, app_name: str, *, parallel: int = 8) -> None:
        self.app_name = app_name
        self.parallel = max(1, parallel)
        self.setup_s = 0.0
        self.built_events = 0
        self.refs: list[SessionRef] = []
        self._lendable: dict[int, list[SessionRef]] = {}

    def _new(self, history: int, tag: str) -> SessionRef:
        key = f"{tag}{history}-{len(self.refs) + 1}"
        ref = SessionRef(
            app_name=self.app_name,
            user_id=f"user-{key}",
            session_id=f"session-{key}",
            history=history,
            conversation=Conversation(zlib.crc32(key.encode())),
            planned=history,
        )
        self.refs.append(ref)
        return ref

    def dedicated(self, history: int, count: int, tag: str) -> list[SessionRef]:
        """Plans `count` sessions that are never lent to other workloads.

        Args:
            history: Events each session starts with.
            count: How many sessions.
            tag: A label in their ids (e.g. ``"c"`` for concurrency).
        """
        return [self._new(history, tag) for _ in range(count)]

    def reserve(self, history: int, ops: int, events_per_op: int) -> list[SessionRef]:
        """Plans one session per operation.

        Consecutive operations share a session until its slack is used up,
        like consecutive turns of one conversation. Read-only operations
        (``events_per_op=0``) all use one session.

        Args:
            history: The nominal history length.
            ops: How many operations.
            events_per_op: Events each operation appends.
        """
        if ops <= 0:
            return []
        lendable = self._lendable.setdefault(history, [])
        if events_per_op == 0:
            if not lendable:
                lendable.append(self._new(history, "h"))
            return [lendable[0]] * ops
        if events_per_op > slack_for(history):
            raise ValueError(f"{events_per_op} events exceed the slack at {history}")
        limit = history + slack_for(history)
        plan: list[SessionRef] = []

        def take(ref: SessionRef) -> None:
            count = min((limit - ref.planned) // events_per_op, ops - len(plan))
            if count > 0:
                ref.planned += count * events_per_op
                plan.extend([ref] * count)

        for ref in lendable:
            take(ref)
        while len(plan) < ops:
            ref = self._new(history, "h")
            lendable.append(ref)
            take(ref)
        return plan

    async def build(self, service: BaseSessionService) -> tuple[int, int]:
        """Writes the history of every planned session not built yet.

        Args:
            service: The backend to build through (its own append_event).

        Returns:
            How many sessions and events were written.
        """
        todo = [ref for ref in self.refs if not ref.built]
        gate = asyncio.Semaphore(self.parallel)

        async def build_one(ref: SessionRef) -> None:
            async with gate:
                session = await service.create_session(
                    app_name=ref.app_name,
                    user_id=ref.user_id,
                    session_id=ref.session_id,
                )
                for _ in range(ref.history):
                    await service.append_event(
                        session, ref.conversation.history_event()
                    )
                ref.built = True

        start = time.perf_counter()
        await asyncio.gather(*(build_one(ref) for ref in todo))
        self.setup_s += time.perf_counter() - start
        events = sum(ref.history for ref in todo)
        self.built_events += events
        return len(todo), events

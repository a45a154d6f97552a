"""The benchmark's workloads and the loops that time them.

Every workload is the same sequence of service calls on every backend:

* ``chat_turn``: ``get_session`` (full history), then ``append_event`` of a
  user message and of a model reply carrying session and ``user:`` deltas,
  through the session object just read.
* ``append``: ``append_event`` of one model reply, through a session object
  read before timing.
* ``recent``: ``get_session(num_recent_events=20)``.
* ``concurrent``: one coroutine per session, all appending model replies at
  once (`measure_concurrent`).

Only the service calls are timed (``time.perf_counter``); events are built
before the clock starts. Each session is read once, untimed, when a
measurement first uses it, so every timed chat turn is a follow-up turn of a
conversation this process already served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.adk.errors import StaleSessionError
from google.adk.events.event import Event
from google.adk.sessions.base_session_service import (
    BaseSessionService,
    GetSessionConfig,
)
from google.adk.sessions.session import Session

from .counting import CountingProxy
from .pool import SessionRef

__all__ = [
    "RECENT_EVENTS",
    "WORKLOADS",
    "Measurement",
    "Workload",
    "count_round_trips",
    "measure",
    "measure_concurrent",
]

RECENT_EVENTS = 20


async def load(
    service: BaseSessionService,
    ref: SessionRef,
    config: GetSessionConfig | None = None,
) -> Session:
    """Reads a benchmark session, which must exist."""
    session = await service.get_session(
        app_name=ref.app_name,
        user_id=ref.user_id,
        session_id=ref.session_id,
        config=config,
    )
    if session is None:
        raise RuntimeError(f"benchmark session {ref.session_id} vanished")
    return session


@dataclass(frozen=True)
class Workload:
    """One kind of operation.

    Attributes:
        key: Short name used in results (``chat_turn``, ``append``, ...).
        title: Human name for tables and progress.
        events_per_op: Events one operation appends.
    """

    key: str
    title: str
    events_per_op: int

    def payload(self, ref: SessionRef) -> tuple[Event, ...]:
        """The events the next operation on `ref` appends (built untimed)."""
        if self.key == "chat_turn":
            return ref.conversation.chat_turn()
        if self.events_per_op:
            return (ref.conversation.model_reply(),)
        return ()

    async def run(
        self,
        service: BaseSessionService,
        ref: SessionRef,
        session: Session,
        events: tuple[Event, ...],
    ) -> Session:
        """Performs one operation (the timed part); returns the session used."""
        if self.key == "chat_turn":
            session = await load(service, ref)
            for event in events:
                await service.append_event(session, event)
            return session
        if self.key == "recent":
            await load(service, ref, GetSessionConfig(num_recent_events=RECENT_EVENTS))
            return session
        for event in events:
            await service.append_event(session, event)
        return session


CHAT_TURN = Workload("chat_turn", "chat turn", 2)
APPEND = Workload("append", "append_event", 1)
RECENT = Workload("recent", f"get_session(num_recent_events={RECENT_EVENTS})", 0)
CONCURRENT = Workload("concurrent", "concurrent append_event", 1)
WORKLOADS = {w.key: w for w in (CHAT_TURN, APPEND, RECENT, CONCURRENT)}


@dataclass
class Measurement:
    """The timed part of one workload run.

    Attributes:
        latencies_ms: One entry per successful timed operation.
        wall_s: Wall time of the timed part.
        errors: Operations that raised (other than a stale session).
        stale_reloads: Times a StaleSessionError made an operation reload
            its session and retry.
        first_error: The first error's type and message.
    """

    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: int = 0
    stale_reloads: int = 0
    first_error: str | None = None

    def record_error(self, exc: BaseException) -> None:
        """Counts an error, keeping the first one's description."""
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"[:500]

    def merge(self, other: Measurement) -> None:
        """Adds another measurement's samples and counters to this one."""
        self.latencies_ms.extend(other.latencies_ms)
        self.errors += other.errors
        self.stale_reloads += other.stale_reloads
        if self.first_error is None:
            self.first_error = other.first_error


async def _one_op(
    service: BaseSessionService,
    workload: Workload,
    ref: SessionRef,
    session: Session,
    out: Measurement,
    *,
    timed: bool,
) -> Session:
    """Runs one operation, retrying after a reload on StaleSessionError."""
    events = workload.payload(ref)
    start = time.perf_counter()
    for attempt in range(3):
        try:
            session = await workload.run(service, ref, session, events)
        except StaleSessionError as exc:
            out.stale_reloads += 1
            if attempt == 2:
                out.record_error(exc)
                return session
            session = await load(service, ref)
            continue
        except Exception as exc:
            out.record_error(exc)
            return session
        break
    if timed:
        out.latencies_ms.append((time.perf_counter() - start) * 1000.0)
    return session


async def measure(
    service: BaseSessionService,
    workload: Workload,
    plan: Sequence[SessionRef],
    warmup: int,
) -> Measurement:
    """Runs `plan` (one session per operation) one operation at a time.

    Args:
        service: The backend.
        workload: What each operation does.
        plan: The session of each operation, warm-up operations first.
        warmup: How many leading operations run untimed.
    """
    out = Measurement()
    current: SessionRef | None = None
    session: Session | None = None
    wall_start = 0.0
    for index, ref in enumerate(plan):
        if index == warmup:
            wall_start = time.perf_counter()
        if ref is not current or session is None:
            current, session = ref, await load(service, ref)  # untimed
        session = await _one_op(
            service, workload, ref, session, out, timed=index >= warmup
        )
    out.wall_s = time.perf_counter() - wall_start if len(plan) > warmup else 0.0
    return out


async def measure_concurrent(
    service: BaseSessionService,
    refs: Sequence[SessionRef],
    ops_per_worker: int,
    warmup: int,
) -> Measurement:
    """One coroutine per session, all appending at once.

    Every coroutine first appends `warmup` events untimed (so connection
    pools are full), then all start the timed part together.

    Args:
        service: The backend.
        refs: The sessions; one writer each.
        ops_per_worker: Timed appends per coroutine.
        warmup: Untimed appends per coroutine before the timed part.
    """
    # Read one at a time: this is setup, and a burst of reads is not the
    # workload (ADK's built-in Redis service opens three connections per read).
    sessions = [await load(service, ref) for ref in refs]
    scratch = Measurement()

    async def worker(slot: int, count: int, out: Measurement, timed: bool) -> None:
        ref = refs[slot]
        for _ in range(count):
            sessions[slot] = await _one_op(
                service, CONCURRENT, ref, sessions[slot], out, timed=timed
            )

    await asyncio.gather(*(worker(i, warmup, scratch, False) for i in range(len(refs))))
    out = Measurement()
    start = time.perf_counter()
    await asyncio.gather(
        *(worker(i, ops_per_worker, out, True) for i in range(len(refs)))
    )
    out.wall_s = time.perf_counter() - start
    out.stale_reloads += scratch.stale_reloads
    out.errors += scratch.errors
    out.first_error = out.first_error or scratch.first_error
    return out


async def count_round_trips(
    proxy: CountingProxy,
    service: BaseSessionService,
    workload: Workload,
    plan: Sequence[SessionRef],
) -> int | None:
    """Counts the round trips of one operation through `proxy`.

    Runs ``plan[0]`` untimed as a warm-up (connections opened, scripts
    loaded), reads ``plan[1]``'s session, then counts only ``plan[1]``.

    Returns:
        The round trips, or None when an operation failed.
    """
    if len(plan) != 2:
        raise ValueError("count_round_trips needs two operations")
    out = Measurement()
    session = await load(service, plan[0])
    session = await _one_op(service, workload, plan[0], session, out, timed=False)
    if plan[1] is not plan[0]:
        session = await load(service, plan[1])
    proxy.reset()
    await _one_op(service, workload, plan[1], session, out, timed=False)
    counted = proxy.reset().round_trips
    return None if out.errors or out.stale_reloads else counted

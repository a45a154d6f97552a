"""Shared pieces of the fault tests: events, ledgers and the store audit.

Every writer keeps a `Ledger` of what it attempted and what the service
told it. After the faults, `audit_session` reads a session's keys directly
(never through the service under test) and checks their internal
consistency; `reconcile` compares what is stored with the ledgers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.genai import types

from adk_redis_session._keys import KeySchema

APP = "faults-app"
USER = "faults-user"


def make_event(tag: str, seq: int, **state_delta: Any) -> Event:
    """An event with a readable, unique id ``<tag>-<seq>``."""
    return Event(
        id=f"{tag}-{seq:05d}",
        invocation_id=f"inv-{tag}",
        author="agent",
        content=types.Content(role="model", parts=[types.Part(text=f"{tag} #{seq}")]),
        actions=EventActions(state_delta=dict(state_delta)),
    )


def seq_of(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


def tag_of(event_id: str) -> str:
    return event_id.rsplit("-", 1)[0]


@dataclass
class Ledger:
    """What one writer attempted and what the service answered."""

    tag: str
    attempted: list[str] = field(default_factory=list)
    #: append_event returned normally.
    succeeded: set[str] = field(default_factory=set)
    #: Raised at least once (and may have succeeded on a later retry).
    raised: set[str] = field(default_factory=set)
    #: Given up after errors: may or may not be stored, never twice.
    abandoned: set[str] = field(default_factory=set)
    errors: Counter[str] = field(default_factory=Counter)
    retries: int = 0


async def audit_session(
    client: aioredis.Redis, prefix: str, app: str, user: str, session_id: str
) -> list[str]:
    """Returns the stored event ids in LIST (append) order.

    Asserts the session's keys agree with each other: as many events as the
    revision says, each id once in the list, the id index and the timestamp
    index, and no index entry without its event.
    """
    keys = KeySchema(prefix).session(app, user, session_id)
    raw = await client.lrange(keys.events, 0, -1)
    ids = [json.loads(item)["id"] for item in raw]
    rev = int(await client.hget(keys.meta, "rev"))
    indexed = {k.decode() for k in await client.hkeys(keys.ids)}
    timed = {m.decode() for m in await client.zrange(keys.ts, 0, -1)}
    where = f"session {session_id!r}"
    assert len(ids) == rev, f"{where}: {len(ids)} events but revision {rev}"
    assert len(set(ids)) == len(ids), f"{where}: duplicate events in the list"
    assert indexed == set(ids), f"{where}: id index differs from the list"
    assert timed == set(ids), f"{where}: timestamp index differs from the list"
    return ids


@dataclass
class Reconciliation:
    stored: int
    succeeded: int
    lost: set[str]
    duplicated: int
    unknown: set[str]
    abandoned_stored: int
    abandoned_missing: int

    def assert_clean(self) -> None:
        assert not self.lost, f"acknowledged but not stored: {sorted(self.lost)}"
        assert self.duplicated == 0, f"{self.duplicated} events stored twice"
        assert not self.unknown, f"stored but never sent: {sorted(self.unknown)}"


def reconcile(
    stored_lists: Iterable[list[str]], ledgers: list[Ledger]
) -> Reconciliation:
    """Compares stored event ids with what the writers were told."""
    all_stored = [event_id for ids in stored_lists for event_id in ids]
    stored = set(all_stored)
    attempted = {e for ledger in ledgers for e in ledger.attempted}
    succeeded = {e for ledger in ledgers for e in ledger.succeeded}
    abandoned = {e for ledger in ledgers for e in ledger.abandoned}
    return Reconciliation(
        stored=len(all_stored),
        succeeded=len(succeeded),
        lost=succeeded - stored,
        duplicated=len(all_stored) - len(stored),
        unknown=stored - attempted,
        abandoned_stored=len(abandoned & stored),
        abandoned_missing=len(abandoned - stored),
    )


def assert_writer_order(ids: list[str]) -> None:
    """Each writer's events appear in the order that writer sent them."""
    last: dict[str, int] = {}
    for event_id in ids:
        tag, seq = tag_of(event_id), seq_of(event_id)
        assert seq > last.get(tag, -1), f"{event_id} stored after a later event"
        last[tag] = seq

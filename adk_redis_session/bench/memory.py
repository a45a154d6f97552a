"""Latency benchmark of RedisMemoryService: search and ingestion.

Run ``python -m adk_redis_session.bench.memory`` (starts its own
redis-server on a free loopback port) or pass ``--url`` to use a server you
run; then only keys under a fresh prefix are written, and deleted at the end.

Scenarios (synthetic text: words drawn from a Zipf distribution over a
20,000-word vocabulary, 8 to 30 words per memory, plus English function
words; queries of 2 to 4 words drawn the same way):

* ingest: one user's memories added 100 events per call (memories/s), and
  single-event deltas (the per-turn ``add_events_to_memory``), p50;
* search, one user holding ``--memories`` memories;
* search, ``--users`` users holding ``--per-user`` memories each, each query
  for a random user;
* search for the most common word (the longest posting list): the worst case.

Every search goes through ``search_memory`` over the network: tokenizing,
one EVALSHA, decoding the top 10.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import functools
import itertools
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.genai import types

from .._memory_keys import MemoryKeySchema
from ..memory_service import RedisMemoryService
from ..testing import LocalRedisServer

__all__ = ["main"]

_APP = "bench"
_FUNCTION_WORDS = ("the", "a", "to", "of", "and", "in", "is", "it", "for", "with", "my")


class _Text:
    """Deterministic synthetic text: Zipf-distributed pseudo-words."""

    def __init__(self, seed: int, vocabulary: int = 20_000) -> None:
        self._rng = random.Random(seed)
        syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
        words: set[str] = set()
        while len(words) < vocabulary:
            count = self._rng.randint(2, 4)
            words.add("".join(self._rng.choice(syllables) for _ in range(count)))
        self.words = sorted(words)
        self._rng.shuffle(self.words)
        weights = [1 / (rank**1.07) for rank in range(1, vocabulary + 1)]
        self._cumulative = list(itertools.accumulate(weights))

    def word(self) -> str:
        point = self._rng.random() * self._cumulative[-1]
        return self.words[bisect.bisect(self._cumulative, point)]

    def sentence(self) -> str:
        out = []
        for _ in range(self._rng.randint(8, 30)):
            if self._rng.random() < 0.3:
                out.append(self._rng.choice(_FUNCTION_WORDS))
            else:
                out.append(self.word())
        return " ".join(out)

    def query(self) -> str:
        return " ".join(self.word() for _ in range(self._rng.randint(2, 4)))


def _event(text: str, timestamp: float) -> Event:
    return Event(
        author="user",
        invocation_id="bench",
        timestamp=timestamp,
        content=types.Content(role="user", parts=[types.Part(text=text)]),
    )


@dataclass
class _Row:
    scenario: str
    n: int
    p50_ms: float
    p95_ms: float
    note: str = ""


async def _timed(calls: Sequence[Callable[[], Awaitable[object]]]) -> list[float]:
    """Runs calls one after another; returns each one's latency in ms."""
    latencies = []
    for call in calls:
        start = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def _row(scenario: str, latencies: list[float], note: str = "") -> _Row:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return _Row(scenario, len(ordered), statistics.median(ordered), p95, note)


async def _ingest(
    memory: RedisMemoryService,
    text: _Text,
    user: str,
    count: int,
    clock: float,
    per_call: int = 100,
) -> float:
    """Adds ``count`` memories for ``user``; returns memories per second."""
    events = [_event(text.sentence(), clock + i) for i in range(count)]
    start = time.perf_counter()
    for i in range(0, count, per_call):
        await memory.add_events_to_memory(
            app_name=_APP,
            user_id=user,
            events=events[i : i + per_call],
            session_id=f"s{i // 1000}",
        )
    return count / (time.perf_counter() - start)


def _search_calls(
    memory: RedisMemoryService, users: list[str], queries: list[str], seed: int
) -> Sequence[Callable[[], Awaitable[object]]]:
    rng = random.Random(seed)
    return [
        functools.partial(
            memory.search_memory, app_name=_APP, user_id=rng.choice(users), query=q
        )
        for q in queries
    ]


async def run(
    client: aioredis.Redis,
    *,
    memories: int,
    users: int,
    per_user: int,
    queries: int,
    seed: int,
) -> list[_Row]:
    """Runs every scenario under a fresh key prefix; returns the table rows."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    memory = RedisMemoryService(client=client, key_prefix=prefix)
    text = _Text(seed)
    rows: list[_Row] = []
    try:
        clock = 1_767_225_600.0
        used_before = (await client.info("memory"))["used_memory"]
        rate = await _ingest(memory, text, "solo", memories, clock)
        used = (await client.info("memory"))["used_memory"] - used_before
        deltas = [
            functools.partial(
                memory.add_events_to_memory,
                app_name=_APP,
                user_id="solo",
                events=[_event(text.sentence(), clock + memories + i)],
                session_id="delta",
            )
            for i in range(200)
        ]
        rows.append(
            _row(
                "ingest: 1 event per call",
                await _timed(deltas),
                f"batches of 100: {rate:,.0f} memories/s; "
                f"~{used / memories:,.0f} bytes/memory in Redis",
            )
        )
        query_texts = [text.query() for _ in range(queries)]
        await _timed(_search_calls(memory, ["solo"], query_texts[:20], seed))  # warm
        rows.append(
            _row(
                f"search: 1 user, {memories:,} memories",
                await _timed(_search_calls(memory, ["solo"], query_texts, seed)),
            )
        )
        common = text.words[0]
        [posting] = MemoryKeySchema(prefix).postings(_APP, "solo", [common])
        rows.append(
            _row(
                "search: most common word (worst case)",
                await _timed(
                    _search_calls(memory, ["solo"], [common] * (queries // 4), seed)
                ),
                f"posting list of {await client.hlen(posting):,} memories",
            )
        )
        crowd = [f"user{i}" for i in range(users)]
        start = time.perf_counter()
        for n, user in enumerate(crowd):
            await _ingest(memory, text, user, per_user, clock + n, per_call=per_user)
        crowd_rate = users * per_user / (time.perf_counter() - start)
        rows.append(
            _row(
                f"search: {users:,} users x {per_user} memories",
                await _timed(_search_calls(memory, crowd, query_texts, seed + 1)),
                f"ingest {crowd_rate:,.0f} memories/s ({per_user} per call)",
            )
        )
    finally:
        await memory.aclose()
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.unlink(key)
    return rows


def _table(rows: list[_Row]) -> str:
    lines = [
        "| scenario | calls | p50 ms | p95 ms | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.scenario} | {r.n} | {r.p50_ms:.2f} | {r.p95_ms:.2f} | {r.note} |"
        for r in rows
    ]
    return "\n".join(lines)


@asynccontextmanager
async def _client(url: str | None) -> AsyncIterator[aioredis.Redis]:
    if url is not None:
        client = aioredis.Redis.from_url(url)
        try:
            yield client
        finally:
            await client.aclose()
        return
    with LocalRedisServer() as server:
        client = aioredis.Redis.from_url(server.url)
        try:
            yield client
        finally:
            await client.aclose()


async def _main(args: argparse.Namespace) -> None:
    async with _client(args.url) as client:
        server = (await client.info("server")).get("redis_version", "?")
        rows = await run(
            client,
            memories=args.memories,
            users=args.users,
            per_user=args.per_user,
            queries=args.queries,
            seed=args.seed,
        )
    print(f"RedisMemoryService latency (server {server}, loopback, one client)")
    print(_table(rows))


def main(argv: list[str] | None = None) -> None:
    """Parses arguments and prints the latency table."""
    parser = argparse.ArgumentParser(prog="adk-redis-session bench-memory")
    parser.add_argument("--url", help="an existing server (default: start one)")
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()

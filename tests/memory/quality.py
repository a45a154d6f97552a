"""Search quality on the fixed corpus: ours vs ADK's in-memory and SQLite services.

Every service gets the same sessions (five memories each, one event per
memory, timestamps ten minutes apart) through ``add_session_to_memory`` and
answers the same 53 queries. Metrics, averaged over queries:

* P@5: relevant memories among the first five results, divided by 5.
* R@10: relevant memories among the first ten, divided by all relevant ones.
* MRR: 1 / rank of the first relevant result (0 if none in the results).

Run ``.venv/bin/python -m tests.memory.quality`` for the table in
docs/memory.md (it starts its own redis-server, and a PostgreSQL for the
``PostgresMemoryService`` row when its binaries are installed);
``test_quality.py`` checks the same numbers in the test suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.memory import InMemoryMemoryService
from google.adk.memory.base_memory_service import BaseMemoryService
from google.adk.sessions.session import Session
from google.genai import types

from adk_redis_session.bench.servers import LocalPostgres, postgres_bin_dir
from adk_redis_session.memory_service import RedisMemoryService
from adk_redis_session.pg_memory_service import PostgresMemoryService
from adk_redis_session.testing import LocalRedisServer

from .corpus import MEMORIES, QUERIES, Query

APP = "quality"
SESSION_SIZE = 5
BASE_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z
STEP = 600.0


def sessions() -> list[Session]:
    """The corpus as ADK sessions, in a fixed order."""
    out: list[Session] = []
    clock = BASE_TIME
    for user, memories in MEMORIES.items():
        for start in range(0, len(memories), SESSION_SIZE):
            events = []
            for memory in memories[start : start + SESSION_SIZE]:
                clock += STEP
                role = "user" if memory.author == "user" else "model"
                events.append(
                    Event(
                        id=memory.id,
                        invocation_id=f"inv-{memory.id}",
                        author=memory.author,
                        timestamp=clock,
                        content=types.Content(
                            role=role, parts=[types.Part(text=memory.text)]
                        ),
                    )
                )
            out.append(
                Session(
                    id=f"{user}-s{start // SESSION_SIZE}",
                    app_name=APP,
                    user_id=user,
                    events=events,
                )
            )
    return out


@dataclass(frozen=True)
class Scores:
    p5: float
    r10: float
    mrr: float
    queries: int


def score_query(ranked: list[str], relevant: frozenset[str]) -> tuple[float, ...]:
    p5 = len(set(ranked[:5]) & relevant) / 5
    r10 = len(set(ranked[:10]) & relevant) / len(relevant)
    rr = next((1 / i for i, m in enumerate(ranked, 1) if m in relevant), 0.0)
    return p5, r10, rr


def mean_scores(rows: list[tuple[float, ...]]) -> Scores:
    return Scores(
        p5=statistics.fmean(r[0] for r in rows),
        r10=statistics.fmean(r[1] for r in rows),
        mrr=statistics.fmean(r[2] for r in rows),
        queries=len(rows),
    )


async def ranked_ids(service: BaseMemoryService, query: Query) -> list[str]:
    """Corpus ids of the results, best first (event id, whatever the memory id)."""
    response = await service.search_memory(
        app_name=APP, user_id=query.user, query=query.text
    )
    return [
        str(memory.custom_metadata.get("event_id") or memory.id)
        for memory in response.memories
    ]


Subset = Callable[[Query], bool]

SUBSETS: dict[str, Subset] = {
    "all": lambda q: True,
    "keyword": lambda q: q.kind == "keyword",
    "question": lambda q: q.kind == "question",
    "CJK": lambda q: not q.text.isascii() and q.user == "chen",
}


async def evaluate(service: BaseMemoryService) -> dict[str, Scores]:
    """Ingests the corpus into ``service`` and scores every query subset."""
    for session in sessions():
        await service.add_session_to_memory(session)
    rows = {q: score_query(await ranked_ids(service, q), q.relevant) for q in QUERIES}
    return {
        name: mean_scores([row for q, row in rows.items() if keep(q)])
        for name, keep in SUBSETS.items()
    }


async def evaluate_all(
    client: aioredis.Redis, key_prefix: str, pg_url: str | None = None
) -> dict[str, dict[str, Scores]]:
    """Scores ours, ADK's InMemoryMemoryService and ADK's SqliteMemoryService.

    ``PostgresMemoryService`` too when ``pg_url`` is given (its tables are
    named by ``key_prefix``).
    """
    from google.adk.memory import SqliteMemoryService

    results: dict[str, dict[str, Scores]] = {}
    async with AsyncExitStack() as stack:
        ours = RedisMemoryService(client=client, key_prefix=key_prefix)
        stack.push_async_callback(ours.aclose)
        sqlite = SqliteMemoryService(":memory:")
        stack.push_async_callback(sqlite.close)
        services: dict[str, BaseMemoryService] = {
            "RedisMemoryService (ours)": ours,
            "SqliteMemoryService (FTS5 BM25)": sqlite,
            "InMemoryMemoryService": InMemoryMemoryService(),
        }
        if pg_url is not None:
            pg = PostgresMemoryService(db_url=pg_url, table_prefix=key_prefix)
            stack.push_async_callback(pg.aclose)
            first, *rest = services.items()
            services = dict([first, ("PostgresMemoryService (ours)", pg), *rest])
        for name, service in services.items():
            results[name] = await evaluate(service)
    return results


def ceiling() -> Scores:
    """The best possible scores (P@5 is capped when fewer than 5 are relevant)."""
    return mean_scores([(min(5, len(q.relevant)) / 5, 1.0, 1.0) for q in QUERIES])


def table(results: dict[str, dict[str, Scores]]) -> str:
    lines = [
        "| service | P@5 | R@10 | MRR | P@5 keyword | P@5 question | R@10 CJK |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, by_subset in results.items():
        a, k, q, c = (by_subset[s] for s in ("all", "keyword", "question", "CJK"))
        lines.append(
            f"| {name} | {a.p5:.3f} | {a.r10:.3f} | {a.mrr:.3f} | {k.p5:.3f} "
            f"| {q.p5:.3f} | {c.r10:.3f} |"
        )
    best = ceiling()
    lines.append(f"| (ceiling) | {best.p5:.3f} | 1.000 | 1.000 | | | |")
    return "\n".join(lines)


async def _main() -> None:
    with LocalRedisServer() as server, contextlib.ExitStack() as stack:
        pg_url = None
        if postgres_bin_dir() is not None:
            pg_url = stack.enter_context(LocalPostgres(database="quality")).url
        client = aioredis.Redis.from_url(server.url)
        try:
            results = await evaluate_all(
                client, f"quality{uuid.uuid4().hex[:8]}", pg_url
            )
        finally:
            await client.aclose()
    memories = sum(len(m) for m in MEMORIES.values())
    print(f"{memories} memories, {len(MEMORIES)} users, {len(QUERIES)} queries")
    print(table(results))


if __name__ == "__main__":
    asyncio.run(_main())

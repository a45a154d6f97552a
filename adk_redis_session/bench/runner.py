"""Runs the benchmark: servers, backends, setup, timed runs, counting.

Order of a run: measure the delay proxy's own overhead; then for each
backend: open it, warm it up, plan and build every session it will need,
time its loopback runs, count round trips through a `CountingProxy`; then
for each delay, put a `DelayProxy` in front of Redis and PostgreSQL and time
the network backends again through it. Progress goes to `progress` (stderr
by default), one line per timed run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TextIO

from google.adk.sessions.base_session_service import BaseSessionService

from .backends import BACKENDS, POSTGRES, Backend, Endpoints, Opened
from .config import BenchConfig
from .counting import CountingProxy
from .environment import host_port, open_servers, remove_run_data, server_versions
from .events import Conversation
from .gcwatch import GcWatch
from .pool import SessionPool, SessionRef
from .proxy import DelayProxy, measure_proxy_overhead
from .results import BenchRun, Result, SetupInfo
from .stats import summarize
from .workloads import (
    WORKLOADS,
    Measurement,
    count_round_trips,
    measure,
    measure_concurrent,
)

__all__ = ["run_benchmark"]


@dataclass
class _Step:
    """One timed run, planned before any session is built."""

    backend: Backend
    workload: str
    history: int
    delay_ms: float
    ops: int
    plan: list[SessionRef] = field(default_factory=list)

    def describe(self) -> str:
        title = WORKLOADS[self.workload].title
        where = f", +{self.delay_ms:g} ms one-way" if self.delay_ms else ""
        size = f"history {self.history}"
        return f"{title}, {size}{where}, {self.backend.key}"


class _Progress:
    def __init__(self, stream: TextIO | None, total: int) -> None:
        self.stream = stream
        self.total = total
        self.done = 0

    def note(self, message: str) -> None:
        if self.stream is not None:
            print(message, file=self.stream, flush=True)

    def step(self, step: _Step, result: Result) -> None:
        self.done += 1
        if result.p50_ms is None:
            outcome = f"FAILED ({result.first_error})"
        else:
            outcome = (
                f"{result.ops} ops, p50 {result.p50_ms:.2f} ms, "
                f"p99 {result.p99_ms:.2f} ms"
            )
            if result.workload == "concurrent":
                outcome += f", {result.ops_per_s:.0f} appends/s"
            if result.gc_max_pause_ms >= 10:
                outcome += (
                    f" (GC: {result.gc_full_collections} full collections, "
                    f"longest {result.gc_max_pause_ms:.0f} ms)"
                )
            if result.errors:
                outcome += f", {result.errors} errors ({result.first_error})"
        self.note(f"[{self.done}/{self.total}] {step.describe()} ... {outcome}")


def _plan_steps(config: BenchConfig) -> tuple[list[_Step], list[_Step]]:
    """Returns the loopback steps and the delayed steps, in run order."""
    loopback: list[_Step] = []
    delayed: list[_Step] = []
    wanted = set(config.workloads)
    for key in config.backends:
        backend = BACKENDS[key]
        runs: list[tuple[str, int]] = []
        if "chat_turn" in wanted:
            runs += [("chat_turn", h) for h in config.histories]
        if "append" in wanted:
            runs += [("append", h) for h in config.append_at()]
        if "recent" in wanted:
            runs += [("recent", h) for h in config.recent_at()]
        for workload, history in runs:
            ops = config.ops_for(workload, history, delayed=False)
            loopback.append(_Step(backend, workload, history, 0.0, ops))
        if "concurrent" in wanted:
            loopback.append(
                _Step(
                    backend,
                    "concurrent",
                    config.concurrency_history,
                    0.0,
                    config.concurrency_ops,
                )
            )
    if config.network:
        for delay in config.delays_ms:
            for step in loopback:
                if step.backend.has_network and step.workload in (
                    "chat_turn",
                    "append",
                ):
                    ops = config.ops_for(step.workload, step.history, delayed=True)
                    delayed.append(replace(step, delay_ms=delay, ops=ops, plan=[]))
    return loopback, delayed


async def _warm_up(service: BaseSessionService, app_name: str, tag: str) -> None:
    """Creates tables / loads scripts / opens a connection: one of each op."""
    conversation = Conversation(0)
    session = await service.create_session(
        app_name=app_name, user_id="warmup", session_id=f"warmup-{tag}"
    )
    for _ in range(3):
        await service.append_event(session, conversation.history_event())
    await service.get_session(
        app_name=app_name, user_id="warmup", session_id=f"warmup-{tag}"
    )


@contextlib.asynccontextmanager
async def _opened(
    backend: Backend, ends: Endpoints, namespace: str, app_name: str, tag: str
) -> AsyncIterator[Opened]:
    handle = backend.open(ends, namespace)
    try:
        await _warm_up(handle.service, app_name, tag)
        yield handle
    finally:
        await handle.close()


def _result(step: _Step, out: Measurement, config: BenchConfig) -> Result:
    result = Result(
        backend=step.backend.key,
        label=step.backend.label,
        workload=step.workload,
        history=step.history,
        delay_ms=step.delay_ms,
        ops=len(out.latencies_ms),
        wall_s=out.wall_s,
        errors=out.errors,
        stale_reloads=out.stale_reloads,
        first_error=out.first_error,
        latencies_ms=[round(x, 4) for x in out.latencies_ms],
    )
    if step.workload == "concurrent":
        result.concurrency = config.concurrency
    if out.latencies_ms:
        summary = summarize(
            out.latencies_ms,
            wall_s=out.wall_s if step.workload == "concurrent" else None,
        )
        result.p50_ms = summary.p50_ms
        result.p95_ms = summary.p95_ms
        result.p99_ms = summary.p99_ms
        result.mean_ms = summary.mean_ms
        result.ops_per_s = summary.ops_per_s
    return result


async def _run_step(
    service: BaseSessionService, step: _Step, config: BenchConfig
) -> Result:
    gc.collect()  # every run starts without the previous run's garbage
    try:
        with GcWatch() as pauses:
            if step.workload == "concurrent":
                per_worker = -(-step.ops // config.concurrency)
                out = await measure_concurrent(
                    service, step.plan, per_worker, config.warmup
                )
            else:
                out = await measure(
                    service, WORKLOADS[step.workload], step.plan, config.warmup
                )
    except Exception as exc:  # one broken run must not end the benchmark
        out = Measurement()
        out.record_error(exc)
    result = _result(step, out, config)
    result.gc_full_collections = len(pauses.full_pauses_ms)
    result.gc_max_pause_ms = round(max(pauses.full_pauses_ms, default=0.0), 3)
    result.gc_total_pause_ms = round(
        sum(pauses.full_pauses_ms) + pauses.young_total_ms, 3
    )
    return result


def _reserve(pool: SessionPool, step: _Step, config: BenchConfig) -> None:
    if step.workload == "concurrent":
        step.plan = pool.dedicated(step.history, config.concurrency, tag="c")
    else:
        step.plan = pool.reserve(
            step.history,
            config.warmup + step.ops,
            WORKLOADS[step.workload].events_per_op,
        )


class _Run:
    """State of one benchmark run."""

    def __init__(
        self, config: BenchConfig, ends: Endpoints, progress: _Progress
    ) -> None:
        self.config = config
        self.ends = ends
        self.progress = progress
        nonce = secrets.token_hex(4)
        self.namespace = f"bench{nonce}"
        self.app_name = f"bench-{nonce}"
        self.results: list[Result] = []
        self.setups: list[SetupInfo] = []
        self.round_trips: dict[tuple[str, str, int], int | None] = {}
        self.pools: dict[str, SessionPool] = {}
        self._tags = 0

    def tag(self) -> str:
        self._tags += 1
        return str(self._tags)

    async def backend_phase(
        self,
        backend: Backend,
        steps: list[_Step],
        delayed: list[_Step],
        counters: dict[str, CountingProxy],
    ) -> None:
        """Loopback runs and round-trip counting of one backend."""
        config = self.config
        pool = SessionPool(self.app_name, parallel=backend.setup_parallel)
        self.pools[backend.key] = pool
        for step in [*steps, *delayed]:
            _reserve(pool, step, config)
        count_plans: dict[tuple[str, int], list[SessionRef]] = {}
        counter = counters.get(backend.server or "")
        if counter is not None:
            for step in steps:
                if step.workload != "concurrent":
                    count_plans[(step.workload, step.history)] = pool.reserve(
                        step.history, 2, WORKLOADS[step.workload].events_per_op
                    )
        async with _opened(
            backend, self.ends, self.namespace, self.app_name, self.tag()
        ) as main:
            self.progress.note(f"setup {backend.key}: building session histories ...")
            sessions, events = await pool.build(main.service)
            self.setups.append(
                SetupInfo(backend.key, sessions, events, round(pool.setup_s, 3))
            )
            self.progress.note(
                f"setup {backend.key}: {sessions} sessions, {events} events "
                f"in {pool.setup_s:.1f} s (not measured)"
            )
            for step in steps:
                result = await _run_step(main.service, step, config)
                self.results.append(result)
                self.progress.step(step, result)
        if counter is None or not count_plans:
            return
        ends = self._counted_endpoints(counters)
        async with _opened(
            backend, ends, self.namespace, self.app_name, self.tag()
        ) as counted:
            for (workload, history), plan in count_plans.items():
                trips = await count_round_trips(
                    counter, counted.service, WORKLOADS[workload], plan
                )
                self.round_trips[(backend.key, workload, history)] = trips
        trips_text = ", ".join(
            f"{WORKLOADS[w].title} @{h}: {n}"
            for (b, w, h), n in self.round_trips.items()
            if b == backend.key
        )
        self.progress.note(f"round trips {backend.key}: {trips_text}")

    def _counted_endpoints(self, counters: dict[str, CountingProxy]) -> Endpoints:
        redis_counter = counters.get("redis")
        postgres_counter = counters.get(POSTGRES)
        ends = self.ends
        return Endpoints(
            redis_url=redis_counter.url_for(ends.redis_url)
            if redis_counter and ends.redis_url
            else ends.redis_url,
            database_url=postgres_counter.url_for(ends.database_url)
            if postgres_counter and ends.database_url
            else ends.database_url,
            sqlite_path=ends.sqlite_path,
        )

    async def delay_phase(self, delay: float, steps: list[_Step]) -> None:
        """The network backends' runs behind a DelayProxy of `delay` ms."""
        with contextlib.ExitStack() as stack:
            redis_url = self.ends.redis_url
            database_url = self.ends.database_url
            if redis_url:
                host, port = host_port(redis_url, 6379)
                proxy = stack.enter_context(
                    DelayProxy(host, port, delay_ms=delay, process=True)
                )
                redis_url = proxy.url_for(redis_url)
            if database_url:
                host, port = host_port(database_url, 5432)
                proxy = stack.enter_context(
                    DelayProxy(host, port, delay_ms=delay, process=True)
                )
                database_url = proxy.url_for(database_url)
            ends = replace(self.ends, redis_url=redis_url, database_url=database_url)
            by_backend: dict[str, list[_Step]] = {}
            for step in steps:
                by_backend.setdefault(step.backend.key, []).append(step)
            for key, group in by_backend.items():
                async with _opened(
                    BACKENDS[key], ends, self.namespace, self.app_name, self.tag()
                ) as handle:
                    for step in group:
                        result = await _run_step(handle.service, step, self.config)
                        self.results.append(result)
                        self.progress.step(step, result)

    async def run_all(self, loopback: list[_Step], delayed: list[_Step]) -> None:
        """Every backend's loopback phase, then the delayed runs."""
        config, ends = self.config, self.ends
        counters: dict[str, CountingProxy] = {}
        async with contextlib.AsyncExitStack() as stack:
            if config.count_round_trips:
                for name, url, default in (
                    ("redis", ends.redis_url, 6379),
                    (POSTGRES, ends.database_url, 5432),
                ):
                    if url:
                        host, port = host_port(url, default)
                        counters[name] = await stack.enter_async_context(
                            CountingProxy(host, port)
                        )
            for key in config.backends:
                backend = BACKENDS[key]
                await self.backend_phase(
                    backend,
                    [s for s in loopback if s.backend is backend],
                    [s for s in delayed if s.backend is backend],
                    counters,
                )
        for delay in config.delays_ms:
            steps = [s for s in delayed if s.delay_ms == delay]
            if steps:
                await self.delay_phase(delay, steps)
        self.finish()

    def finish(self) -> None:
        """Adds round trips, reference rows and speedups to the results."""
        smallest = min(self.config.append_at(), default=None)
        for result in self.results:
            workload, history = result.workload, result.history
            if workload == "concurrent" and smallest is not None:
                workload, history = "append", smallest
            result.round_trips = self.round_trips.get(
                (result.backend, workload, history)
            )
        if self.config.network:
            references = []
            for delay in self.config.delays_ms:
                for result in self.results:
                    if (
                        result.delay_ms == 0
                        and not BACKENDS[result.backend].has_network
                        and result.workload in ("chat_turn", "append")
                    ):
                        references.append(
                            replace(
                                result, delay_ms=delay, reference=True, latencies_ms=[]
                            )
                        )
            self.results.extend(references)
        baseline = {
            (r.workload, r.history, r.delay_ms): r
            for r in self.results
            if r.backend == POSTGRES and not r.reference
        }
        for result in self.results:
            base = baseline.get((result.workload, result.history, result.delay_ms))
            if base is None or result.p50_ms is None or base.p50_ms is None:
                continue
            if result.workload == "concurrent":
                if result.ops_per_s and base.ops_per_s:
                    result.speedup_vs_postgres = result.ops_per_s / base.ops_per_s
            elif result.p50_ms > 0:
                result.speedup_vs_postgres = base.p50_ms / result.p50_ms


async def run_benchmark(
    config: BenchConfig, *, progress: TextIO | None = sys.stderr
) -> BenchRun:
    """Runs the benchmark described by `config`.

    Starts ``redis-server`` and PostgreSQL itself unless ``config`` or the
    ``REDIS_URL`` / ``DATABASE_URL`` environment variables name servers
    (data written to those is deleted again at the end).

    Args:
        config: Backends, workloads and sizes.
        progress: Where progress lines go (None: silent).

    Returns:
        Every result, with setup costs, proxy overheads and server versions.
    """
    began = time.perf_counter()
    run = BenchRun(
        config=config,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    loopback, delayed = _plan_steps(config)
    reporter = _Progress(progress, len(loopback) + len(delayed))
    servers: dict[str, object] = {}
    with open_servers(config, servers, reporter.note) as ends:
        if delayed:
            for delay in config.delays_ms:
                overhead = await asyncio.to_thread(
                    measure_proxy_overhead, delay, 300, process=True
                )
                run.proxy_overhead.append({"delay_ms": delay, **overhead})
                reporter.note(
                    f"delay proxy +{delay:g} ms: round trip p50 "
                    f"{overhead['proxied_p50_ms']:.3f} ms (direct "
                    f"{overhead['direct_p50_ms']:.3f} ms, expected +"
                    f"{overhead['expected_added_ms']:.3f} ms, overhead "
                    f"{overhead['overhead_p50_ms']:+.3f} ms)"
                )
        state = _Run(config, ends, reporter)
        try:
            await state.run_all(loopback, delayed)
        finally:
            # Best effort: never leave benchmark data on someone's server.
            with contextlib.suppress(Exception):
                await remove_run_data(ends, state.namespace, state.app_name, servers)
        servers.update(await server_versions(ends))
    run.results = state.results
    run.setups = state.setups
    run.servers = servers
    run.elapsed_s = time.perf_counter() - began
    reporter.note(f"done in {run.elapsed_s:.0f} s")
    return run

"""Presents a benchmark run: console table, JSON file, PNG chart."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from .backends import BACKENDS, POSTGRES
from .results import BenchRun, Result
from .workloads import RECENT_EVENTS

__all__ = ["format_table", "machine_info", "render_chart", "write_json"]

_SECTIONS = (
    ("chat_turn", "Chat turn: get_session (full history) + user append + model append"),
    ("append", "append_event (model event, session + user: state delta)"),
    ("recent", f"get_session(num_recent_events={RECENT_EVENTS})"),
    ("concurrent", "Concurrent append_event (one coroutine per session)"),
)
_COLORS = {
    "redis": "#d62728",
    POSTGRES: "#1f77b4",
    "sqlite": "#2ca02c",
    "inmemory": "#7f7f7f",
    "adk-redis": "#ff7f0e",
}


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _rate(value: float | None) -> str:
    return "-" if value is None or math.isinf(value) else f"{value:,.0f}"


def _speedup(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _gc(result: Result) -> str:
    if result.reference or not result.gc_full_collections:
        return "-"
    return f"{result.gc_max_pause_ms:.0f}"


def _delay(value: float) -> str:
    return "loopback" if value == 0 else f"+{value:g} ms"


def _sorted(results: Iterable[Result]) -> list[Result]:
    order = {key: i for i, key in enumerate(BACKENDS)}
    return sorted(
        results, key=lambda r: (r.delay_ms, r.history, order.get(r.backend, 99))
    )


def format_table(run: BenchRun) -> str:
    """Returns the results as a plain-text table, one section per workload."""
    header = (
        f"{'history':>7}  {'network':<9} {'backend':<10} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'ops/s':>9} {'RT/op':>6} {'vs PG':>7} "
        f"{'GC ms':>6}"
    )
    lines: list[str] = []
    for key, title in _SECTIONS:
        rows = _sorted(r for r in run.results if r.workload == key)
        if not rows:
            continue
        if key == "concurrent":
            first = rows[0]
            title += (
                f": {first.concurrency} sessions x 1 coroutine, "
                f"{first.ops} appends; ops/s = appends/s; vs PG = throughput ratio"
            )
        lines += ["", title, header, "-" * len(header)]
        for r in rows:
            name = r.backend + ("*" if r.reference else "")
            trips = "n/a" if not BACKENDS[r.backend].has_network else r.round_trips
            row = (
                f"{r.history:>7}  {_delay(r.delay_ms):<9} {name:<10} "
                f"{_ms(r.p50_ms):>8} {_ms(r.p95_ms):>8} {_ms(r.p99_ms):>8} "
                f"{_rate(r.ops_per_s):>9} {trips if trips is not None else '-':>6} "
                f"{_speedup(r.speedup_vs_postgres):>7} "
                f"{_gc(r):>6}"
            )
            if r.errors:
                row += f"  ({r.errors} errors: {r.first_error})"
            if r.stale_reloads:
                row += f"  ({r.stale_reloads} stale reloads)"
            lines.append(row)
    legend = ["", "backends:"] + [
        f"  {b.key:<10} {b.label}"
        for b in BACKENDS.values()
        if b.key in run.config.backends
    ]
    if any(r.reference for r in run.results):
        legend.append("  * in-process backend: loopback numbers repeated (no network)")
    legend += [
        "  RT/op: network round trips of one operation (counted by a proxy)",
        "  vs PG: DatabaseSessionService/PostgreSQL p50 / this p50",
        "  GC ms: longest full garbage collection pause during the run (they",
        "         land in whichever operation triggers them and drive p99)",
    ]
    for overhead in run.proxy_overhead:
        legend.append(
            f"  delay proxy +{overhead['delay_ms']:g} ms: a round trip took "
            f"{overhead['proxied_p50_ms']:.3f} ms p50 (direct "
            f"{overhead['direct_p50_ms']:.3f} ms; expected +"
            f"{overhead['expected_added_ms']:.3f} ms; proxy overhead "
            f"{overhead['overhead_p50_ms']:+.3f} ms)"
        )
    for setup in run.setups:
        legend.append(
            f"  setup {setup.backend}: {setup.sessions} sessions, "
            f"{setup.events} events appended in {setup.seconds:.1f} s (not measured)"
        )
    return "\n".join(lines + legend).lstrip("\n")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(run: BenchRun, command: str | None = None) -> dict[str, Any]:
    """Describes the machine, software versions and command of a run.

    Args:
        run: The run (for server versions and its start time).
        command: The command line; defaults to this process's.
    """
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "redis_server": run.servers.get("redis"),
        "postgres": run.servers.get("postgres"),
        "servers_started_by_benchmark": {
            "redis": bool(run.servers.get("redis_started_by_benchmark")),
            "postgres": bool(run.servers.get("postgres_started_by_benchmark")),
        },
        "packages": {
            name: _version(name)
            for name in (
                "adk-redis-session",
                "google-adk",
                "redis",
                "hiredis",
                "sqlalchemy",
                "asyncpg",
                "aiosqlite",
                "pydantic",
            )
        },
        "timestamp": run.started_at,
        "elapsed_s": round(run.elapsed_s, 1),
        "command": command if command is not None else " ".join(sys.argv),
    }


def write_json(run: BenchRun, path: Path, command: str | None = None) -> None:
    """Writes the run (machine info, config, every result) as JSON.

    Args:
        run: The run.
        path: The file to write.
        command: The command line to record.
    """
    document = {
        "machine": machine_info(run, command),
        "config": dataclasses.asdict(run.config),
        "proxy_overhead": run.proxy_overhead,
        "setup": [dataclasses.asdict(s) for s in run.setups],
        "results": [dataclasses.asdict(r) for r in run.results],
    }
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")


def _bars(axis: Any, rows: list[Result], backends: list[str], title: str) -> None:
    """Grouped bars: p50 per backend for each history length, p99 whisker."""
    histories = sorted({r.history for r in rows})
    width = 0.8 / max(1, len(backends))
    for i, backend in enumerate(backends):
        xs: list[float] = []
        p50: list[float] = []
        above: list[float] = []
        for j, history in enumerate(histories):
            for r in rows:
                if r.backend == backend and r.history == history and r.p50_ms:
                    xs.append(j + (i - (len(backends) - 1) / 2) * width)
                    p50.append(r.p50_ms)
                    above.append((r.p99_ms or r.p50_ms) - r.p50_ms)
        axis.bar(
            xs,
            p50,
            width,
            yerr=[[0.0] * len(above), above],
            capsize=2,
            label=backend,
            color=_COLORS.get(backend),
        )
    axis.set_xticks(range(len(histories)), [f"{h} events" for h in histories])
    axis.set_yscale("log")
    axis.set_ylabel("ms (bar: p50, whisker: p99)")
    axis.set_title(title)
    axis.grid(axis="y", which="both", alpha=0.3)
    axis.legend(fontsize=8)


def _delay_lines(
    axis: Any, rows: list[Result], backends: list[str], title: str
) -> None:
    """p50 against the added one-way delay, one line per backend."""
    for backend in backends:
        points = sorted(
            (r.delay_ms, r.p50_ms) for r in rows if r.backend == backend and r.p50_ms
        )
        if points:
            reference = not BACKENDS[backend].has_network
            axis.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                ":" if reference else "-",
                marker="o",
                color=_COLORS.get(backend),
                label=backend + (" (no network)" if reference else ""),
            )
    axis.set_yscale("log")
    axis.set_xlabel("one-way delay added by the proxy, ms (round trip: 2x)")
    axis.set_ylabel("p50, ms")
    axis.set_title(title)
    axis.grid(which="both", alpha=0.3)
    axis.legend(fontsize=8)


def render_chart(run: BenchRun, path: Path) -> None:
    """Renders latency by backend as a PNG (log-scale y axes).

    Top row: chat turn and append at loopback by history length (bar p50,
    whisker p99). Bottom row, when the run had network delays: the chat turn
    and the append p50 against the added one-way delay.

    Args:
        run: The run.
        path: The PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = [b for b in BACKENDS if b in run.config.backends]
    measured = [r for r in run.results if r.p50_ms]
    chat = [r for r in measured if r.workload == "chat_turn"]
    append = [r for r in measured if r.workload == "append"]
    network = bool(run.proxy_overhead) and any(r.delay_ms for r in measured)
    figure, axes = plt.subplots(
        2 if network else 1, 2, figsize=(14, 10 if network else 5), squeeze=False
    )
    _bars(
        axes[0][0],
        [r for r in chat if r.delay_ms == 0],
        backends,
        "Chat turn: get_session + 2 x append_event (loopback)",
    )
    _bars(
        axes[0][1],
        [r for r in append if r.delay_ms == 0],
        backends,
        "append_event (loopback)",
    )
    if network:
        for axis, rows, name in (
            (axes[1][0], chat, "chat turn"),
            (axes[1][1], append, "append_event"),
        ):
            histories = sorted({r.history for r in rows})
            if not histories:
                continue
            history = 100 if 100 in histories else histories[len(histories) // 2]
            _delay_lines(
                axis,
                [r for r in rows if r.history == history],
                backends,
                f"{name} at {history} events, across a simulated network",
            )
    figure.suptitle(
        f"ADK session services ({run.started_at}, {os.cpu_count()} CPUs, "
        f"{platform.system()})"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

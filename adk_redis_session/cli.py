"""The ``adk-redis-session`` command line: ``bench``, ``bench-memory``, ``migrate``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["add_bench_arguments", "bench_main", "main"]


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("history lengths must be >= 1")
    return values


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the benchmark's options to `parser`."""
    from .bench.backends import BACKENDS

    parser.add_argument(
        "--quick",
        action="store_true",
        help="a run of seconds: histories 10,100 and few operations",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results"),
        help="directory for results.json and chart.png (default: ./bench-results)",
    )
    parser.add_argument(
        "--delays",
        type=_floats,
        default=(0.25, 1.0),
        help="one-way delays in ms of the network runs (default: 0.25,1)",
    )
    parser.add_argument(
        "--histories",
        type=_ints,
        default=None,
        help="chat-turn history lengths (default: 10,100,1000; --quick: 10,100)",
    )
    parser.add_argument(
        "--backends",
        default="all",
        help=f"comma-separated, from: {','.join(BACKENDS)} (default: all)",
    )
    parser.add_argument(
        "--no-network",
        action="store_true",
        help="skip the runs behind the delay proxy",
    )


def bench_main(args: argparse.Namespace, command: str) -> int:
    """Runs the benchmark for parsed arguments; prints the table.

    Servers: ``REDIS_URL`` and ``DATABASE_URL`` (``postgresql+asyncpg://``)
    when set, else a local ``redis-server`` and PostgreSQL started for the
    run.

    Args:
        args: Parsed `add_bench_arguments` options.
        command: The command line, recorded in results.json.
    """
    from .bench.backends import backend_keys
    from .bench.config import BenchConfig
    from .bench.report import format_table, render_chart, write_json
    from .bench.runner import run_benchmark

    try:
        backends = backend_keys(args.backends)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = BenchConfig.quick() if args.quick else BenchConfig()
    config = dataclasses.replace(
        base,
        backends=backends,
        delays_ms=args.delays,
        network=not args.no_network and bool(args.delays),
        histories=args.histories or base.histories,
    )
    try:
        run = asyncio.run(run_benchmark(config))
    except (RuntimeError, ValueError) as exc:  # a server missing, a bad URL
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_json(run, out / "results.json", command=command)
    render_chart(run, out / "chart.png")
    print(format_table(run))
    print(f"\nwrote {out / 'results.json'} and {out / 'chart.png'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``adk-redis-session`` console script."""
    parser = argparse.ArgumentParser(
        prog="adk-redis-session",
        description="Tools for adk-redis-session.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser(
        "bench",
        help="compare ADK session services on the same workloads",
        description=(
            "Benchmark RedisSessionService against ADK's DatabaseSessionService "
            "(PostgreSQL, SQLite), InMemorySessionService and ADK's built-in "
            "Redis service. Uses REDIS_URL / DATABASE_URL when set, else starts "
            "local servers."
        ),
    )
    add_bench_arguments(bench)
    commands.add_parser(
        "bench-memory",
        help="RedisMemoryService search latency and ingestion rate",
        add_help=False,
    )
    from .migrate import add_migrate_arguments, migrate_main

    add_migrate_arguments(
        commands.add_parser(
            "migrate",
            help="copy sessions between a database and Redis, then verify",
            description=(
                "Copy ADK sessions, user: and app: state between "
                "DatabaseSessionService (PostgreSQL, SQLite) and Redis, either "
                "way; idempotent and resumable. See docs/rollback.md."
            ),
        )
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench-memory"]:
        from .bench import memory  # its own options: bench-memory --help

        memory.main(argv[1:])
        return 0
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench_main(args, shlex.join(["adk-redis-session", *argv]))
    if args.command == "migrate":
        return migrate_main(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

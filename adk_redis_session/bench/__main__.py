"""``python -m adk_redis_session.bench``: the same as ``adk-redis-session bench``."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..cli import add_bench_arguments, bench_main


def main() -> int:
    """Parses the benchmark options and runs it."""
    parser = argparse.ArgumentParser(
        prog="python -m adk_redis_session.bench",
        description="Compare ADK session services on the same workloads.",
    )
    add_bench_arguments(parser)
    argv = sys.argv[1:]
    command = shlex.join(["python", "-m", "adk_redis_session.bench", *argv])
    return bench_main(parser.parse_args(argv), command)


if __name__ == "__main__":
    raise SystemExit(main())

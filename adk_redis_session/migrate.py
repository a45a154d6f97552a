r"""``adk-redis-session migrate``: copy ADK sessions between a database and Redis.

Copies sessions (events and session state) and ``user:`` / ``app:`` state
of the chosen apps from one store to another, in either direction between
ADK's ``DatabaseSessionService`` (PostgreSQL, SQLite) and
`RedisSessionService`, then verifies the target against the source::

    adk-redis-session migrate --from postgresql://app:pw@db/adk \
        --to redis://redis:6379/0 --app support_bot

How a session is copied: the target session is created with the source's
session-scoped state, at the source's time, and the source's events are
appended one by one through the target service's ``append_event``, so
they keep their ids and timestamps and their state deltas apply as they
did in the source (``user:`` / ``app:`` deltas included). State no event
carries (written outside ADK) and the source's last update time are then
written directly where they still differ, and after the app's sessions its
``user:`` and ``app:`` state is set to the source's.

Re-running is safe and cheap: per session, the target's events are compared
with the source's. A target holding all of them is skipped; one holding a
subset gets only the missing ones (so an interrupted run resumes where it
stopped); one holding events the source lacks, or a different event under
the same id, was written on its own: it is reported as a conflict and left
alone. Verification reads every session from both stores with
``get_session`` and compares events field by field, the merged state and
the last update time. See ``docs/rollback.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from ._migrate_engine import Migration, MigrationOptions
from ._migrate_report import EXIT_CODES, MigrationReport, Progress
from ._migrate_stores import MigrationSetupError, Store, normalize_url, open_store

__all__ = [
    "MigrationOptions",
    "MigrationReport",
    "MigrationSetupError",
    "add_migrate_arguments",
    "migrate",
    "migrate_main",
    "migrate_urls",
]


async def migrate(
    source: Store,
    target: Store,
    options: MigrationOptions,
    *,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copies and/or verifies sessions between two open stores.

    Args:
        source: Where sessions are read.
        target: Where they are written.
        options: Apps, users and mode.
        progress: Where progress lines go; silent by default.

    Returns:
        The counts, conflicts and differences; see `MigrationReport`.
    """
    run = Migration(source, target, options, progress or Progress(enabled=False))
    return await run.run()


def _same_store(a: str, b: str) -> bool:
    try:
        return normalize_url(a).rstrip("/") == normalize_url(b).rstrip("/")
    except MigrationSetupError:
        return False


async def migrate_urls(
    from_url: str,
    to_url: str,
    options: MigrationOptions,
    *,
    redis_prefix: str = "adk",
    redis_ttl: float | None = None,
    progress: Progress | None = None,
) -> MigrationReport:
    """Opens both stores from URLs, runs `migrate`, and closes them.

    Args:
        from_url: The source: ``redis://`` / ``rediss://`` / ``unix://``, or
            a database URL (``postgresql+asyncpg://``, ``sqlite+aiosqlite://``,
            or ``postgresql://`` / ``sqlite://``, switched to those drivers).
        to_url: The target, likewise. A database target gets ADK's tables
            if it has none.
        options: What to migrate and how.
        redis_prefix: Key prefix on Redis (either side).
        redis_ttl: Sliding session TTL on a Redis target (None: no expiry).
        progress: Where progress lines go.

    Raises:
        MigrationSetupError: A URL or option is unusable, or both URLs name
            the same store.
    """
    if _same_store(from_url, to_url):
        raise MigrationSetupError("--from and --to name the same store")
    source = await open_store(from_url, role="source", redis_prefix=redis_prefix)
    try:
        target = await open_store(
            to_url,
            role="target-readonly" if options.mode != "copy" else "target",
            redis_prefix=redis_prefix,
            redis_ttl=redis_ttl,
        )
        try:
            return await migrate(source, target, options, progress=progress)
        finally:
            await target.aclose()
    finally:
        await source.aclose()


# -- command line ---------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds >= 0")
    return value


def _time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use 2026-05-01T12:00:00Z or POSIX seconds)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def add_migrate_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of ``adk-redis-session migrate`` to ``parser``."""
    urls = "redis://, rediss://, postgresql+asyncpg://, sqlite+aiosqlite:// ..."
    parser.add_argument(
        "--from",
        dest="from_url",
        required=True,
        metavar="URL",
        help=f"source store ({urls}); env:NAME reads the URL from variable NAME",
    )
    parser.add_argument(
        "--to", dest="to_url", required=True, metavar="URL", help="target store"
    )
    parser.add_argument(
        "--app",
        dest="apps",
        action="append",
        required=True,
        metavar="APP",
        help="app to migrate (repeat for several)",
    )
    parser.add_argument(
        "--user",
        dest="users",
        action="append",
        default=[],
        metavar="USER",
        help="only this user's sessions and user state (repeatable)",
    )
    parser.add_argument(
        "--redis-prefix",
        default=None,
        help="Redis key prefix (default: $REDIS_KEY_PREFIX or 'adk')",
    )
    parser.add_argument(
        "--redis-ttl",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="sliding TTL for sessions written to Redis (default: none)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be copied"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--verify-only", action="store_true", help="compare only; copy nothing"
    )
    mode.add_argument("--no-verify", action="store_true", help="skip verification")
    parser.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help="copy at most N sessions, then stop (run again to continue)",
    )
    parser.add_argument(
        "--since",
        type=_time,
        default=None,
        metavar="TIME",
        help=(
            "only sessions updated at or after TIME (ISO 8601, UTC unless it "
            "has an offset, or POSIX seconds): a quick delta run"
        ),
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=4,
        help="sessions copied at once (default 4; 1 for SQLite)",
    )
    parser.add_argument(
        "--progress-every",
        type=_positive_int,
        default=100,
        metavar="N",
        help="a progress line on stderr every N sessions (default 100)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _resolve_url(value: str) -> str:
    if not value.startswith("env:"):
        return value
    name = value[len("env:") :]
    url = os.environ.get(name, "")
    if not url:
        raise MigrationSetupError(f"environment variable {name} is not set")
    return url


def _scrub(message: str, urls: Sequence[str]) -> str:
    """Removes the URLs' passwords from an error message."""
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            continue
        for secret in {password, unquote(password or "")}:
            if secret:
                message = message.replace(secret, "***")
    return message


def migrate_main(args: argparse.Namespace) -> int:
    """Runs ``adk-redis-session migrate`` for parsed arguments.

    Prints progress to stderr and the report to stdout.

    Returns:
        0 when everything in scope is copied and verified; 1 on conflicts or
        differences; 2 on errors (nothing is lost: run again to resume); 3
        when the run stopped early (``--limit``) or the source changed
        meanwhile (run again); 130 when interrupted.
    """
    urls = [args.from_url, args.to_url]
    try:
        urls = [_resolve_url(args.from_url), _resolve_url(args.to_url)]
        options = MigrationOptions(
            apps=list(dict.fromkeys(args.apps)),
            users=list(dict.fromkeys(args.users)),
            dry_run=args.dry_run,
            verify=not args.no_verify,
            verify_only=args.verify_only,
            limit=args.limit,
            concurrency=args.concurrency,
            since=args.since,
        )
        report = asyncio.run(
            migrate_urls(
                urls[0],
                urls[1],
                options,
                redis_prefix=(
                    args.redis_prefix or os.environ.get("REDIS_KEY_PREFIX") or "adk"
                ),
                redis_ttl=args.redis_ttl or None,
                progress=Progress(sys.stderr, args.progress_every),
            )
        )
    except MigrationSetupError as exc:
        print(f"error: {_scrub(str(exc), urls)}", file=sys.stderr)
        return EXIT_CODES["error"]
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:
        detail = _scrub(f"{type(exc).__name__}: {exc}", urls)
        print(
            f"error: the migration stopped: {detail}\n"
            "Nothing copied so far is lost: run the same command again to resume.",
            file=sys.stderr,
        )
        return EXIT_CODES["error"]
    print(report.to_json() if args.json else report.format_text())
    return report.exit_code

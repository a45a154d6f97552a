"""The migration run: copy, then sync ``user:`` / ``app:`` state, then verify.

`Migration` does the work of `adk_redis_session.migrate.migrate` for two open
`Store` objects, app by app, on a few worker tasks. See the ``migrate``
module for the method and ``docs/rollback.md`` for its use.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TypeVar

from google.adk.events.event import Event
from google.adk.platform import time as platform_time
from google.adk.sessions.session import Session

from ._migrate_compare import (
    TIME_TOLERANCE,
    changed_keys,
    compare_sessions,
    extra_keys,
    plan_session,
    same_time,
    session_scoped,
)
from ._migrate_report import MigrationReport, Progress
from ._migrate_stores import MigrationSetupError, Store

__all__ = ["Migration", "MigrationOptions"]

_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class MigrationOptions:
    """What to migrate and how.

    Attributes:
        apps: App names to migrate (at least one).
        users: Only these users' sessions (``user:`` state likewise); empty
            means all users. ``app:`` state is always migrated whole.
        dry_run: Read both stores and count what would be copied; write
            nothing.
        verify: Compare the target with the source after copying.
        verify_only: Only compare; copy nothing.
        limit: Copy at most this many sessions (new or behind), then stop;
            the next run continues.
        concurrency: Sessions copied at once (lowered to 1 for SQLite).
        since: Only sessions the source updated at or after this POSIX time
            (a delta run); the others are not read. ``None``: all.
    """

    apps: Sequence[str]
    users: Sequence[str] = ()
    dry_run: bool = False
    verify: bool = True
    verify_only: bool = False
    limit: int | None = None
    concurrency: int = 4
    since: float | None = None

    def __post_init__(self) -> None:
        if not self.apps:
            raise MigrationSetupError("name at least one app (--app)")
        if self.dry_run and self.verify_only:
            raise MigrationSetupError("--dry-run and --verify-only exclude each other")
        if self.verify_only and not self.verify:
            raise MigrationSetupError(
                "--verify-only and --no-verify exclude each other"
            )
        if self.limit is not None and self.limit < 1:
            raise MigrationSetupError("--limit must be at least 1")
        if self.concurrency < 1:
            raise MigrationSetupError("--concurrency must be at least 1")

    @property
    def mode(self) -> str:
        """``copy``, ``dry-run`` or ``verify-only``."""
        if self.dry_run:
            return "dry-run"
        return "verify-only" if self.verify_only else "copy"


@contextlib.contextmanager
def _clock_at(timestamp: float) -> Iterator[None]:
    """Makes ADK's clock read ``timestamp`` (in this task's context only)."""
    platform_time.set_time_provider(lambda: timestamp)
    try:
        yield
    finally:
        platform_time.reset_time_provider()


def _name(session: Session) -> str:
    return f"{session.app_name}/{session.user_id}/{session.id}"


class Migration:
    """One run: copy, then sync app/user state, then verify, app by app."""

    def __init__(
        self,
        source: Store,
        target: Store,
        options: MigrationOptions,
        progress: Progress,
    ) -> None:
        self.source, self.target = source, target
        self.options = options
        self.progress = progress
        self.report = MigrationReport(
            source=source.label,
            target=target.label,
            apps=list(options.apps),
            users=list(options.users),
            mode=options.mode,
        )
        self._claimed = 0
        self._workers = min(
            options.concurrency, source.max_concurrency, target.max_concurrency
        )

    async def run(self) -> MigrationReport:
        for app_name in self.options.apps:
            sessions = await self.source.list_sessions(app_name, self.options.users)
            self.report.sessions_in_source += len(sessions)
            since = self.options.since
            if since is not None:
                selected = [
                    s for s in sessions if s.last_update_time >= since - TIME_TOLERANCE
                ]
                self.report.sessions_before_since += len(sessions) - len(selected)
                sessions = selected
            users = sorted({s.user_id for s in sessions} | set(self.options.users))
            if not self.options.users and since is None:
                users = sorted(
                    set(users) | set(await self.source.users_with_state(app_name))
                )
            copied: list[Session] = sessions
            clean_scopes = set(users) | {""}
            if not sessions:
                self.progress.say(f"app {app_name!r}: no sessions in the source")
            if not self.options.verify_only:
                copied = []
                self.progress.start(self.report, app_name, len(sessions), "checking")
                await self._each(sessions, functools.partial(self._copy, copied))
                clean_scopes = await self._sync_states(app_name, users)
            if self.options.verify and not self.options.dry_run:
                self.progress.start(self.report, app_name, len(copied), "verifying")
                await self._each(copied, self._verify)
                await self._verify_states(app_name, users, clean_scopes)
        return self.report

    async def _each(
        self, items: Sequence[_T], work: Callable[[_T], Awaitable[None]]
    ) -> None:
        """Runs ``work`` over ``items`` on a few tasks; the first error stops all."""
        pending = iter(items)

        async def worker() -> None:
            for item in pending:
                await work(item)

        tasks = [asyncio.ensure_future(worker()) for _ in range(self._workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _copy(self, copied: list[Session], listed: Session) -> None:
        app, user, sid = listed.app_name, listed.user_id, listed.id
        report = self.report
        src = await self.source.get_session(app, user, sid)
        if src is None:  # deleted (or expired) since it was listed
            report.sessions_vanished += 1
            self.progress.step(report)
            return
        dst = await self.target.get_session(app, user, sid)
        plan = plan_session(src, dst)
        if plan.conflict is not None:
            report.conflicts.append(f"session {_name(src)}: {plan.conflict}")
            self.progress.step(report)
            return
        writes = plan.create or bool(plan.missing)
        if writes:
            if self.options.limit is not None and self._claimed >= self.options.limit:
                report.sessions_pending += 1
                self.progress.step(report)
                return
            self._claimed += 1
        if self.options.dry_run:
            report.events_copied += len(plan.missing)
            if dst is not None and not writes:
                await self._fix_up(src, dst, write=False)
        else:
            if writes:
                dst = await self._write_events(src, dst, plan.missing)
            assert dst is not None
            await self._fix_up(src, dst, write=True)
        if writes:
            report.sessions_copied += 1
            report.sessions_created += plan.create
        else:
            report.sessions_skipped += 1
        copied.append(src)
        self.progress.step(report)

    async def _write_events(
        self, src: Session, dst: Session | None, missing: list[Event]
    ) -> Session:
        """Creates the target session if needed and appends ``missing``."""
        service = self.target.service
        if dst is None:
            created_at = src.events[0].timestamp if src.events else src.last_update_time
            with _clock_at(created_at):
                dst = await service.create_session(
                    app_name=src.app_name,
                    user_id=src.user_id,
                    session_id=src.id,
                    state=session_scoped(src.state),
                )
        for event in missing:
            await service.append_event(dst, event)
            self.report.events_copied += 1
        after = await self.target.get_session(
            src.app_name, src.user_id, src.id, events=False
        )
        if after is None:
            raise RuntimeError(f"session {_name(src)} vanished from the target")
        return after

    async def _fix_up(self, src: Session, dst: Session, *, write: bool) -> None:
        """Writes session state no event carried and the last update time."""
        app, user, sid = src.app_name, src.user_id, src.id
        changes = changed_keys(session_scoped(src.state), session_scoped(dst.state))
        if changes:
            self.report.session_state_keys += len(changes)
            if write:
                await self.target.write_session_state(app, user, sid, changes)
        if not same_time(src.last_update_time, dst.last_update_time):
            self.report.timestamps_set += 1
            if write:
                await self.target.set_last_update_time(
                    app, user, sid, src.last_update_time
                )

    async def _sync_states(self, app_name: str, users: Sequence[str]) -> set[str]:
        """Sets the target's user and app state to the source's.

        Returns:
            The scopes without conflicts: user ids, and ``""`` for the app.
        """
        clean: set[str] = set()
        for user in users:
            where = f"user state of {user!r} (app {app_name!r})"
            src = await self.source.read_user_state(app_name, user)
            dst = await self.target.read_user_state(app_name, user)
            changes = self._scope_changes(where, src, dst, clean, user)
            self.report.user_state_keys += len(changes)
            if changes and not self.options.dry_run:
                await self.target.write_user_state(app_name, user, changes)
        src = await self.source.read_app_state(app_name)
        dst = await self.target.read_app_state(app_name)
        changes = self._scope_changes(f"app state of {app_name!r}", src, dst, clean, "")
        self.report.app_state_keys += len(changes)
        if changes and not self.options.dry_run:
            await self.target.write_app_state(app_name, changes)
        return clean

    def _scope_changes(
        self,
        where: str,
        src: dict[str, object],
        dst: dict[str, object],
        clean: set[str],
        scope: str,
    ) -> dict[str, object]:
        extra = extra_keys(src, dst)
        if extra:
            self.report.conflicts.append(
                f"{where}: the target has key(s) the source lacks (kept): "
                + ", ".join(extra)
            )
        else:
            clean.add(scope)
        return changed_keys(src, dst)

    async def _verify(self, listed: Session) -> None:
        app, user, sid = listed.app_name, listed.user_id, listed.id
        src = await self.source.get_session(app, user, sid)
        if src is not None:
            dst = await self.target.get_session(app, user, sid)
            status, why = compare_sessions(src, dst)
            if status == "equal":
                self.report.sessions_verified += 1
            elif status == "behind":
                self.report.behind.append(f"session {_name(src)}: {why}")
            else:
                self.report.mismatches.append(f"session {_name(src)}: {why}")
        self.progress.step(self.report, verifying=True)

    async def _verify_states(
        self, app_name: str, users: Sequence[str], clean: set[str]
    ) -> None:
        """Compares user and app state directly (users without sessions too)."""
        scopes: list[tuple[str, str]] = [(u, f"user state of {u!r}") for u in users]
        scopes.append(("", "app state"))
        for scope, what in scopes:
            if scope not in clean:
                continue  # already reported as a conflict
            if scope:
                src = await self.source.read_user_state(app_name, scope)
                dst = await self.target.read_user_state(app_name, scope)
            else:
                src = await self.source.read_app_state(app_name)
                dst = await self.target.read_app_state(app_name)
            keys = sorted(set(changed_keys(src, dst)) | set(extra_keys(src, dst)))
            if keys:
                self.report.mismatches.append(
                    f"{what} (app {app_name!r}) differs in key(s): {', '.join(keys)}"
                )
            else:
                self.report.scopes_verified += 1

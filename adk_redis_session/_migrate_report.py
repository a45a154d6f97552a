"""The counts a migration reports, its exit code, and its progress lines."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any, TextIO

__all__ = ["EXIT_CODES", "MigrationReport", "Progress"]

#: Exit codes of ``adk-redis-session migrate``.
EXIT_CODES = {
    "ok": 0,  # everything in scope copied (or up to date) and verified
    "failed": 1,  # conflicts, or verification found a difference
    "error": 2,  # bad arguments, a store unreachable, an interrupted run
    "incomplete": 3,  # --limit reached, or the source changed during the run
}


@dataclasses.dataclass
class MigrationReport:
    """What a migration did. Counts of a dry run are what it would do.

    Attributes:
        source: The source, password redacted.
        target: The target, password redacted.
        apps: The apps in scope.
        users: The users in scope (empty: all).
        mode: ``copy``, ``dry-run`` or ``verify-only``.
        sessions_in_source: Sessions listed in the source.
        sessions_copied: Sessions created or extended in the target.
        sessions_created: Of those, sessions new in the target.
        sessions_skipped: Sessions whose events the target already held.
        sessions_pending: Sessions left for the next run by ``--limit``.
        sessions_vanished: Sessions deleted from the source meanwhile.
        sessions_before_since: Sessions not read: not updated since
            ``--since``.
        events_copied: Events appended to the target.
        session_state_keys: Session state keys written directly (state no
            event carries, e.g. written outside ADK).
        user_state_keys: ``user:`` state keys written.
        app_state_keys: ``app:`` state keys written.
        timestamps_set: Sessions whose last update time was set directly.
        sessions_verified: Sessions equal in source and target.
        scopes_verified: User and app states equal in source and target.
        conflicts: Sessions or states left alone, with the reason.
        mismatches: Differences verification found.
        behind: Sessions the source extended after they were copied.
    """

    source: str
    target: str
    apps: list[str]
    users: list[str]
    mode: str = "copy"
    sessions_in_source: int = 0
    sessions_copied: int = 0
    sessions_created: int = 0
    sessions_skipped: int = 0
    sessions_pending: int = 0
    sessions_vanished: int = 0
    sessions_before_since: int = 0
    events_copied: int = 0
    session_state_keys: int = 0
    user_state_keys: int = 0
    app_state_keys: int = 0
    timestamps_set: int = 0
    sessions_verified: int = 0
    scopes_verified: int = 0
    conflicts: list[str] = dataclasses.field(default_factory=list)
    mismatches: list[str] = dataclasses.field(default_factory=list)
    behind: list[str] = dataclasses.field(default_factory=list)

    @property
    def outcome(self) -> str:
        """``ok``, ``failed`` or ``incomplete`` (a key of `EXIT_CODES`)."""
        if self.conflicts or self.mismatches:
            return "failed"
        if self.sessions_pending or self.behind:
            return "incomplete"
        return "ok"

    @property
    def exit_code(self) -> int:
        """The command's exit code for this report."""
        return EXIT_CODES[self.outcome]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, with the outcome."""
        data = dataclasses.asdict(self)
        data["outcome"] = self.outcome
        return data

    def to_json(self) -> str:
        """The report as one JSON document."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def format_text(self) -> str:
        """The human-readable summary printed at the end of a run."""
        verb = "would copy" if self.mode == "dry-run" else "copied"
        lines = [
            f"migrate ({self.mode}): {self.source} -> {self.target}",
            f"apps: {', '.join(self.apps)}"
            + (f"; users: {', '.join(self.users)}" if self.users else ""),
        ]
        if self.mode == "verify-only":
            lines.append(
                f"sessions: {self.sessions_in_source} in source{self._since_note()}"
            )
        else:
            lines += self._copy_lines(verb)
        if self.mode != "dry-run":
            lines.append(
                f"verified: {self.sessions_verified} session(s) and "
                f"{self.scopes_verified} user/app state(s) equal, "
                f"{len(self.mismatches)} mismatch(es), "
                f"{len(self.behind)} changed in the source meanwhile"
            )
        lines += [f"conflict: {c}" for c in self.conflicts]
        lines += [f"mismatch: {m}" for m in self.mismatches]
        lines += [f"changed in the source: {b}" for b in self.behind]
        lines.append(f"result: {self.outcome.upper()}{self._hint()}")
        return "\n".join(lines)

    def _copy_lines(self, verb: str) -> list[str]:
        return [
            f"sessions: {self.sessions_in_source} in source, {verb} "
            f"{self.sessions_copied} ({self.sessions_created} new), "
            f"{self.sessions_skipped} already up to date, "
            f"{len(self.conflicts)} conflict(s)"
            + (f", {self.sessions_pending} pending" if self.sessions_pending else "")
            + (
                f", {self.sessions_vanished} gone from the source"
                if self.sessions_vanished
                else ""
            )
            + self._since_note(),
            f"events {verb}: {self.events_copied}",
            f"state keys {'to write' if self.mode == 'dry-run' else 'written'}: "
            f"{self.user_state_keys} user, {self.app_state_keys} app, "
            f"{self.session_state_keys} session; "
            f"{self.timestamps_set} last-update time(s) set",
        ]

    def _since_note(self) -> str:
        if not self.sessions_before_since:
            return ""
        return f", {self.sessions_before_since} not updated since --since (not read)"

    def _hint(self) -> str:
        if self.sessions_pending:
            return " (stopped by --limit: run the same command again to continue)"
        if self.behind:
            return " (run the same command again to copy what changed)"
        if self.conflicts:
            return " (sessions in conflict were left as they are in the target)"
        return ""


class Progress:
    """Prints progress lines with per-app counts to a stream (stderr by default).

    Args:
        stream: Where to write (``sys.stderr`` when None).
        every: Print a line every this many sessions (and at each app's end).
        enabled: False silences progress.
    """

    def __init__(
        self, stream: TextIO | None = None, every: int = 100, *, enabled: bool = True
    ) -> None:
        self._stream = stream
        self._enabled = enabled
        self._every = max(1, every)
        self._app = ""
        self._total = 0
        self._done = 0
        self._base: dict[str, int] = {}

    def say(self, message: str) -> None:
        """Prints one line."""
        if self._enabled:
            stream = self._stream or sys.stderr
            print(f"[migrate] {message}", file=stream, flush=True)

    @staticmethod
    def _counts(report: MigrationReport) -> dict[str, int]:
        return {
            "copied": report.sessions_copied,
            "up to date": report.sessions_skipped,
            "conflicts": len(report.conflicts),
            "pending": report.sessions_pending,
            "events": report.events_copied,
            "equal": report.sessions_verified,
            "mismatched": len(report.mismatches),
            "changed": len(report.behind),
        }

    def start(
        self, report: MigrationReport, app_name: str, total: int, phase: str
    ) -> None:
        """Begins counting the sessions of one app and phase."""
        self._app, self._total, self._done = app_name, total, 0
        self._base = self._counts(report)
        self.say(f"app {app_name!r}: {phase} {total} session(s)")

    def step(self, report: MigrationReport, *, verifying: bool = False) -> None:
        """Counts one session; prints a line every ``every`` and at the end."""
        self._done += 1
        if self._done % self._every and self._done != self._total:
            return
        now = self._counts(report)
        names = (
            ("equal", "mismatched", "changed")
            if verifying
            else ("copied", "up to date", "conflicts", "pending", "events")
        )
        counts = ", ".join(f"{now[n] - self._base[n]} {n}" for n in names)
        verb = "verified" if verifying else "checked"
        self.say(f"app {self._app!r}: {self._done}/{self._total} {verb} ({counts})")

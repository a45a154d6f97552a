"""Throwaway database servers on loopback for the benchmark.

`LocalPostgres` runs a private PostgreSQL cluster in a temporary directory on
a free 127.0.0.1 port. It keeps PostgreSQL's default durability settings
(``fsync``, ``synchronous_commit`` and ``full_page_writes`` on), as a real
deployment would, so the comparison does not flatter it or penalise it; pass
``settings`` to change that deliberately. The cluster uses the C locale and
UTF-8. `LocalRedisServer` is re-exported from `adk_redis_session.testing`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from ..testing import LocalRedisServer, free_port

__all__ = ["LocalPostgres", "LocalRedisServer", "postgres_bin_dir"]

_INSTALL_HINT = "apt-get install -y postgresql (or scripts/ensure_postgres.sh)"


def postgres_bin_dir() -> Path | None:
    """Finds a directory holding ``initdb`` and ``pg_ctl``, or returns None.

    Looks on ``PATH`` first (following symlinks), then in
    ``/usr/lib/postgresql/<version>/bin``, highest version first.
    """
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates += [Path(on_path).resolve().parent, Path(on_path).parent]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name))

    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True
    )
    for directory in candidates:
        if all(os.access(directory / name, os.X_OK) for name in ("initdb", "pg_ctl")):
            return directory
    return None


class LocalPostgres:
    """A PostgreSQL server on 127.0.0.1 owned by the caller.

    Runs as the ``postgres`` user (via ``runuser``) when started by root,
    since ``initdb`` refuses root; as the current user otherwise.

    Args:
        database: Name of the database created for the caller.
        settings: Extra server settings, passed as ``-c name=value``.
        startup_timeout: Seconds to wait for the server to accept connections.
    """

    def __init__(
        self,
        *,
        database: str = "bench",
        settings: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.database = database
        self.settings = dict(settings or {})
        self.startup_timeout = startup_timeout
        self.port = 0
        self.dir: Path | None = None
        self.startup_seconds = 0.0
        self._bin: Path | None = None
        self._as_postgres = False

    @property
    def url(self) -> str:
        """The SQLAlchemy ``postgresql+asyncpg://`` URL of the database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> LocalPostgres:
        """Creates the cluster, starts the server and creates the database."""
        began = time.perf_counter()
        self._bin = postgres_bin_dir()
        if self._bin is None:
            raise RuntimeError(f"PostgreSQL server binaries not found; {_INSTALL_HINT}")
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres and shutil.which("runuser") is None:
            raise RuntimeError("running as root needs `runuser` to drop to postgres")
        self.dir = Path(tempfile.mkdtemp(prefix="adk-pg-"))
        try:
            if self._as_postgres:
                try:
                    shutil.chown(self.dir, user="postgres")
                except LookupError:
                    raise RuntimeError(
                        f"no `postgres` user to run PostgreSQL as; {_INSTALL_HINT}"
                    ) from None
            self._run(
                [
                    str(self._bin / "initdb"),
                    *("-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"),
                    *("-E", "UTF8", "--locale=C", "--no-sync"),
                ],
                "initdb",
            )
            self._start_server()
            self._run(
                [
                    str(self._client("createdb")),
                    *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
                    self.database,
                ],
                "createdb",
                as_postgres=False,
            )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - began
        return self

    def _start_server(self) -> None:
        assert self.dir is not None and self._bin is not None
        options = [f"-c {name}={value}" for name, value in self.settings.items()]
        error = ""
        for _ in range(3):  # the free port can be taken between probe and bind
            self.port = free_port()
            opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
            result = self._run(
                [
                    str(self._bin / "pg_ctl"),
                    *("-D", str(self.dir / "data"), "-l", str(self.dir / "log")),
                    *("-w", "-t", str(round(self.startup_timeout))),
                    *("-o", " ".join([opts, *options]), "start"),
                ],
                "pg_ctl start",
                check=False,
            )
            if result.returncode == 0:
                return
            error = result.stdout + self._log_tail()
            self._pg_ctl_stop()
        raise RuntimeError(f"PostgreSQL did not start: {error}")

    def _client(self, name: str) -> Path:
        assert self._bin is not None
        path = self._bin / name
        found = path if path.exists() else shutil.which(name)
        if found is None:
            raise RuntimeError(f"PostgreSQL client `{name}` not found; {_INSTALL_HINT}")
        return Path(found)

    def _run(
        self,
        args: Sequence[str],
        what: str,
        *,
        check: bool = True,
        as_postgres: bool | None = None,
    ) -> subprocess.CompletedProcess[str]:
        drop = self._as_postgres if as_postgres is None else as_postgres
        command = ["runuser", "-u", "postgres", "--", *args] if drop else list(args)
        result = subprocess.run(
            command,
            cwd=self.dir,  # the postgres user may not be able to enter ours
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=self.startup_timeout + 30.0,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{what} failed ({result.returncode}): "
                f"{result.stdout[-1500:]}{self._log_tail()}"
            )
        return result

    def _log_tail(self) -> str:
        log = self.dir / "log" if self.dir is not None else None
        if log is None or not log.exists():
            return ""
        return "\nserver log tail:\n" + log.read_text(errors="replace")[-1500:]

    def _pg_ctl_stop(self) -> None:
        if self._bin is None or self.dir is None:
            return
        if (self.dir / "data" / "postmaster.pid").exists():
            self._run(
                [
                    str(self._bin / "pg_ctl"),
                    *("-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"),
                ],
                "pg_ctl stop",
                check=False,
            )

    def stop(self) -> None:
        """Stops the server (fast shutdown) and removes its directory."""
        self._pg_ctl_stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

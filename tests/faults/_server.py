"""A redis-server a fault test may kill -9, freeze and restart in place.

`adk_redis_session.testing.LocalRedisServer` picks a new port and a new
directory on every start; a crash test needs the same port (clients
reconnect to it) and the same directory (the AOF must be read back).
`RestartableRedis` keeps both for its whole life. It only ever signals the
process it started, by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from adk_redis_session.testing import free_port


class RestartableRedis:
    """A ``redis-server`` (or ``valkey-server``) on a fixed loopback port.

    Args:
        port: The port to use; a free one by default. The server need not
            be started: a test may point a client at a port nobody listens on.
        durable: ``appendonly yes`` + ``appendfsync always``: every write is
            in the AOF (written and fsynced) before its reply is sent.
        extra_args: More ``--option value`` arguments.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        durable: bool = True,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = os.environ.get("REDIS_SERVER_BIN", "redis-server")
        if shutil.which(self.binary) is None:
            raise RuntimeError(f"{self.binary!r} not found")
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="adk-faults-"))
        self.durable = durable
        self.extra_args = extra_args
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not running"
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _command(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.durable
            else ["--appendonly", "no"]
        )
        return [
            self.binary,
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--dir", str(self.dir), "--save", "", "--daemonize", "no"),
            *("--logfile", str(self.dir / "redis.log")),
            *persistence,
            *self.extra_args,
        ]

    def start(self, timeout: float = 15.0) -> RestartableRedis:
        """Starts (or restarts) the server; returns once it answers PING.

        A server that is loading its AOF answers ``-LOADING``, so this also
        waits until the data set is back.
        """
        assert not self.running, "already running"
        deadline = time.monotonic() + timeout
        while True:
            self._proc = subprocess.Popen(
                self._command(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready(deadline):
                self.starts += 1
                return self
            # Exited at once: the port may still be held by the old process's
            # last moments; try again until the deadline.
            self._reap()
            if time.monotonic() >= deadline:
                raise RuntimeError(f"redis-server did not start: {self.log_tail()}")
            time.sleep(0.05)

    def _wait_ready(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.01)
        return False

    def _reap(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(10)
            self._proc = None

    def kill9(self) -> None:
        """SIGKILL: no shutdown, no final fsync, no goodbye to clients."""
        assert self._proc is not None and self._proc.poll() is None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(10)
        self._proc = None

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections; nothing answers."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stops the server if it runs (a frozen one is thawed first)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGCONT)
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None

    def log_tail(self, chars: int = 800) -> str:
        log = self.dir / "redis.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def log_count(self, needle: str) -> int:
        log = self.dir / "redis.log"
        return log.read_text(errors="replace").count(needle) if log.exists() else 0

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RestartableRedis:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

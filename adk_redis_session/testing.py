"""Helpers for tests, demos and benchmarks: a throwaway local redis-server.

`LocalRedisServer` starts a real ``redis-server`` on a free loopback port in a
temporary directory and stops it again. It never touches a server it did not
start, so tests may FLUSHALL it freely.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["LocalRedisServer", "free_port"]


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRedisServer:
    """A ``redis-server`` process on 127.0.0.1 owned by the caller.

    Args:
        binary: Path or name of the server binary (``REDIS_SERVER_BIN`` or
            ``redis-server`` by default).
        extra_args: More ``--option value`` arguments for the server.
        startup_timeout: Seconds to wait for the server to accept connections.
    """

    def __init__(
        self,
        *,
        binary: str | None = None,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 10.0,
    ) -> None:
        self.binary = binary or os.environ.get("REDIS_SERVER_BIN", "redis-server")
        self.extra_args = extra_args
        self.startup_timeout = startup_timeout
        self.port = 0
        self.dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of the running server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedisServer:
        """Starts the server and waits until it answers PING."""
        if shutil.which(self.binary) is None:
            raise RuntimeError(
                f"{self.binary!r} not found; install it (Debian: "
                "apt-get install -y redis-server) or set REDIS_SERVER_BIN"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="adk-redis-"))
        last_error = ""
        for _ in range(5):  # the free port can be taken between probe and bind
            self.port = free_port()
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.dir),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--logfile",
                    str(self.dir / "redis.log"),
                    *self.extra_args,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready():
                return self
            last_error = (self.dir / "redis.log").read_text(errors="replace")[-500:]
            self._kill()
        raise RuntimeError(f"redis-server did not start: {last_error}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def stop(self) -> None:
        """Stops the server and removes its directory."""
        self._kill()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> LocalRedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

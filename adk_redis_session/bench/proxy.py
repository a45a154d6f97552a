"""A TCP proxy on loopback that adds a fixed one-way delay, for latency benchmarks.

This kernel has no ``netem``, so network latency is simulated in userspace.
`DelayProxy` listens on 127.0.0.1 and forwards every connection to a target.
Each direction of each connection has a reader thread, which timestamps every
chunk as it arrives (``time.perf_counter``), and a sender thread, which
forwards the chunk at arrival + ``delay_ms``: it sleeps most of the wait and
spins the last 0.1 ms. Chunks keep their order and pipeline (each has its own
deadline), so a round trip through the proxy costs ``2 * delay_ms`` plus the
proxy's own overhead, which `measure_proxy_overhead` reports. OS threads are
used, not asyncio, whose timers round sleeps up to about a millisecond.

Limits: the TCP handshake itself is not delayed (opening a connection costs
no simulated round trip; pools amortise it anyway); there is no bandwidth
limit, jitter or loss.

By default the proxy runs in a child interpreter (``process=True``): its
threads need the GIL for every chunk, and in the process under test they would
wait for a busy asyncio loop (up to the 5 ms switch interval each time). With
a CPU-bound thread in the measuring process, the proxy added ~25 ms per round
trip in-process and ~5 ms as a child, on top of the requested delay.
``process=False`` keeps the threads in this process (cheaper to start, fine
when this process is idle between round trips). The module uses only the
standard library so the child can run it as a plain script.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import queue
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit, urlunsplit

__all__ = ["DelayProxy", "EchoServer", "measure_proxy_overhead"]

_CHUNK = 256 * 1024
_SPIN_S = 0.0001  # spin-wait this much of each delay for precision
_JOIN_TIMEOUT_S = 2.0
_Item = tuple[float, bytes | None]  # (deadline, chunk); b"" = EOF, None = reset


def _nodelay(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _fine_timer_slack() -> None:
    """Asks Linux to wake this thread's sleeps on time (default slack: 50 us)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK, 1 ns


def _wait_until(deadline: float) -> None:
    remaining = deadline - time.perf_counter()
    if remaining > _SPIN_S:
        time.sleep(remaining - _SPIN_S)
    while time.perf_counter() < deadline:
        pass


def _spawn(target: Callable[..., None], name: str, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread


class _Connection:
    """One proxied connection: four threads, two sockets."""

    def __init__(
        self, client: socket.socket, upstream: socket.socket, delay_s: float
    ) -> None:
        self._socks = (client, upstream)
        self._delay_s = delay_s
        self._lock = threading.Lock()
        self._running = 4
        self.threads: list[threading.Thread] = []
        for src, dst, tag in ((client, upstream, "up"), (upstream, client, "down")):
            q: queue.SimpleQueue[_Item] = queue.SimpleQueue()
            self.threads.append(_spawn(self._read, f"proxy-read-{tag}", src, q))
            self.threads.append(_spawn(self._send, f"proxy-send-{tag}", dst, q))

    def alive(self) -> bool:
        """Whether any of the connection's threads still runs."""
        return any(thread.is_alive() for thread in self.threads)

    def abort(self) -> None:
        """Shuts both sockets down, which wakes and ends all four threads."""
        for sock in self._socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Closes both sockets (idempotent)."""
        for sock in self._socks:
            sock.close()

    def _thread_done(self) -> None:
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            self.close()

    def _read(self, src: socket.socket, q: queue.SimpleQueue[_Item]) -> None:
        end: bytes | None = b""
        try:
            while data := src.recv(_CHUNK):
                q.put((time.perf_counter() + self._delay_s, data))
        except OSError:
            end = None
        finally:
            q.put((time.perf_counter() + self._delay_s, end))
            self._thread_done()

    def _send(self, dst: socket.socket, q: queue.SimpleQueue[_Item]) -> None:
        _fine_timer_slack()
        try:
            while True:
                deadline, data = q.get()
                _wait_until(deadline)
                if data is None:
                    self.abort()
                    return
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
        except OSError:
            self.abort()
        finally:
            self._thread_done()


class DelayProxy:
    """Forwards 127.0.0.1:`port` to a target, delaying each chunk `delay_ms`.

    Args:
        target_host: Host of the server to forward to.
        target_port: Port of the server to forward to.
        delay_ms: One-way delay added in each direction, in milliseconds; a
            round trip gains ``2 * delay_ms``. May be 0.
        process: Run the proxy threads in a child Python process (default),
            so they never wait for this process's GIL; False runs them here.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        delay_ms: float = 0.0,
        process: bool = True,
    ) -> None:
        if delay_ms < 0:
            raise ValueError("delay_ms must be >= 0")
        self.target_host = target_host
        self.target_port = target_port
        self.delay_ms = float(delay_ms)
        self.process = process
        self.port = 0
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: list[_Connection] = []
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._child_err: IO[bytes] | None = None

    def start(self) -> DelayProxy:
        """Starts listening on a free loopback port and returns self."""
        if self.process:
            self._start_child()
            return self
        self._stopping.clear()
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        listener.settimeout(0.1)  # lets the accept loop notice stop()
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._acceptor = _spawn(self._accept_loop, "proxy-accept")
        return self

    def stop(self) -> None:
        """Closes the listener and every connection, then joins the threads."""
        if self._child is not None:
            self._stop_child()
            return
        self._stopping.set()
        if self._acceptor is not None:
            self._acceptor.join(_JOIN_TIMEOUT_S)
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.abort()
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        for conn in conns:
            for thread in conn.threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            conn.close()

    def url_for(self, url: str) -> str:
        """Returns `url` (``redis://``, ``postgresql+asyncpg://``, ...) via the proxy.

        Only the host and port change; user, password, path and query stay.
        """
        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"URL has no host to replace: {url!r}")
        userinfo, _, _ = parts.netloc.rpartition("@")
        netloc = f"{userinfo}@" if userinfo else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{self.port}"))

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.setblocking(True)
            try:
                upstream = socket.create_connection(
                    (self.target_host, self.target_port), timeout=5.0
                )
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            _nodelay(client)
            _nodelay(upstream)
            conn = _Connection(client, upstream, self.delay_ms / 1000.0)
            with self._lock:
                self._conns = [c for c in self._conns if c.alive()]
                self._conns.append(conn)
            if self._stopping.is_set():
                conn.abort()

    def _start_child(self) -> None:
        self._child_err = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self._child = subprocess.Popen(
            [
                sys.executable,
                "-I",  # isolated: stdlib only, script dir not on sys.path
                os.path.abspath(__file__),
                self.target_host,
                str(self.target_port),
                f"--delay-ms={self.delay_ms!r}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._child_err,
        )
        assert self._child.stdout is not None
        ready, _, _ = select.select([self._child.stdout], [], [], 10.0)
        line = self._child.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self._child_err.seek(0)
            err = self._child_err.read().decode(errors="replace")[-1000:]
            self._stop_child()
            raise RuntimeError(f"delay proxy process did not start: {err}")
        self.port = int(line)

    def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            assert child.stdin is not None and child.stdout is not None
            with contextlib.suppress(OSError):
                child.stdin.close()  # the child stops when its stdin closes
            try:
                child.wait(_JOIN_TIMEOUT_S + 1.0)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5.0)
            child.stdout.close()
        if self._child_err is not None:
            self._child_err.close()
            self._child_err = None

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EchoServer:
    """A threaded TCP echo server on a free loopback port (for measurements)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._stopping = threading.Event()
        self._socks: list[socket.socket] = []
        self._threads = [_spawn(self._accept_loop, "echo-accept")]

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setblocking(True)
            _nodelay(sock)
            self._socks.append(sock)
            self._threads.append(_spawn(self._echo, "echo", sock))

    @staticmethod
    def _echo(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := sock.recv(_CHUNK):
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stops accepting, closes every connection and joins the threads."""
        self._stopping.set()
        self._threads[0].join(_JOIN_TIMEOUT_S)
        self._listener.close()
        for sock in self._socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads[1:]:
            thread.join(_JOIN_TIMEOUT_S)
        for sock in self._socks:
            sock.close()

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _ping_pong_ms(port: int, n: int, warmup: int = 20) -> list[float]:
    """Times `n` round trips of 64 bytes to an echo server on `port`."""
    payload = b"x" * 64
    times: list[float] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        _nodelay(sock)
        for i in range(warmup + n):
            start = time.perf_counter()
            sock.sendall(payload)
            got = 0
            while got < len(payload):
                chunk = sock.recv(len(payload) - got)
                if not chunk:
                    raise ConnectionError("echo server closed the connection")
                got += len(chunk)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000.0)
    return sorted(times)


def _percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(q * len(sorted_ms)) - 1))]


def measure_proxy_overhead(
    delay_ms: float, n: int = 300, *, process: bool = True
) -> dict[str, float]:
    """Measures what a `DelayProxy` adds to a 64-byte round trip on loopback.

    Times `n` ping-pongs against a threaded echo server, first directly, then
    through ``DelayProxy(delay_ms=delay_ms, process=process)``.

    Args:
        delay_ms: The proxy's one-way delay.
        n: Round trips to time on each path (after 20 warm-up ones).
        process: Run the proxy in a child process (see `DelayProxy`).

    Returns:
        ``direct_p50_ms``, ``direct_p99_ms``, ``proxied_p50_ms``,
        ``proxied_p99_ms``, ``expected_added_ms`` (``2 * delay_ms``) and
        ``overhead_p50_ms`` (proxied p50 - direct p50 - expected added).
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    with EchoServer() as echo:
        direct = _ping_pong_ms(echo.port, n)
        with DelayProxy(
            "127.0.0.1", echo.port, delay_ms=delay_ms, process=process
        ) as proxy:
            proxied = _ping_pong_ms(proxy.port, n)
    expected = 2.0 * delay_ms
    return {
        "direct_p50_ms": _percentile(direct, 0.5),
        "direct_p99_ms": _percentile(direct, 0.99),
        "proxied_p50_ms": _percentile(proxied, 0.5),
        "proxied_p99_ms": _percentile(proxied, 0.99),
        "expected_added_ms": expected,
        "overhead_p50_ms": _percentile(proxied, 0.5)
        - _percentile(direct, 0.5)
        - expected,
    }


def main(argv: list[str] | None = None) -> int:
    """Runs a proxy until stdin closes; prints its port on the first line."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("target_host")
    parser.add_argument("target_port", type=int)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    with DelayProxy(
        args.target_host, args.target_port, delay_ms=args.delay_ms, process=False
    ) as p:
        print(p.port, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            sys.stdin.buffer.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

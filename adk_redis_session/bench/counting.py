"""A TCP proxy on loopback that counts round trips and bytes to a server.

Used once per backend and workload to measure what one operation costs on the
wire. It runs in the caller's asyncio loop, so it is for counting only, never
for timing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

__all__ = ["CountingProxy", "Traffic", "rewrite_url"]

_CHUNK = 65536


@dataclass
class Traffic:
    """What passed through a `CountingProxy` since the last reset.

    Attributes:
        round_trips: Times the client started sending after the server last
            spoke (a pipeline of many commands counts once).
        bytes_sent: Bytes from the client to the server.
        bytes_received: Bytes from the server to the client.
    """

    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


def rewrite_url(url: str, port: int, host: str = "127.0.0.1") -> str:
    """Returns `url` with its host and port replaced (user, path, query kept).

    Args:
        url: A ``redis://`` or ``postgresql+asyncpg://`` (or similar) URL.
        port: The new port.
        host: The new host.
    """
    parts = urlsplit(url)
    if not parts.netloc:
        raise ValueError(f"URL has no host to replace: {url!r}")
    userinfo, _, _ = parts.netloc.rpartition("@")
    prefix = f"{userinfo}@" if userinfo else ""
    return urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}"))


class CountingProxy:
    """Forwards 127.0.0.1:`port` to a target and counts what passes.

    A round trip is counted each time a client starts sending after the server
    last spoke, over all connections together: requests sent on several
    connections at once before any reply count once, as they cost the network
    one round trip of latency. One over-count: when a large pipelined write
    is still streaming in and the server already answers its first command
    (e.g. ``MULTI`` before a big ``SET``), the rest of the write counts again.

    Args:
        target_host: Host of the server to forward to.
        target_port: Port of the server to forward to.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.traffic = Traffic()
        self._last = "server"
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> CountingProxy:
        """Starts listening on a free loopback port and returns self."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        """Stops listening and closes every proxied connection."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()  # both pumps of each connection then see EOF
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=2.0)
            for task in pending:
                task.cancel()
        await self._server.wait_closed()
        self._server = None

    def reset(self) -> Traffic:
        """Returns the traffic counted so far and starts counting from zero."""
        done, self.traffic = self.traffic, Traffic()
        self._last = "server"
        return done

    def url_for(self, url: str) -> str:
        """Returns `url` with its host and port pointing at this proxy."""
        return rewrite_url(url, self.port)

    async def __aenter__(self) -> CountingProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, "client"),
                self._pump(up_reader, writer, "server"),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # stop() gave up waiting; end quietly like a closed connection
        finally:
            for end in (writer, up_writer):
                end.close()
                self._writers.discard(end)
            if task is not None:
                self._tasks.discard(task)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        side: str,
    ) -> None:
        try:
            while chunk := await reader.read(_CHUNK):
                if side == "client":
                    if self._last != "client":
                        self.traffic.round_trips += 1
                    self.traffic.bytes_sent += len(chunk)
                else:
                    self.traffic.bytes_received += len(chunk)
                self._last = side
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()

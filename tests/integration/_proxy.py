"""A TCP proxy on loopback that counts round trips and bytes to a server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class Traffic:
    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


class CountingProxy:
    """Forwards 127.0.0.1:<port> to a target and counts what passes.

    A round trip is counted each time the client starts sending after the
    server last spoke, so a pipeline of many commands counts once.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.traffic = Traffic()
        self._last = "server"
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def reset(self) -> Traffic:
        done, self.traffic = self.traffic, Traffic()
        return done

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        await asyncio.gather(
            self._pump(reader, up_writer, "client"),
            self._pump(up_reader, writer, "server"),
            return_exceptions=True,
        )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        side: str,
    ) -> None:
        try:
            while chunk := await reader.read(65536):
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

"""A loopback TCP proxy that cuts connections at chosen points of a request.

`ChaosProxy` forwards every connection to a Redis server. For each chunk the
client sends it draws, with probability ``rate``, one of five faults:

* ``drop_request``: the chunk is never forwarded; the connection is cut.
  The server never sees the command.
* ``partial_request``: half of the chunk is forwarded, then the cut. The
  server sees an incomplete command and discards it with the connection.
* ``in_flight``: the chunk is forwarded and the connection cut at once,
  without waiting: the server may or may not run the command.
* ``drop_reply``: the chunk is forwarded; when the server's reply arrives
  the connection is cut instead of relaying it. The server ran the command;
  the client never learns the outcome.
* ``partial_reply``: half of the reply is relayed, then the cut.

A cut aborts both sockets (RST), as a dying load balancer or NAT would.
Faults are drawn from a seeded ``random.Random``; ``enabled`` switches them
off (for setup and verification through the same proxy). ``arm(fault)``
instead injects one given fault into the next request that carries a
given command (``EVALSHA`` by default), for deterministic tests. The proxy runs in
the test's event loop, which is fine here: the tests measure correctness,
not latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter

FAULTS = (
    "drop_request",
    "partial_request",
    "in_flight",
    "drop_reply",
    "partial_reply",
)


class ChaosProxy:
    """Forwards 127.0.0.1:<port> to a server, cutting connections at random.

    Args:
        target_port: The server's port on 127.0.0.1.
        rate: Probability that a chunk from the client triggers a fault
            (0: only armed faults).
        seed: Seed of the fault draws.
        faults: The faults to draw from (all five by default).
    """

    def __init__(
        self,
        target_port: int,
        *,
        rate: float = 0.0,
        seed: int = 0,
        faults: tuple[str, ...] = FAULTS,
    ) -> None:
        unknown = set(faults) - set(FAULTS)
        assert not unknown, unknown
        self.target_port = target_port
        self.rate = rate
        self.faults = faults
        self.enabled = True
        self.port = 0
        self.cuts: Counter[str] = Counter()
        #: Cuts whose chunk carried an EVALSHA (a script call: an append).
        self.script_cuts = 0
        self.connections = 0
        self._rng = random.Random(seed)
        self._armed: list[tuple[str, bytes]] = []
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def total_cuts(self) -> int:
        return sum(self.cuts.values())

    async def start(self) -> ChaosProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    def arm(self, fault: str, command: bytes = b"EVALSHA") -> None:
        """Injects ``fault`` into the next request that contains ``command``."""
        assert fault in FAULTS, fault
        self._armed.append((fault, command))

    @property
    def armed(self) -> bool:
        return bool(self._armed)

    def _draw(self, chunk: bytes) -> str | None:
        if self._armed and self._armed[0][1] in chunk.upper():
            return self._armed.pop(0)[0]
        if not self.enabled or self.rate <= 0 or self._rng.random() >= self.rate:
            return None
        return self._rng.choice(self.faults)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: list[asyncio.StreamWriter] = []
        try:
            await self._serve(reader, writer, upstream)
        except asyncio.CancelledError:
            pass  # stop(): end quietly
        finally:
            self._tasks.discard(task)
            writer.transport.abort()
            for up_writer in upstream:
                up_writer.transport.abort()

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: list[asyncio.StreamWriter],
    ) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            return
        upstream.append(up_writer)
        # Faults waiting for the next reply chunk, with the request they hit.
        pending: list[tuple[str, bytes]] = []
        cut = asyncio.Event()

        def abort(fault: str, chunk: bytes) -> None:
            if not cut.is_set():
                self.cuts[fault] += 1
                if b"EVALSHA" in chunk.upper():
                    self.script_cuts += 1
                cut.set()
            writer.transport.abort()
            up_writer.transport.abort()

        async def client_to_server() -> None:
            while chunk := await reader.read(65536):
                fault = self._draw(chunk)
                if fault == "drop_request":
                    abort(fault, chunk)
                    return
                if fault == "partial_request":
                    up_writer.write(chunk[: max(1, len(chunk) // 2)])
                    await up_writer.drain()
                    abort(fault, chunk)
                    return
                up_writer.write(chunk)
                await up_writer.drain()
                if fault == "in_flight":
                    abort(fault, chunk)
                    return
                if fault is not None:  # drop_reply / partial_reply
                    pending.append((fault, chunk))
            up_writer.close()

        async def server_to_client() -> None:
            while chunk := await up_reader.read(65536):
                if pending:
                    fault, request = pending.pop(0)
                    if fault == "partial_reply" and len(chunk) > 1:
                        writer.write(chunk[: len(chunk) // 2])
                        await writer.drain()
                    abort(fault, request)
                    return
                writer.write(chunk)
                await writer.drain()
            writer.close()

        await asyncio.gather(
            client_to_server(), server_to_client(), return_exceptions=True
        )

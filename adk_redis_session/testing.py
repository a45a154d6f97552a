"""Helpers for tests, demos and benchmarks: throwaway local Redis servers.

`LocalRedisServer` starts a real ``redis-server`` on a free loopback port in a
temporary directory and stops it again. `LocalRedisCluster` starts several
such servers in cluster mode and joins them into a Redis Cluster with
``redis-cli --cluster create``. Neither touches a server it did not start, so
tests may FLUSHALL them freely.
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

import redis

__all__ = ["LocalRedisCluster", "LocalRedisServer", "free_port"]


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


def _cli_for(server_binary: str) -> str:
    """The ``redis-cli`` matching a server binary (``valkey-cli`` for Valkey)."""
    explicit = os.environ.get("REDIS_CLI_BIN")
    if explicit:
        return explicit
    found = shutil.which(server_binary)
    if found is not None:
        path = Path(found)
        sibling = path.with_name(path.name.replace("-server", "-cli"))
        if sibling != path and sibling.exists():
            return str(sibling)
    return "redis-cli"


class LocalRedisCluster:
    """A Redis Cluster of ``masters`` local servers, no replicas.

    Each node is a `LocalRedisServer` started with ``--cluster-enabled yes``
    on free loopback ports (client and cluster bus), in its own temporary
    directory; ``redis-cli --cluster create`` then spreads the 16384 slots
    over them. `start` returns once every node reports ``cluster_state:ok``
    and knows every other node, which takes about 2.5 s for 3 masters.

    Args:
        masters: Number of primaries (``redis-cli`` needs at least 3).
        binary: Server binary (``REDIS_SERVER_BIN`` or ``redis-server``).
        cli: ``redis-cli`` binary (``REDIS_CLI_BIN``, else the ``-cli``
            next to the server binary, else ``redis-cli``).
        startup_timeout: Seconds to wait for the cluster to become ready.
    """

    def __init__(
        self,
        *,
        masters: int = 3,
        binary: str | None = None,
        cli: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if masters < 3:
            raise ValueError("a Redis Cluster needs at least 3 masters")
        self.masters = masters
        self.binary = binary or os.environ.get("REDIS_SERVER_BIN", "redis-server")
        self.cli = cli or _cli_for(self.binary)
        self.startup_timeout = startup_timeout
        self.nodes: list[LocalRedisServer] = []

    @property
    def ports(self) -> list[int]:
        """The client ports of the nodes."""
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """A ``redis://`` URL of one node; cluster clients discover the rest."""
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> LocalRedisCluster:
        """Starts the nodes, creates the cluster and waits until it is ready."""
        if shutil.which(self.cli) is None:
            raise RuntimeError(
                f"{self.cli!r} not found; install it (Debian: apt-get install -y "
                "redis-tools) or set REDIS_CLI_BIN"
            )
        try:
            for _ in range(self.masters):
                node = LocalRedisServer(
                    binary=self.binary,
                    extra_args=(
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                        # Explicit: the default (port + 10000) may be taken
                        # or beyond 65535.
                        "--cluster-port",
                        str(free_port()),
                    ),
                )
                self.nodes.append(node.start())
            self._create()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        command = [
            self.cli,
            "--cluster",
            "create",
            *(f"127.0.0.1:{port}" for port in self.ports),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=self.startup_timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"redis-cli --cluster create failed ({result.returncode}): "
                f"{(result.stdout + result.stderr)[-1000:]}"
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.ports)
        while pending:
            pending = [port for port in pending if not self._node_ready(port)]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster nodes {pending} did not become ready")
            time.sleep(0.05)

    def _node_ready(self, port: int) -> bool:
        """Whether a node says the cluster is ok and knows every node."""
        client = redis.Redis(port=port, socket_timeout=1.0, decode_responses=True)
        try:
            info = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
        except redis.RedisError:
            return False
        finally:
            client.close()
        return (
            info.get("cluster_state") == "ok"
            and str(info.get("cluster_slots_ok")) == "16384"
            and str(info.get("cluster_known_nodes")) == str(self.masters)
        )

    def stop(self) -> None:
        """Stops every node and removes their directories."""
        for node in self.nodes:
            node.stop()
        self.nodes = []

    def __enter__(self) -> LocalRedisCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""An offline Cloud SQL for PostgreSQL: fake Admin API, real TLS, real database.

The Cloud SQL Python Connector makes two Admin API calls per refresh and then
opens a TLS connection (TLS 1.3, client certificate) to port 3307 of the
instance IP. `FakeCloudSql` provides all three on loopback:

* an HTTP server for ``GET .../instances/<i>/connectSettings`` and
  ``POST .../instances/<i>:generateEphemeralCert`` (checking the bearer token,
  signing the connector's public key with a throwaway CA);
* one TLS endpoint per IP type (public, private, PSC), each on its own
  127.x.y.z address at port 3307, that requires a client certificate signed
  by that CA and forwards the decrypted stream to a real PostgreSQL.

Every request and connection is recorded so tests can assert what the
connector did. Threads only; nothing here touches the test's event loop.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import random
import re
import select
import socket
import ssl
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import google.oauth2.credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN = "fake-admin-token"
LOGIN_TOKEN = "fake-iam-login-token"
PORT = 3307  # the connector always dials this port


class FakeCredentials(google.oauth2.credentials.Credentials):  # type: ignore[misc]
    """A bearer token that "refreshes" offline (IAM auth down-scopes + refreshes)."""

    def refresh(self, request: Any) -> None:
        self.token = LOGIN_TOKEN
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        self.expiry = now + datetime.timedelta(hours=1)


def fake_credentials() -> FakeCredentials:
    return FakeCredentials(token=TOKEN)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class CertificateAuthority:
    """A throwaway CA (EC P-256) that signs leaf certificates."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("fake Cloud SQL CA"))
            .issuer_name(_name("fake Cloud SQL CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(
        self,
        common_name: str,
        public_key: Any,
        hours: float = 1.0,
        ip: str | None = None,
    ) -> str:
        builder = x509.CertificateBuilder()
        if ip is not None:
            san = x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip))]
            )
            builder = builder.add_extension(san, critical=False)
        cert = (
            builder.subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(hours=hours))
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue_files(
        self, common_name: str, directory: Path, ip: str | None = None
    ) -> tuple[Path, Path]:
        """A new key and a certificate for it, written as PEM files."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert_path = directory / f"{common_name}.pem"
        key_path = directory / f"{common_name}.key"
        cert_path.write_text(self.sign(common_name, key.public_key(), 24, ip))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path


@dataclass
class Recorded:
    """What the fake saw."""

    api_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    connections: Counter[str] = field(default_factory=Counter)
    client_certs: list[str] = field(default_factory=list)
    tls_errors: list[str] = field(default_factory=list)


class _TlsForwarder:
    """Accepts TLS on (ip, 3307) and forwards plaintext to PostgreSQL."""

    def __init__(
        self, ip: str, ctx: ssl.SSLContext, target_port: int, recorded: Recorded
    ) -> None:
        self.ip = ip
        self._ctx = ctx
        self._target_port = target_port
        self._recorded = recorded
        self._listener = socket.create_server((ip, PORT))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            raw.settimeout(None)
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.update(socks)

    def _handle(self, raw: socket.socket) -> None:
        self._track(raw)
        try:
            tls = self._ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self._recorded.tls_errors.append(f"{self.ip}: {exc}")
            raw.close()
            return
        peer = tls.getpeercert() or {}
        subject = dict(item[0] for item in peer.get("subject", ()))
        self._recorded.client_certs.append(str(subject.get("commonName")))
        self._recorded.connections[self.ip] += 1
        upstream = socket.create_connection(("127.0.0.1", self._target_port))
        self._track(tls, upstream)
        try:
            self._pump(tls, upstream)
        finally:
            for sock in (tls, upstream):
                sock.close()

    @staticmethod
    def _pump(tls: ssl.SSLSocket, upstream: socket.socket) -> None:
        peers: dict[socket.socket, socket.socket] = {tls: upstream, upstream: tls}
        try:
            while True:
                if tls.pending():
                    ready: list[socket.socket] = [tls]
                else:
                    ready, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()
            self._open.clear()


def _loopback_ips(count: int) -> list[str]:
    """Random 127.x.y.z addresses whose port 3307 is free."""
    ips: list[str] = []
    while len(ips) < count:
        a, b, c = (
            random.randint(100, 250),
            random.randint(0, 255),
            random.randint(1, 254),
        )
        ip = f"127.{a}.{b}.{c}"
        if ip in ips:
            continue
        try:
            with socket.create_server((ip, PORT)):
                ips.append(ip)
        except OSError:
            continue
    return ips


class FakeCloudSql:
    """A fake Cloud SQL instance forwarding to a real PostgreSQL on ``pg_port``.

    Args:
        pg_port: The port of a PostgreSQL on 127.0.0.1.
        project, region, instance: The instance connection name parts.
    """

    def __init__(
        self,
        pg_port: int,
        *,
        project: str = "fake-project",
        region: str = "europe-west1",
        instance: str = "fake-instance",
    ) -> None:
        self.pg_port = pg_port
        self.project, self.region, self.instance = project, region, instance
        self.recorded = Recorded()
        self.ca = CertificateAuthority()
        self.ips: dict[str, str] = {}
        self._forwarders: list[_TlsForwarder] = []
        self._http: ThreadingHTTPServer | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-cloudsql-")

    @property
    def instance_connection_name(self) -> str:
        return f"{self.project}:{self.region}:{self.instance}"

    @property
    def api_endpoint(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> FakeCloudSql:
        ctx = self._server_context()
        public, private, psc = _loopback_ips(3)
        self.ips = {"public": public, "private": private, "psc": psc}
        for ip in self.ips.values():
            self._forwarders.append(_TlsForwarder(ip, ctx, self.pg_port, self.recorded))
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._http.daemon_threads = True
        threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        for forwarder in self._forwarders:
            forwarder.close()
        self._forwarders.clear()
        self._tmp.cleanup()

    def _server_context(self) -> ssl.SSLContext:
        cert, key = self.ca.issue_files(self.instance, Path(self._tmp.name))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.verify_mode = ssl.CERT_REQUIRED  # the connector's ephemeral cert
        ctx.load_verify_locations(cadata=self.ca.pem)
        return ctx

    def connect_settings(self) -> dict[str, Any]:
        return {
            "kind": "sql#connectSettings",
            "serverCaCert": {"kind": "sql#sslCert", "cert": self.ca.pem},
            "ipAddresses": [
                {"type": "PRIMARY", "ipAddress": self.ips["public"]},
                {"type": "PRIVATE", "ipAddress": self.ips["private"]},
            ],
            "region": self.region,
            "databaseVersion": "POSTGRES_15",
            "backendType": "SECOND_GEN",
            "pscEnabled": True,
            "dnsNames": [
                {
                    "name": self.ips["psc"] + ".",
                    "connectionType": "PRIVATE_SERVICE_CONNECT",
                    "dnsScope": "INSTANCE",
                }
            ],
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self
        base = f"/sql/v1beta4/projects/{re.escape(self.project)}/instances/"
        settings_path = re.compile(base + r"([^/:]+)/connectSettings$")
        cert_path = re.compile(base + r"([^/:]+):generateEphemeralCert$")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    return True
                self._reply(401, {"error": {"code": 401, "message": "bad token"}})
                return False

            def do_GET(self) -> None:
                fake.recorded.api_calls.append(("GET", self.path, {}))
                match = settings_path.match(self.path)
                if match is None or match.group(1) != fake.instance:
                    self._reply(404, {"error": {"code": 404, "message": "no such"}})
                    return
                if self._authorized():
                    self._reply(200, fake.connect_settings())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.recorded.api_calls.append(("POST", self.path, body))
                match = cert_path.match(self.path)
                if match is None or match.group(1) != fake.instance:
                    self._reply(404, {"error": {"code": 404, "message": "no such"}})
                    return
                if not self._authorized():
                    return
                public_key = serialization.load_pem_public_key(
                    body["public_key"].encode()
                )
                cert = fake.ca.sign("ephemeral", public_key)
                self._reply(
                    200, {"ephemeralCert": {"kind": "sql#sslCert", "cert": cert}}
                )

        return Handler

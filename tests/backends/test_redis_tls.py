"""rediss:// with a private CA and AUTH (ACL user), as on Memorystore.

Runs a TLS-only-for-clients redis-server of its own (Redis 7 is built with
TLS on Debian; the Valkey wheel is not, so this file is not in the Valkey
pass) and connects through the factory and the ADK registry hook with
``?ssl_ca_certs=`` in the URL, as docs/setup.md describes.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from adk_redis_session.adk_registry import redis_session_service
from adk_redis_session.backends import close_service, get_session_service
from adk_redis_session.errors import StoreUnavailableError
from adk_redis_session.testing import LocalRedisServer, free_port

from ._fake_cloudsql import CertificateAuthority
from .conftest import round_trip

PASSWORD = "tls-test-pw-9f2c"


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(rediss URL without CA, CA file) of a TLS redis-server with an ACL user."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    directory = tmp_path_factory.mktemp("tls")
    ca = CertificateAuthority()
    ca_file = directory / "ca.pem"
    ca_file.write_text(ca.pem)
    cert, key = ca.issue_files("redis", directory, ip="127.0.0.1")
    tls_port = free_port()
    server = LocalRedisServer(
        binary="redis-server",
        extra_args=(
            *("--tls-port", str(tls_port)),
            *("--tls-cert-file", str(cert), "--tls-key-file", str(key)),
            *("--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no"),
            # An ACL user with a password; the plain port stays for PING only.
            *("--user", "app", "on", f">{PASSWORD}", "~*", "+@all"),
        ),
    )
    with server:
        yield f"rediss://app:{PASSWORD}@127.0.0.1:{tls_port}/0", ca_file


async def test_factory_over_tls_with_auth(
    tls_redis: tuple[str, Path],
    key_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, ca_file = tls_redis
    caplog.set_level(logging.INFO, logger="adk_redis_session.backends")
    service = get_session_service(
        env={
            "REDIS_URL": f"{url}?ssl_ca_certs={ca_file}",
            "REDIS_KEY_PREFIX": key_prefix,
        }
    )
    try:
        await round_trip(service, "tls_app")
    finally:
        await close_service(service)
    assert PASSWORD not in caplog.text
    assert "rediss://app:***@127.0.0.1" in caplog.text


async def test_registry_hook_over_tls(
    tls_redis: tuple[str, Path], key_prefix: str
) -> None:
    url, ca_file = tls_redis
    service = redis_session_service(
        f"{url}?ssl_ca_certs={ca_file}&prefix={key_prefix}", agents_dir="x"
    )
    try:
        await round_trip(service, "tls_app")
    finally:
        await service.aclose()


async def test_unknown_ca_is_refused_without_leaking_the_password(
    tls_redis: tuple[str, Path], key_prefix: str
) -> None:
    url, _ = tls_redis
    service = get_session_service(
        env={"REDIS_URL": url, "REDIS_KEY_PREFIX": key_prefix}
    )
    try:
        with pytest.raises(StoreUnavailableError) as info:
            await service.create_session(app_name="tls_app", user_id="u1")
    finally:
        await close_service(service)
    assert "certificate verify failed" in str(info.value)
    assert PASSWORD not in str(info.value)

"""DatabaseSessionService on PostgreSQL: from a URL, and through the Cloud SQL
Python Connector against an offline fake of Cloud SQL (Admin API + TLS)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from google.adk.agents import LlmAgent
from google.adk.runners import Runner
from google.adk.sessions import DatabaseSessionService
from google.cloud.sql.connector import Connector
from google.genai import types

from adk_redis_session.backends import CloudSqlSettings
from adk_redis_session.bench.servers import LocalPostgres
from adk_redis_session.cloudsql import (
    CloudSqlSessionService,
    SqlEngine,
    normalize_database_url,
)
from adk_redis_session.scripted_model import ScriptedLlm

from ._fake_cloudsql import LOGIN_TOKEN, FakeCloudSql, fake_credentials
from .conftest import open_connections, round_trip

# -- URL normalization --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("postgres://u:pw@h:5432/db", "postgresql+asyncpg://u:pw@h:5432/db"),
        ("postgresql://u:pw@h/db", "postgresql+asyncpg://u:pw@h/db"),
        ("postgres+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        (
            "postgresql://u:pw@h/db?sslmode=require",
            "postgresql+asyncpg://u:pw@h/db?ssl=require",
        ),
    ],
)
def test_normalize_database_url(url: str, normalized: str) -> None:
    assert normalize_database_url(url) == normalized


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:topsecret@h/db",
        "postgresql+psycopg2://u:topsecret@h/db",
        "sqlite+aiosqlite:///x.db",
        "not a url",
    ],
)
def test_normalize_database_url_rejects_without_leaking(url: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_database_url(url)
    assert "topsecret" not in str(info.value)


# -- DATABASE_URL, end to end --------------------------------------------------


async def test_from_url_round_trip_and_restart(
    pg_url: str, postgres: LocalPostgres, app_name: str
) -> None:
    async with CloudSqlSessionService.from_url(pg_url) as service:
        assert isinstance(service, DatabaseSessionService)
        await round_trip(service, app_name)
        assert await open_connections(postgres) >= 1  # pooled, idle
    assert service.sql.closed
    assert service.sql.connector is None  # a URL needs no connector
    assert await open_connections(postgres) == 0  # the pool was disposed
    restarted = CloudSqlSessionService.from_url(pg_url)
    try:
        listed = await restarted.list_sessions(app_name=app_name, user_id="u1")
        assert len(listed.sessions) == 1
    finally:
        await restarted.aclose()
        await restarted.aclose()  # twice is fine


# -- the Cloud SQL connector, offline -----------------------------------------


@pytest.fixture
def fake_cloudsql(postgres: LocalPostgres) -> Iterator[FakeCloudSql]:
    fake = FakeCloudSql(postgres.port).start()
    try:
        yield fake
    finally:
        fake.stop()


def _instance_env(
    fake: FakeCloudSql, postgres: LocalPostgres, **extra: str
) -> dict[str, str]:
    return {
        "INSTANCE_CONNECTION_NAME": fake.instance_connection_name,
        "DB_USER": "postgres",
        "DB_PASS": "any-password",
        "DB_NAME": postgres.database,
        **extra,
    }


def _connector_options(fake: FakeCloudSql) -> dict[str, object]:
    return {
        "credentials": fake_credentials(),
        "sqladmin_api_endpoint": fake.api_endpoint,
    }


@pytest.mark.parametrize("ip_type", ["public", "private", "psc"])
async def test_connector_end_to_end(
    fake_cloudsql: FakeCloudSql,
    postgres: LocalPostgres,
    pg_url: str,
    app_name: str,
    ip_type: str,
) -> None:
    settings = CloudSqlSettings.from_env(
        _instance_env(fake_cloudsql, postgres, DB_IP_TYPE=ip_type)
    )
    service = CloudSqlSessionService(
        settings.build_engine(**_connector_options(fake_cloudsql))
    )
    assert service.sql.connector is None  # nothing happens before first use
    assert fake_cloudsql.recorded.api_calls == []
    try:
        await round_trip(service, app_name)
        connector = service.sql.connector
        assert isinstance(connector, Connector)
        assert await open_connections(postgres) >= 1
    finally:
        await service.aclose()
    assert await open_connections(postgres) == 0  # engine disposed

    # The connector asked the fake Admin API for settings and a certificate
    # for its own key, then dialled the IP of the requested type over mTLS.
    paths = [(method, path) for method, path, _ in fake_cloudsql.recorded.api_calls]
    base = f"/sql/v1beta4/projects/{fake_cloudsql.project}/instances/fake-instance"
    assert ("GET", f"{base}/connectSettings") in paths
    assert ("POST", f"{base}:generateEphemeralCert") in paths
    post = next(b for m, _, b in fake_cloudsql.recorded.api_calls if m == "POST")
    assert post["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "access_token" not in post  # built-in auth, not IAM
    assert fake_cloudsql.recorded.tls_errors == []
    connections = fake_cloudsql.recorded.connections
    assert connections[fake_cloudsql.ips[ip_type]] >= 1
    assert sum(connections.values()) == connections[fake_cloudsql.ips[ip_type]]
    assert set(fake_cloudsql.recorded.client_certs) == {"ephemeral"}

    # aclose() closed the connector: its HTTP client too, and no reconnects.
    assert connector._closed
    assert connector._client is not None and connector._client._client.closed
    with pytest.raises(RuntimeError, match=r"connector for .* is closed"):
        await service.get_session(app_name=app_name, user_id="u1", session_id="x")

    # The data went through the tunnel into the real database.
    async with CloudSqlSessionService.from_url(pg_url) as direct:
        listed = await direct.list_sessions(app_name=app_name, user_id="u1")
        assert len(listed.sessions) == 1


async def test_connector_with_iam_auth(
    fake_cloudsql: FakeCloudSql, postgres: LocalPostgres, app_name: str
) -> None:
    env = _instance_env(fake_cloudsql, postgres, DB_IAM_AUTH="true")
    del env["DB_PASS"]
    settings = CloudSqlSettings.from_env(env)
    async with CloudSqlSessionService(
        settings.build_engine(**_connector_options(fake_cloudsql))
    ) as service:
        await round_trip(service, app_name)
    post = next(b for m, _, b in fake_cloudsql.recorded.api_calls if m == "POST")
    # IAM database auth: the login token rides in the ephemeral certificate.
    assert post["access_token"] == LOGIN_TOKEN


async def test_runner_on_the_connector(
    fake_cloudsql: FakeCloudSql, postgres: LocalPostgres, app_name: str
) -> None:
    """ADK's Runner takes the service as is and its turn lands in PostgreSQL."""
    service = CloudSqlSessionService.from_instance(
        fake_cloudsql.instance_connection_name,
        user="postgres",
        password="any-password",
        database=postgres.database,
        connector_options=_connector_options(fake_cloudsql),
    )
    try:
        agent = LlmAgent(name="helper", model=ScriptedLlm(["Hello from Cloud SQL!"]))
        runner = Runner(app_name=app_name, agent=agent, session_service=service)
        session = await service.create_session(app_name=app_name, user_id="u1")
        message = types.Content(role="user", parts=[types.Part(text="hi")])
        replies = [
            event.content.parts[0].text
            async for event in runner.run_async(
                user_id="u1", session_id=session.id, new_message=message
            )
            if event.content and event.content.parts
        ]
        assert replies == ["Hello from Cloud SQL!"]
        stored = await service.get_session(
            app_name=app_name, user_id="u1", session_id=session.id
        )
        assert stored is not None
        assert [e.author for e in stored.events] == ["user", "helper"]
        await runner.close()
    finally:
        await service.aclose()


async def test_an_injected_connector_stays_open(
    fake_cloudsql: FakeCloudSql, postgres: LocalPostgres, app_name: str
) -> None:
    connector = Connector(
        loop=asyncio.get_running_loop(), **_connector_options(fake_cloudsql)
    )
    try:
        service = CloudSqlSessionService.from_instance(
            fake_cloudsql.instance_connection_name,
            user="postgres",
            password="any-password",
            database=postgres.database,
            connector=connector,
        )
        await round_trip(service, app_name)
        await service.aclose()
        assert service.sql.connector is connector
        assert not connector._closed
    finally:
        await connector.close_async()


def test_construction_needs_no_credentials_and_does_no_io() -> None:
    # Offline there are no Application Default Credentials: a Connector built
    # now would fail. Construction must not build one.
    sql = SqlEngine.from_instance(
        "p:r:i", user="app", database="adk", password="pw", ip_type="PSC"
    )
    assert sql.connector is None
    assert sql.describe() == "Cloud SQL p:r:i"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"password": "pw", "ip_type": "vpn"}, "ip_type must be one of"),
        ({"password": "pw", "enable_iam_auth": True}, "not both"),
        ({}, "a password is needed"),
    ],
)
def test_from_instance_rejects_bad_arguments(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SqlEngine.from_instance("p:r:i", user="app", database="adk", **kwargs)  # type: ignore[arg-type]


def test_missing_connector_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name.startswith("google.cloud.sql") else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=r"cloud-sql-python-connector\[asyncpg\]"):
        SqlEngine.from_instance("p:r:i", user="u", database="d", password="pw")

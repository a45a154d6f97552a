"""The env-driven factory: every backend value, its errors and its log line."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from google.adk.events.event import Event
from google.adk.memory import InMemoryMemoryService
from google.adk.sessions import InMemorySessionService, Session
from google.genai import types

from adk_redis_session import RedisSessionService
from adk_redis_session.backends import (
    VARIABLES,
    BackendConfigError,
    CloudSqlSettings,
    RedisSettings,
    close_service,
    get_memory_service,
    get_session_service,
    redact_url,
)
from adk_redis_session.cloudsql import CloudSqlSessionService
from adk_redis_session.errors import RedisSessionError

from .conftest import round_trip

#: A DATABASE_URL for tests that build services without connecting.
OFFLINE_PG_URL = "postgresql://postgres:s3cret-pw@127.0.0.1:1/db"

# -- SESSION_BACKEND matrix --------------------------------------------------


@pytest.mark.redis
async def test_redis_is_the_default_with_a_one_hour_sliding_ttl(
    redis_env: dict[str, str],
    redis_client: aioredis.Redis,
    key_prefix: str,
    app_name: str,
) -> None:
    service = get_session_service(env=redis_env)
    try:
        assert isinstance(service, RedisSessionService)
        assert service.key_prefix == key_prefix
        await round_trip(service, app_name)
    finally:
        await close_service(service)
    keys = await redis_client.keys(f"{key_prefix}:*")
    assert keys, "the round trip wrote nothing under REDIS_KEY_PREFIX"
    ttls = [await redis_client.pttl(key) for key in keys if b":s:" in key]
    assert ttls and all(3_590_000 < ttl <= 3_600_000 for ttl in ttls), ttls


@pytest.mark.redis
async def test_redis_session_ttl_zero_disables_expiry(
    redis_env: dict[str, str],
    redis_client: aioredis.Redis,
    key_prefix: str,
    app_name: str,
) -> None:
    env = {**redis_env, "SESSION_BACKEND": "redis", "REDIS_SESSION_TTL": "0"}
    service = get_session_service(env=env)
    try:
        await round_trip(service, app_name)
    finally:
        await close_service(service)
    keys = await redis_client.keys(f"{key_prefix}:*")
    ttls = [await redis_client.pttl(key) for key in keys]
    assert ttls and all(ttl == -1 for ttl in ttls), ttls


@pytest.mark.redis
async def test_redis_session_ttl_is_taken_from_the_env(
    redis_env: dict[str, str],
    redis_client: aioredis.Redis,
    key_prefix: str,
    app_name: str,
) -> None:
    service = get_session_service(env={**redis_env, "REDIS_SESSION_TTL": "120"})
    try:
        await round_trip(service, app_name)
    finally:
        await close_service(service)
    keys = [k for k in await redis_client.keys(f"{key_prefix}:*") if b":s:" in k]
    ttls = [await redis_client.pttl(key) for key in keys]
    assert ttls and all(110_000 < ttl <= 120_000 for ttl in ttls), ttls


async def test_cloudsql_from_database_url(pg_url: str, app_name: str) -> None:
    service = get_session_service(
        env={"SESSION_BACKEND": "cloudsql", "DATABASE_URL": pg_url}
    )
    try:
        assert isinstance(service, CloudSqlSessionService)
        assert service.db_engine.url.drivername == "postgresql+asyncpg"
        await round_trip(service, app_name)
    finally:
        await close_service(service)
    # A second service (a restart) reads what the first one stored.
    again = get_session_service("cloudsql", env={"DATABASE_URL": pg_url})
    try:
        listed = await again.list_sessions(app_name=app_name, user_id="u1")
        assert len(listed.sessions) == 1
    finally:
        await close_service(again)


async def test_inmemory(app_name: str) -> None:
    service = get_session_service(env={"SESSION_BACKEND": "inmemory"})
    assert type(service) is InMemorySessionService
    await round_trip(service, app_name)


async def test_backend_argument_overrides_the_variable(app_name: str) -> None:
    service = get_session_service(
        " InMemory ", env={"SESSION_BACKEND": "no-such-backend"}
    )
    assert type(service) is InMemorySessionService


def test_blank_variables_count_as_unset() -> None:
    settings = RedisSettings.from_env(
        {"REDIS_URL": "  ", "REDIS_SESSION_TTL": "", "REDIS_KEY_PREFIX": ""}
    )
    assert settings == RedisSettings("redis://localhost:6379/0", "adk", 3600)


def test_env_none_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_BACKEND", "inmemory")
    assert type(get_session_service()) is InMemorySessionService
    # ...and an explicit mapping is all that is read.
    monkeypatch.setenv("SESSION_BACKEND", "no-such-backend")
    assert type(get_session_service(env={"SESSION_BACKEND": "inmemory"})) is (
        InMemorySessionService
    )


def test_no_io_at_construction() -> None:
    # Nothing listens on port 1; construction must still succeed.
    service = get_session_service(env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert isinstance(service, RedisSessionService)


@pytest.mark.redis
async def test_close_service_closes_the_redis_client(
    redis_env: dict[str, str], app_name: str
) -> None:
    service = get_session_service(env=redis_env)
    await close_service(service)
    await close_service(service)  # twice is fine
    with pytest.raises(RedisSessionError, match="closed"):
        await service.create_session(app_name=app_name, user_id="u1")


# -- MEMORY_BACKEND ----------------------------------------------------------


def _session_with(app_name: str, text: str) -> Session:
    return Session(
        id="s1",
        app_name=app_name,
        user_id="u1",
        events=[
            Event(
                invocation_id="inv",
                author="user",
                content=types.Content(role="user", parts=[types.Part(text=text)]),
            )
        ],
    )


async def test_memory_inmemory(app_name: str) -> None:
    memory = get_memory_service(env={"MEMORY_BACKEND": "inmemory"})
    assert type(memory) is InMemoryMemoryService
    await memory.add_session_to_memory(_session_with(app_name, "the router is blue"))
    found = await memory.search_memory(app_name=app_name, user_id="u1", query="router")
    assert len(found.memories) == 1


@pytest.mark.redis
async def test_memory_redis(
    redis_env: dict[str, str],
    redis_client: aioredis.Redis,
    key_prefix: str,
    app_name: str,
) -> None:
    from adk_redis_session.memory_service import RedisMemoryService

    memory = get_memory_service("redis", env=redis_env)
    try:
        assert isinstance(memory, RedisMemoryService)
        assert memory.key_prefix == key_prefix
        await memory.add_session_to_memory(
            _session_with(app_name, "the router is blue")
        )
        found = await memory.search_memory(
            app_name=app_name, user_id="u1", query="router"
        )
        assert len(found.memories) == 1
    finally:
        await close_service(memory)
    assert await redis_client.keys(f"{key_prefix}:*")


def test_memory_defaults_to_cloudsql_and_needs_its_settings() -> None:
    with pytest.raises(BackendConfigError) as info:
        get_memory_service(env={})
    message = str(info.value)
    assert "MEMORY_BACKEND=cloudsql" in message
    assert "DATABASE_URL" in message and "INSTANCE_CONNECTION_NAME" in message


async def test_memory_cloudsql(pg_url: str, app_name: str) -> None:
    memory = get_memory_service(
        env={"MEMORY_BACKEND": "cloudsql", "DATABASE_URL": pg_url}
    )
    try:
        assert type(memory).__name__ == "PostgresMemoryService"
        await memory.add_session_to_memory(
            _session_with(app_name, "the router is blue")
        )
        found = await memory.search_memory(
            app_name=app_name, user_id="u1", query="router"
        )
        assert len(found.memories) == 1
    finally:
        await close_service(memory)


# -- one clear error per bad setting -----------------------------------------

CLOUDSQL = {"SESSION_BACKEND": "cloudsql"}
INSTANCE = {
    **CLOUDSQL,
    "INSTANCE_CONNECTION_NAME": "proj:europe-west1:db",
    "DB_USER": "app",
    "DB_NAME": "adk",
    "DB_PASS": "hunter2-secret",
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"SESSION_BACKEND": "mongo"},
            ["SESSION_BACKEND='mongo'", "redis, cloudsql, inmemory"],
            id="unknown-session-backend",
        ),
        pytest.param(
            CLOUDSQL,
            ["SESSION_BACKEND=cloudsql", "DATABASE_URL", "INSTANCE_CONNECTION_NAME"],
            id="cloudsql-without-settings",
        ),
        pytest.param(
            {**CLOUDSQL, "INSTANCE_CONNECTION_NAME": "proj:europe-west1:db"},
            ["missing: DB_USER, DB_NAME, DB_PASS (or DB_IAM_AUTH=true)"],
            id="instance-without-user-db-pass",
        ),
        pytest.param(
            {**INSTANCE, "DB_IAM_AUTH": "true"},
            ["DB_IAM_AUTH=true", "DB_PASS"],
            id="iam-and-password",
        ),
        pytest.param(
            {**INSTANCE, "DB_IAM_AUTH": "maybe"},
            ["DB_IAM_AUTH='maybe'", "true or false"],
            id="iam-not-a-boolean",
        ),
        pytest.param(
            {**INSTANCE, "DB_IP_TYPE": "vpn"},
            ["DB_IP_TYPE='vpn'", "public, private, psc"],
            id="unknown-ip-type",
        ),
        pytest.param(
            {**INSTANCE, "INSTANCE_CONNECTION_NAME": "just-a-name"},
            ["INSTANCE_CONNECTION_NAME='just-a-name'", "project:region:instance"],
            id="bad-instance-name",
        ),
        pytest.param(
            {**INSTANCE, "DATABASE_URL": "postgresql://u:hunter2-secret@h/db"},
            ["DATABASE_URL or INSTANCE_CONNECTION_NAME, not both"],
            id="url-and-instance",
        ),
        pytest.param(
            {**CLOUDSQL, "DATABASE_URL": "mysql://u:hunter2-secret@h/db"},
            ["DATABASE_URL", "PostgreSQL", "mysql://u:***@h/db"],
            id="not-postgres",
        ),
        pytest.param(
            {**CLOUDSQL, "DATABASE_URL": "postgresql+psycopg2://u:hunter2-secret@h/d"},
            ["DATABASE_URL", "synchronous driver 'psycopg2'"],
            id="sync-driver",
        ),
        pytest.param(
            {"REDIS_URL": "http://:hunter2-secret@h:6379"},
            ["REDIS_URL='http://:***@h:6379'", "redis://, rediss://, unix://"],
            id="redis-url-scheme",
        ),
        pytest.param(
            {"REDIS_SESSION_TTL": "-5"},
            ["REDIS_SESSION_TTL='-5'", "from 0 (no expiry)"],
            id="negative-ttl",
        ),
        pytest.param(
            {"REDIS_SESSION_TTL": "1h"},
            ["REDIS_SESSION_TTL='1h'", "number of seconds"],
            id="ttl-not-a-number",
        ),
        pytest.param(
            {"REDIS_SESSION_TTL": "9e12"},
            ["REDIS_SESSION_TTL='9e12'", "100 years"],
            id="ttl-too-long",
        ),
        pytest.param(
            {"REDIS_SESSION_TTL": "inf"},
            ["REDIS_SESSION_TTL='inf'"],
            id="ttl-infinite",
        ),
        pytest.param(
            {"REDIS_KEY_PREFIX": "a{b}"},
            ["REDIS_KEY_PREFIX='a{b}'"],
            id="prefix-with-hash-tag",
        ),
    ],
)
def test_bad_session_settings_raise_one_clear_error(
    env: dict[str, str], expected: list[str]
) -> None:
    with pytest.raises(BackendConfigError) as info:
        get_session_service(env=env)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    for part in expected:
        assert part in message, message
    assert "hunter2-secret" not in message
    assert info.value.__cause__ is None


def test_unknown_memory_backend() -> None:
    with pytest.raises(BackendConfigError) as info:
        get_memory_service(env={"MEMORY_BACKEND": "sqlite"})
    assert "MEMORY_BACKEND='sqlite'" in str(info.value)
    assert "redis, cloudsql, inmemory" in str(info.value)


def test_unknown_backend_argument_names_argument_and_variable() -> None:
    with pytest.raises(BackendConfigError) as info:
        get_session_service("mongo", env={})
    assert "backend (argument, instead of SESSION_BACKEND)='mongo'" in str(info.value)


def test_settings_repr_hides_passwords() -> None:
    redis_settings = RedisSettings.from_env({"REDIS_URL": "redis://:hunter2@h:1/0"})
    sql_url = CloudSqlSettings.from_env({"DATABASE_URL": "postgres://u:hunter2@h/d"})
    sql_instance = CloudSqlSettings.from_env(INSTANCE)
    for settings in (redis_settings, sql_url, sql_instance):
        assert "hunter2" not in repr(settings)
    assert repr(redis_settings).startswith("RedisSettings(url=redis://:***@h:1/0")


def test_iam_auth_needs_no_password() -> None:
    env = {k: v for k, v in INSTANCE.items() if k != "DB_PASS"}
    settings = CloudSqlSettings.from_env({**env, "DB_IAM_AUTH": "TRUE"})
    assert settings.enable_iam_auth and settings.password is None
    assert settings.ip_type == "public"


# -- the log line -------------------------------------------------------------


def _backend_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "adk_redis_session.backends" and r.levelno == logging.INFO
    ]


async def test_logs_redis_once_with_the_password_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adk_redis_session.backends")
    env = {"REDIS_URL": "rediss://default:hunter2-secret@10.0.0.3:6378/0"}
    service = get_session_service(env=env)
    await close_service(service)
    assert _backend_records(caplog) == [
        "session backend: redis (url=rediss://default:***@10.0.0.3:6378/0, "
        "key_prefix=adk, session_ttl=3600s)"
    ]


async def test_logs_cloudsql_url_once_with_the_password_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adk_redis_session.backends")
    service = get_session_service(env={**CLOUDSQL, "DATABASE_URL": OFFLINE_PG_URL})
    await close_service(service)
    (line,) = _backend_records(caplog)
    assert line.startswith("session backend: cloudsql (url=postgresql+asyncpg://")
    assert "postgres:***@127.0.0.1" in line and "s3cret-pw" not in line


async def test_logs_cloudsql_instance_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adk_redis_session.backends")
    service = get_session_service(env={**INSTANCE, "DB_IP_TYPE": "Private"})
    await close_service(service)
    assert _backend_records(caplog) == [
        "session backend: cloudsql (instance=proj:europe-west1:db, user=app, "
        "database=adk, auth=password, ip_type=private)"
    ]
    assert "hunter2-secret" not in caplog.text


async def test_logs_memory_backend_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="adk_redis_session.backends")
    memory = get_memory_service(
        "redis", env={"REDIS_URL": "redis://:hunter2-secret@127.0.0.1:1/0"}
    )
    await close_service(memory)
    assert _backend_records(caplog) == [
        "memory backend: redis (url=redis://:***@127.0.0.1:1/0, key_prefix=adk)"
    ]


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("rediss://user:p%40ss@h:1/0", "rediss://user:***@h:1/0"),
        ("postgresql://u:p@w@h/db", "postgresql://u:***@h/db"),
        (
            "redis://h/0?password=pw&ssl_ca_certs=/etc/ca.pem",
            "redis://h/0?password=***&ssl_ca_certs=/etc/ca.pem",
        ),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


# -- the variables ------------------------------------------------------------


class _RecordingEnv(dict[str, str]):
    """A mapping that remembers every variable the factory looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


async def test_reads_only_the_documented_variables() -> None:
    seen: set[str] = set()
    for env in (
        {},
        {"SESSION_BACKEND": "cloudsql", "DATABASE_URL": OFFLINE_PG_URL},
        {**INSTANCE, "DB_IP_TYPE": "psc"},
        {**INSTANCE, "DB_PASS": "", "DB_IAM_AUTH": "true"},
        {"SESSION_BACKEND": "inmemory"},
    ):
        recording = _RecordingEnv(env)
        await close_service(get_session_service(env=recording))
        await close_service(get_memory_service("redis", env=recording))
        await close_service(get_memory_service("inmemory", env=recording))
        seen |= recording.read
    recording = _RecordingEnv({"MEMORY_BACKEND": "inmemory"})
    get_memory_service(env=recording)
    assert seen | recording.read == set(VARIABLES)


def test_env_example_documents_every_variable() -> None:
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z_]+)=", text, re.MULTILINE))
    missing = set(VARIABLES) - documented
    assert not missing, f".env.example lacks {sorted(missing)}"

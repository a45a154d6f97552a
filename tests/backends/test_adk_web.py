"""ADK's service registry, `get_fast_api_app` and `adk api_server` on Redis.

The HTTP tests serve `examples/agents` (its services.yaml maps redis:// to our
factories) with the offline model, talk to it over real HTTP, and then find
the conversation in Redis through brand-new services.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from google.adk.cli.fast_api import get_fast_api_app
from google.adk.cli.service_registry import (
    ServiceRegistry,
    _register_services_from_yaml_config,
    get_service_registry,
)
from google.adk.utils import yaml_utils

from adk_redis_session import RedisSessionService
from adk_redis_session.adk_registry import (
    redis_memory_service,
    redis_session_service,
    register,
)
from adk_redis_session.memory_service import RedisMemoryService
from adk_redis_session.testing import LocalRedisServer, free_port

AGENTS_DIR = Path(__file__).resolve().parents[2] / "examples" / "agents"
APP = "redis_helper"

# -- the registry hooks -------------------------------------------------------


def test_register_adds_redis_and_rediss_for_sessions_and_memory() -> None:
    registry = ServiceRegistry()
    assert registry.create_session_service("redis://h:1/0") is None
    register(registry)
    register(registry)  # idempotent
    for scheme in ("redis", "rediss"):
        session = registry.create_session_service(f"{scheme}://h:1/0", agents_dir="x")
        memory = registry.create_memory_service(f"{scheme}://h:1/0", agents_dir="x")
        assert isinstance(session, RedisSessionService)
        assert isinstance(memory, RedisMemoryService)


def test_register_defaults_to_adks_global_registry() -> None:
    register()
    service = get_service_registry().create_session_service("redis://h:1/0")
    assert isinstance(service, RedisSessionService)


def test_query_options_are_ours_the_rest_go_to_redis_py() -> None:
    service = redis_session_service(
        "redis://h:1/0?prefix=p1&ttl=60&socket_timeout=2", agents_dir="/x"
    )
    assert service.key_prefix == "p1"
    kwargs = service.client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 2.0
    assert "prefix" not in kwargs and "ttl" not in kwargs
    memory = redis_memory_service("rediss://h:1/0?prefix=m1&top_k=3")
    assert memory.key_prefix == "m1"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("redis://h/0?ttl=soon", "ttl='soon'"),
        ("redis://h/0?ttl=-1", "ttl='-1'"),
        ("redis://h/0?prefix=a&prefix=b", "'prefix' is given twice"),
    ],
)
def test_bad_query_options(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        redis_session_service(uri)


def test_bad_top_k() -> None:
    with pytest.raises(ValueError, match="top_k='many'"):
        redis_memory_service("redis://h/0?top_k=many")


def test_example_services_yaml_maps_both_schemes_for_both_services() -> None:
    registry = ServiceRegistry()
    config = yaml_utils.load_yaml_file(str(AGENTS_DIR / "services.yaml"))
    _register_services_from_yaml_config(config, registry)
    for scheme in ("redis", "rediss"):
        uri = f"{scheme}://h:1/0?prefix=y"
        session = registry.create_session_service(uri, agents_dir=str(AGENTS_DIR))
        memory = registry.create_memory_service(uri, agents_dir=str(AGENTS_DIR))
        assert isinstance(session, RedisSessionService)
        assert isinstance(memory, RedisMemoryService)
        assert session.key_prefix == memory.key_prefix == "y"


def test_services_yaml_may_name_the_classes_for_plain_urls() -> None:
    registry = ServiceRegistry()
    _register_services_from_yaml_config(
        {
            "services": [
                {
                    "scheme": "redis",
                    "type": "session",
                    "class": "adk_redis_session.RedisSessionService",
                },
                {
                    "scheme": "redis",
                    "type": "memory",
                    "class": "adk_redis_session.memory_service.RedisMemoryService",
                },
            ]
        },
        registry,
    )
    uri = "redis://h:1/0"
    assert isinstance(
        registry.create_session_service(uri, agents_dir="x"), RedisSessionService
    )
    assert isinstance(
        registry.create_memory_service(uri, agents_dir="x"), RedisMemoryService
    )


# -- over HTTP ----------------------------------------------------------------


class _ServedApp:
    """Runs an ASGI app with uvicorn on a free port in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> _ServedApp:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(20)


def _message(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


async def _new_session(client: httpx.AsyncClient, user: str) -> str:
    response = await client.post(f"/apps/{APP}/users/{user}/sessions", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def _say(client: httpx.AsyncClient, user: str, session_id: str, text: str) -> str:
    response = await client.post(
        "/run",
        json={
            "app_name": APP,
            "user_id": user,
            "session_id": session_id,
            "new_message": _message(text),
        },
    )
    assert response.status_code == 200, response.text
    texts = [
        part["text"]
        for event in response.json()
        if event.get("content")
        for part in event["content"].get("parts", [])
        if part.get("text")
    ]
    assert len(texts) == 1, texts
    return str(texts[0])


async def _chat_and_check(
    base_url: str, redis_url: str, prefix: str, *, redis_memory: bool
) -> None:
    """One conversation over HTTP, then the same data read from Redis."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        first = await _new_session(client, "ada")
        reply = await _say(client, "ada", first, "my favourite colour is teal")
        assert reply == (
            "You said: 'my favourite colour is teal'. "
            "That is your message #1 in this session."
        )
        # The history the model sees on turn 2 came back from Redis.
        reply = await _say(client, "ada", first, "and I live in Oslo")
        assert "message #2 in this session" in reply
        over_http = await client.get(f"/apps/{APP}/users/ada/sessions/{first}")
        assert over_http.status_code == 200
        assert len(over_http.json()["events"]) == 4
        if redis_memory:
            # A new session recalls the first one through RedisMemoryService.
            second = await _new_session(client, "ada")
            reply = await _say(client, "ada", second, "what is my favourite colour")
            assert "message #1 in this session" in reply
            assert "I recall: 'user: my favourite colour is teal'" in reply

    async with RedisSessionService.from_url(redis_url, key_prefix=prefix) as fresh:
        stored = await fresh.get_session(app_name=APP, user_id="ada", session_id=first)
        assert stored is not None
        assert [e.author for e in stored.events] == ["user", APP, "user", APP]
        assert stored.events[0].content is not None
        assert stored.events[0].content.parts is not None
        assert stored.events[0].content.parts[0].text == "my favourite colour is teal"
        listed = await fresh.list_sessions(app_name=APP, user_id="ada")
        assert len(listed.sessions) == (2 if redis_memory else 1)
    client_ = aioredis.Redis.from_url(redis_url)
    try:
        keys = await client_.keys(f"{prefix}:*:s:{first}:*")
        assert keys
        for key in keys:  # ?ttl=600 in the session URI
            assert 590_000 < await client_.pttl(key) <= 600_000
    finally:
        await client_.aclose()
    if redis_memory:
        async with RedisMemoryService.from_url(redis_url, key_prefix=prefix) as memory:
            found = await memory.search_memory(
                app_name=APP, user_id="ada", query="which colour is my favourite"
            )
            texts = [
                part.text
                for entry in found.memories
                for part in (entry.content.parts or [])
                if part.text
            ]
            assert "my favourite colour is teal" in texts


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example agent uses the offline model unless a Gemini key is set."""
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    sys.modules.pop(f"{APP}.agent", None)
    sys.modules.pop(APP, None)


def _fast_api_app(session_uri: str, memory_uri: str) -> Any:
    return get_fast_api_app(
        agents_dir=str(AGENTS_DIR),
        session_service_uri=session_uri,
        memory_service_uri=memory_uri,
        artifact_service_uri="memory://",
        use_local_storage=False,
        web=False,
    )


@pytest.mark.redis
@pytest.mark.usefixtures("offline")
async def test_fast_api_app_keeps_sessions_in_redis(
    redis_server: LocalRedisServer, key_prefix: str
) -> None:
    app = _fast_api_app(f"{redis_server.url}?prefix={key_prefix}&ttl=600", "memory://")
    with _ServedApp(app) as served:
        await _chat_and_check(
            served.url, redis_server.url, key_prefix, redis_memory=False
        )


@pytest.mark.redis
@pytest.mark.usefixtures("offline")
async def test_fast_api_app_with_redis_memory(
    redis_server: LocalRedisServer, key_prefix: str
) -> None:
    app = _fast_api_app(
        f"{redis_server.url}?prefix={key_prefix}&ttl=600",
        f"{redis_server.url}?prefix={key_prefix}",
    )
    with _ServedApp(app) as served:
        await _chat_and_check(
            served.url, redis_server.url, key_prefix, redis_memory=True
        )


@pytest.fixture
def adk_api_server(
    redis_server: LocalRedisServer, key_prefix: str, tmp_path: Path
) -> Iterator[str]:
    """`adk api_server` as a subprocess, exactly as a user would run it."""
    adk = Path(sys.executable).with_name("adk")
    if not adk.exists():
        pytest.skip(f"the adk CLI is not installed next to {sys.executable}")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")
    }
    log = tmp_path / "adk.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(adk),
                "api_server",
                "--host=127.0.0.1",
                f"--port={port}",
                f"--session_service_uri={redis_server.url}?prefix={key_prefix}&ttl=600",
                f"--memory_service_uri={redis_server.url}?prefix={key_prefix}",
                "--artifact_service_uri=memory://",
                str(AGENTS_DIR),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/list-apps", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"adk api_server did not start:\n{log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.redis
async def test_adk_api_server_cli(
    adk_api_server: str, redis_server: LocalRedisServer, key_prefix: str
) -> None:
    async with httpx.AsyncClient(base_url=adk_api_server) as client:
        apps = await client.get("/list-apps")
        assert apps.json() == [APP]
    await _chat_and_check(
        adk_api_server, redis_server.url, key_prefix, redis_memory=True
    )


def test_example_agent_uses_gemini_when_a_key_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(AGENTS_DIR))
    for key, model in (("fake-key", "gemini-2.5-flash"), (None, "offline")):
        monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
        if key is None:
            monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        else:
            monkeypatch.setenv("GOOGLE_API_KEY", key)
        sys.modules.pop(f"{APP}.agent", None)
        sys.modules.pop(APP, None)
        agent = importlib.import_module(f"{APP}.agent").root_agent
        chosen = agent.model if isinstance(agent.model, str) else agent.model.model
        assert chosen == model
    sys.modules.pop(f"{APP}.agent", None)
    sys.modules.pop(APP, None)

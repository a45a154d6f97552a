"""End to end: ADK's Runner + LlmAgent + a state-writing tool on RedisSessionService.

The model is `ScriptedLlm`, so the conversation is deterministic and offline.
The stored session is read back through a brand-new service on a brand-new
client (a "restart") and compared with what the Runner produced and with what
ADK's own InMemorySessionService stores for the same conversation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from google.adk.agents import LlmAgent
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.events.event import Event
from google.adk.models.llm_request import LlmRequest
from google.adk.runners import Runner
from google.adk.sessions import BaseSessionService, InMemorySessionService, Session
from google.adk.tools.tool_context import ToolContext
from google.genai import types

from adk_redis_session.scripted_model import ScriptedCall, ScriptedLlm, ScriptedReply
from adk_redis_session.testing import LocalRedisServer

pytestmark = pytest.mark.redis

APP = "support_app"
USER = "user-42"

USER_TURNS = [
    "Hi! My wifi keeps dropping.",
    "Yes please, open a ticket for it.",
    "Also my last invoice looks wrong.",
    "Thanks, that's all.",
]

EXPECTED_STATE = {
    "last_reply": "You're welcome, Ada. Have a good day!",
    "open_ticket": "T-2",
    "ticket_topics": ["wifi", "billing"],
    "user:preferred_name": "Ada",
    "app:tickets_opened": 2,
}


def open_ticket(topic: str, priority: str, tool_context: ToolContext) -> dict[str, str]:
    """Open a support ticket about a topic.

    Args:
        topic: What the ticket is about.
        priority: "low", "normal" or "high".
    """
    opened = int(tool_context.state.get("app:tickets_opened", 0)) + 1
    ticket_id = f"T-{opened}"
    topics = list(tool_context.state.get("ticket_topics", []))
    tool_context.state["open_ticket"] = ticket_id  # session scope
    tool_context.state["ticket_topics"] = [*topics, topic]  # session scope
    tool_context.state["user:preferred_name"] = "Ada"  # user scope
    tool_context.state["app:tickets_opened"] = opened  # app scope
    tool_context.state["temp:last_priority"] = priority  # never persisted
    return {"ticket_id": ticket_id, "status": "open"}


def script() -> list[ScriptedReply]:
    """One model reply per model call; tool turns take two calls."""
    return [
        "Sorry to hear that! Shall I open a ticket?",
        ScriptedCall("open_ticket", {"topic": "wifi", "priority": "high"}),
        "Done: ticket T-1 is open for your wifi.",
        ScriptedCall("open_ticket", {"topic": "billing", "priority": "normal"}),
        "I opened T-2 for the invoice too.",
        "You're welcome, Ada. Have a good day!",
    ]


def make_agent(model: ScriptedLlm) -> LlmAgent:
    return LlmAgent(
        name="support_bot",
        model=model,
        instruction="You are a friendly support bot. Open tickets when asked.",
        tools=[open_ticket],
        output_key="last_reply",
    )


def user_message(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def run_turns(
    service: BaseSessionService,
    model: ScriptedLlm,
    session_id: str,
    turns: list[str],
    *,
    streaming: StreamingMode = StreamingMode.NONE,
) -> list[Event]:
    """Runs user turns through a fresh Runner; returns every event it yielded."""
    yielded: list[Event] = []
    async with Runner(
        app_name=APP, agent=make_agent(model), session_service=service
    ) as runner:
        for text in turns:
            async for event in runner.run_async(
                user_id=USER,
                session_id=session_id,
                new_message=user_message(text),
                run_config=RunConfig(streaming_mode=streaming),
                yield_user_message=True,
            ):
                yielded.append(event)
    return yielded


async def converse(
    service: BaseSessionService, *, streaming: StreamingMode = StreamingMode.NONE
) -> tuple[str, list[Event], ScriptedLlm]:
    """Runs the whole scripted conversation in a new session."""
    model = ScriptedLlm(script())
    session = await service.create_session(app_name=APP, user_id=USER)
    yielded = await run_turns(
        service, model, session.id, USER_TURNS, streaming=streaming
    )
    assert model.remaining == 0, "the conversation did not use the whole script"
    return session.id, yielded, model


async def load(service: BaseSessionService, session_id: str) -> Session:
    session = await service.get_session(
        app_name=APP, user_id=USER, session_id=session_id
    )
    assert session is not None
    return session


@pytest.fixture
async def fresh_client(
    redis_server: LocalRedisServer,
) -> AsyncIterator[aioredis.Redis]:
    """A second, independent client of the same server (the "restarted" app)."""
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


def texts(content: types.Content | None) -> list[str]:
    if content is None or not content.parts:
        return []
    return [part.text for part in content.parts if part.text]


def request_texts(request: LlmRequest) -> list[str]:
    return [text for content in request.contents for text in texts(content)]


def normalized_dump(events: list[Event]) -> list[dict[str, Any]]:
    """Dumps events minus ids/timestamps, with function call ids renamed.

    ADK gives each function call a random ``adk-<uuid>`` id, so ids are
    replaced by their order of appearance (``call-0``, ...) wherever they occur.
    """
    call_ids: dict[str, str] = {}
    for event in events:
        for call in event.get_function_calls():
            if call.id is not None:
                call_ids.setdefault(call.id, f"call-{len(call_ids)}")

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {rename(k): rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, str):
            return call_ids.get(value, value)
        return value

    return [
        rename(
            event.model_dump(mode="json", exclude={"id", "timestamp", "invocation_id"})
        )
        for event in events
    ]


@pytest.fixture(params=[StreamingMode.NONE, StreamingMode.SSE], ids=["plain", "sse"])
def streaming(request: pytest.FixtureRequest) -> StreamingMode:
    mode: StreamingMode = request.param
    return mode


async def test_runner_conversation_round_trips_through_redis(
    redis_client: aioredis.Redis,
    fresh_client: aioredis.Redis,
    key_prefix: str,
    streaming: StreamingMode,
) -> None:
    from adk_redis_session import RedisSessionService

    service = RedisSessionService(client=redis_client, key_prefix=key_prefix)
    async with service:
        session_id, yielded, model = await converse(service, streaming=streaming)
        first_read = await load(service, session_id)

    # The injected client is the caller's: the service must not close it.
    assert await redis_client.ping()

    # What the Runner yielded is what got stored (partials never are).
    final = [event for event in yielded if not event.partial]
    if streaming is StreamingMode.SSE:
        assert len(final) < len(yielded), "SSE run produced no partial events"
    else:
        assert len(final) == len(yielded)
    assert len(first_read.events) == len(final)
    assert [e.id for e in first_read.events] == [e.id for e in final]
    assert [e.author for e in first_read.events] == [e.author for e in final]
    assert [e.content for e in first_read.events] == [e.content for e in final]
    assert all(not e.partial for e in first_read.events)
    # 4 turns: user + reply each, plus call + response for the 2 tool turns.
    assert len(first_read.events) == 2 * len(USER_TURNS) + 2 * 2
    assert [e.author for e in first_read.events].count("user") == len(USER_TURNS)

    # A "restart": new client, new service, same prefix.
    restarted = RedisSessionService(client=fresh_client, key_prefix=key_prefix)
    async with restarted:
        second_read = await load(restarted, session_id)
    assert await fresh_client.ping()

    assert second_read.events == first_read.events
    assert second_read.state == first_read.state
    assert second_read.state == EXPECTED_STATE
    assert second_read.state["last_reply"] == texts(final[-1].content)[0]
    assert not any(key.startswith("temp:") for key in second_read.state)
    for event in second_read.events:
        assert not any(k.startswith("temp:") for k in event.actions.state_delta)
    assert (second_read.id, second_read.app_name, second_read.user_id) == (
        session_id,
        APP,
        USER,
    )

    # The model saw the earlier turns (read back from Redis) on later turns.
    assert len(model.requests) == len(script())
    last_request = request_texts(model.requests[-1])
    for earlier in [*USER_TURNS, "Done: ticket T-1 is open for your wifi."]:
        assert earlier in last_request
    assert last_request[-1] == USER_TURNS[-1]
    assert [t for t in last_request if t in USER_TURNS] == USER_TURNS
    # The tool round trip of turn 2 is in the history of turn 3.
    third_turn_request = model.requests[3]
    calls = [
        part.function_call.name
        for content in third_turn_request.contents
        for part in content.parts or []
        if part.function_call
    ]
    responses = [
        part.function_response.response
        for content in third_turn_request.contents
        for part in content.parts or []
        if part.function_response
    ]
    assert calls == ["open_ticket"]
    assert responses == [{"ticket_id": "T-1", "status": "open"}]


async def test_conversation_resumes_after_restart(
    redis_server: LocalRedisServer,
    redis_client: aioredis.Redis,
    key_prefix: str,
) -> None:
    """Turns 3-4 run on a restarted service and see turns 1-2 only via Redis."""
    from adk_redis_session import RedisSessionService

    model = ScriptedLlm(script())
    async with RedisSessionService(client=redis_client, key_prefix=key_prefix) as svc:
        session = await svc.create_session(app_name=APP, user_id=USER)
        await run_turns(svc, model, session.id, USER_TURNS[:2])
        before = await load(svc, session.id)

    restarted = RedisSessionService.from_url(redis_server.url, key_prefix=key_prefix)
    async with restarted:
        await run_turns(restarted, model, session.id, USER_TURNS[2:])
        after = await load(restarted, session.id)

    assert model.remaining == 0
    assert after.events[: len(before.events)] == before.events
    assert after.state == EXPECTED_STATE
    # First model call after the restart: the whole first half is in its history.
    first_after_restart = request_texts(model.requests[3])
    assert first_after_restart[:4] == [
        USER_TURNS[0],
        "Sorry to hear that! Shall I open a ticket?",
        USER_TURNS[1],
        "Done: ticket T-1 is open for your wifi.",
    ]
    assert first_after_restart[-1] == USER_TURNS[2]


async def test_redis_stores_what_in_memory_stores(
    redis_client: aioredis.Redis,
    fresh_client: aioredis.Redis,
    key_prefix: str,
) -> None:
    """Same scripted conversation on both backends: same events, same state."""
    from adk_redis_session import RedisSessionService

    async with RedisSessionService(client=redis_client, key_prefix=key_prefix) as svc:
        redis_session_id, _, _ = await converse(svc)
    async with RedisSessionService(client=fresh_client, key_prefix=key_prefix) as svc:
        stored = await load(svc, redis_session_id)

    memory = InMemorySessionService()
    memory_session_id, _, _ = await converse(memory)
    reference = await load(memory, memory_session_id)

    assert len(stored.events) == len(reference.events)
    for ours, theirs in zip(stored.events, reference.events, strict=True):
        assert ours.author == theirs.author
        assert ours.actions.state_delta == theirs.actions.state_delta
        assert texts(ours.content) == texts(theirs.content)
        assert (ours.content and ours.content.role) == (
            theirs.content and theirs.content.role
        )
    # Every other field too, once the random ids are normalized.
    assert normalized_dump(stored.events) == normalized_dump(reference.events)
    assert stored.state == reference.state == EXPECTED_STATE

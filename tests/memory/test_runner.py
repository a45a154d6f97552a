"""End to end: an agent with ADK's load_memory recalls a fact from an earlier session.

Sessions and memory both live in Redis. The first conversation is added to
memory; a new process (new services, new client) runs a second session in
which the scripted model calls ``load_memory``, and the tool result the model
is shown holds the fact.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from google.adk.agents import LlmAgent
from google.adk.runners import Runner
from google.adk.tools.load_memory_tool import LoadMemoryResponse, load_memory_tool
from google.genai import types

from adk_redis_session import RedisSessionService
from adk_redis_session.memory_service import RedisMemoryService
from adk_redis_session.scripted_model import ScriptedCall, ScriptedLlm
from adk_redis_session.testing import LocalRedisServer

pytestmark = pytest.mark.redis

APP = "pet_app"
USER = "ada"


def message(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def converse(
    url: str, key_prefix: str, model: ScriptedLlm, text: str
) -> tuple[str, list[str]]:
    """Runs one turn in a new session on fresh services; returns its id and replies."""
    async with (
        RedisSessionService.from_url(url, key_prefix=key_prefix) as sessions,
        RedisMemoryService.from_url(url, key_prefix=key_prefix) as memory,
    ):
        agent = LlmAgent(
            name="pet_helper",
            model=model,
            instruction="Answer questions about the user's pets.",
            tools=[load_memory_tool],
        )
        replies: list[str] = []
        async with Runner(
            app_name=APP,
            agent=agent,
            session_service=sessions,
            memory_service=memory,
        ) as runner:
            session = await sessions.create_session(app_name=APP, user_id=USER)
            async for event in runner.run_async(
                user_id=USER, session_id=session.id, new_message=message(text)
            ):
                if event.is_final_response() and event.content and event.content.parts:
                    replies.extend(p.text for p in event.content.parts if p.text)
            stored = await sessions.get_session(
                app_name=APP, user_id=USER, session_id=session.id
            )
            assert stored is not None
            await memory.add_session_to_memory(stored)
        return session.id, replies


async def test_agent_recalls_a_fact_from_an_earlier_session(
    redis_server: LocalRedisServer, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    first = ScriptedLlm(["Noted, your cat is Miso!"])
    await converse(
        redis_server.url, key_prefix, first, "My cat is called Miso, she is grey."
    )

    second = ScriptedLlm(
        [
            ScriptedCall("load_memory", {"query": "cat name"}),
            "Your cat is called Miso.",
        ]
    )
    _, replies = await converse(
        redis_server.url, key_prefix, second, "What is my cat called?"
    )
    assert replies == ["Your cat is called Miso."]
    assert second.remaining == 0

    # What the model saw after its call: the tool's result, holding the fact.
    responses = [
        part.function_response
        for content in second.requests[1].contents
        for part in content.parts or []
        if part.function_response is not None
    ]
    assert [r.name for r in responses] == ["load_memory"]
    assert responses[0].response is not None
    result = responses[0].response["result"]
    assert isinstance(result, LoadMemoryResponse)
    recalled = [
        part.text
        for entry in result.memories
        for part in entry.content.parts or []
        if part.text
    ]
    assert "My cat is called Miso, she is grey." in recalled
    assert all(entry.custom_metadata["session_id"] for entry in result.memories)
    assert all(entry.timestamp and entry.id for entry in result.memories)

    # The recall turn itself was added to memory, but not the tool's echo.
    async with RedisMemoryService(client=redis_client, key_prefix=key_prefix) as m:
        found = await m.search_memory(app_name=APP, user_id=USER, query="Miso")
    texts = [p.text for e in found.memories for p in e.content.parts or [] if p.text]
    assert sorted(texts) == sorted(
        [
            "My cat is called Miso, she is grey.",
            "Noted, your cat is Miso!",
            "Your cat is called Miso.",
        ]
    )

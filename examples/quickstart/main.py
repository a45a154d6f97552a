"""Quickstart: an ADK Runner with Redis sessions and Redis memory.

    python examples/quickstart/main.py

Uses REDIS_URL when set, else starts a throwaway redis-server. The model is
Gemini when GOOGLE_API_KEY is set, else an offline scripted model, so the
example runs anywhere. Session 1 teaches the agent a fact; session 2 (a new
conversation) finds it through memory with ADK's load_memory tool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from google.adk.agents import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.adk.runners import Runner
from google.adk.tools import load_memory
from google.genai import types

from adk_redis_session import RedisMemoryService, RedisSessionService
from adk_redis_session.scripted_model import ScriptedCall, ScriptedLlm
from adk_redis_session.testing import LocalRedisServer

APP, USER = "quickstart", "ada"

# The offline model reports no token usage; ADK's metrics would log each call.
logging.getLogger("google_adk.google.adk.telemetry._metrics").setLevel(logging.ERROR)


def model() -> str | BaseLlm:
    """Gemini with an API key; otherwise replies scripted for this example."""
    if os.environ.get("GOOGLE_API_KEY"):
        return "gemini-2.5-flash"
    return ScriptedLlm(
        [
            "Noted: your favourite colour is teal.",
            ScriptedCall("load_memory", {"query": "favourite colour"}),
            "You told me before: your favourite colour is teal.",
        ]
    )


async def say(runner: Runner, session_id: str, text: str) -> str:
    """Sends one user message; returns what load_memory found (if called)."""
    message = types.Content(role="user", parts=[types.Part(text=text)])
    print(f"  you > {text}")
    found = ""
    async for event in runner.run_async(
        user_id=USER, session_id=session_id, new_message=message
    ):
        for response in event.get_function_responses():
            result = (response.response or {}).get("result")
            texts = [
                part.text
                for memory in getattr(result, "memories", [])
                for part in (memory.content.parts or [])
                if part.text
            ]
            found = " | ".join(texts)
            print(f"  (load_memory found {len(texts)}: {found!r})")
        if event.is_final_response() and event.content and event.content.parts:
            print(f"  bot > {event.content.parts[0].text}")
    return found


async def main(url: str) -> int:
    agent = LlmAgent(
        name="assistant",
        model=model(),
        instruction="Be brief. Use load_memory to recall earlier conversations.",
        tools=[load_memory],
    )
    async with (
        RedisSessionService.from_url(url, key_prefix="quickstart") as sessions,
        RedisMemoryService.from_url(url, key_prefix="quickstart") as memory,
    ):
        runner = Runner(
            app_name=APP, agent=agent, session_service=sessions, memory_service=memory
        )
        first = await sessions.create_session(app_name=APP, user_id=USER)
        print("Session 1")
        await say(runner, first.id, "My favourite colour is teal.")
        stored = await sessions.get_session(
            app_name=APP, user_id=USER, session_id=first.id
        )
        assert stored is not None
        await memory.add_session_to_memory(stored)

        second = await sessions.create_session(app_name=APP, user_id=USER)
        print("Session 2 (a new conversation)")
        found = await say(runner, second.id, "What is my favourite colour?")
    # The memory search result itself must hold the fact, whatever the model says.
    recalled = "teal" in found.lower()
    print(f"recalled from memory: {'yes' if recalled else 'NO'}")
    return 0 if recalled else 1


if __name__ == "__main__":
    if redis_url := os.environ.get("REDIS_URL"):
        sys.exit(asyncio.run(main(redis_url)))
    with LocalRedisServer() as server:
        code = asyncio.run(main(server.url))
    sys.exit(code)

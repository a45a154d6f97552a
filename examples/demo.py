"""adk-redis-session demo: a scripted support bot whose session lives in Redis.

Run:  python examples/demo.py        (uses $REDIS_URL, else a throwaway server)

The model is a ScriptedLlm, so this runs offline with no API key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from pathlib import Path

try:
    import adk_redis_session  # noqa: F401
except ImportError:  # running from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis.asyncio as aioredis
from google.adk.agents import LlmAgent
from google.adk.events.event import Event
from google.adk.runners import Runner
from google.adk.sessions import Session
from google.adk.tools.tool_context import ToolContext
from google.genai import types

from adk_redis_session import RedisSessionService
from adk_redis_session.bench.quick import run_quick
from adk_redis_session.scripted_model import ScriptedCall, ScriptedLlm, ScriptedReply
from adk_redis_session.testing import LocalRedisServer

APP, USER = "support_demo", "ada"
# A scripted model reports no token usage; ADK logs a warning for every call.
logging.getLogger("google_adk.google.adk.telemetry._metrics").setLevel(logging.ERROR)


def open_ticket(topic: str, priority: str, tool_context: ToolContext) -> dict[str, str]:
    """Open a support ticket about a topic with a priority (low/normal/high)."""
    opened = int(tool_context.state.get("app:tickets_opened", 0)) + 1
    tool_context.state["open_ticket"] = f"T-{opened}"  # this session
    tool_context.state["user:preferred_name"] = "Ada"  # all of Ada's sessions
    tool_context.state["app:tickets_opened"] = opened  # the whole app
    tool_context.state["temp:priority"] = priority  # this invocation only
    return {"ticket_id": f"T-{opened}", "status": "open"}


TURNS = [
    "Hi! My wifi keeps dropping every few minutes.",
    "Yes, twice. Can you open a ticket?",
    "Also, my last invoice charged me twice.",
    "Great, thanks!",
]
SCRIPT: list[ScriptedReply] = [  # one per model call; a tool turn takes two
    "Sorry to hear that! Have you tried restarting the router?",
    ScriptedCall("open_ticket", {"topic": "wifi", "priority": "high"}),
    "Done: ticket T-1 is open with high priority.",
    ScriptedCall("open_ticket", {"topic": "billing", "priority": "normal"}),
    "I opened T-2 for billing as well.",
    "You're welcome, Ada. Anything else, just ask!",
]


def show(event: Event) -> None:
    for part in (event.content.parts if event.content else None) or []:
        if part.text:
            print(f"  {'you' if event.author == 'user' else 'bot'}  > {part.text}")
        elif call := part.function_call:
            args = ", ".join(f"{k}={v!r}" for k, v in (call.args or {}).items())
            print(f"  tool > {call.name}({args})")
        elif part.function_response:
            print(f"       < {part.function_response.response}")


async def load(svc: RedisSessionService, session_id: str) -> Session:
    session = await svc.get_session(app_name=APP, user_id=USER, session_id=session_id)
    if session is None:
        raise SystemExit(f"session {session_id} not found in Redis")
    return session


async def chat(svc: RedisSessionService) -> str:
    agent = LlmAgent(
        name="support_bot",
        model=ScriptedLlm(SCRIPT),
        tools=[open_ticket],
        instruction="You are a friendly support bot.",
        output_key="last_reply",
    )
    session = await svc.create_session(app_name=APP, user_id=USER)
    async with Runner(app_name=APP, agent=agent, session_service=svc) as runner:
        for turn, text in enumerate(TURNS, start=1):
            print(f"Turn {turn}")
            message = types.Content(role="user", parts=[types.Part(text=text)])
            async for event in runner.run_async(
                user_id=USER,
                session_id=session.id,
                new_message=message,
                yield_user_message=True,
            ):
                show(event)
    return session.id


async def main(url: str) -> int:
    prefix = f"adk-demo-{uuid.uuid4().hex[:8]}"
    print(f"Key prefix: {prefix}\n")
    async with RedisSessionService.from_url(url, key_prefix=prefix) as svc:
        session_id = await chat(svc)
        before = await load(svc, session_id)
    print("\nService closed. Restarting with a new service and a new client ...")

    client = aioredis.Redis.from_url(url)
    try:
        async with RedisSessionService(client=client, key_prefix=prefix) as svc:
            after = await load(svc, session_id)
            print("State after restart:")
            for key, value in sorted(after.state.items()):
                print(f"  {key:22} = {value!r}")
            same_events = after.events == before.events
            same_state = after.state == before.state
            print(
                f"read back after restart: {len(after.events)} events, "
                f"events identical: {'yes' if same_events else 'NO'}, "
                f"state identical: {'yes' if same_state else 'NO'}"
            )
        if "REDIS_URL" in os.environ:  # leave a shared server as we found it
            async for key in client.scan_iter(match=f"{prefix}:*"):
                await client.delete(key)
    finally:
        await client.aclose()
    print("\nQuick benchmark (seconds; the full one is `bash scripts/bench.sh`):")
    print(await run_quick(url))
    return 0 if same_events and same_state else 1


if __name__ == "__main__":
    print("adk-redis-session demo: a scripted support bot, its session in Redis\n")
    if url := os.environ.get("REDIS_URL"):
        print("Redis: using $REDIS_URL")
        sys.exit(asyncio.run(main(url)))
    with LocalRedisServer() as server:
        print(f"Redis: started a throwaway redis-server at {server.url}")
        code = asyncio.run(main(server.url))
    sys.exit(code)

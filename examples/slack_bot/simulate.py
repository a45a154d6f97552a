"""Runs the Slack-shaped bot locally, without Slack: a scripted conversation.

    python examples/slack_bot/simulate.py

Storage comes from the environment (``SESSION_BACKEND``, ``REDIS_URL``, ...).
With no ``REDIS_URL``, a throwaway redis-server is started and used, and
memory is kept in process (``MEMORY_BACKEND=inmemory``) unless you set it.
The bot is then restarted (new services, new connections) to show that the
thread's history and the user's reminders survive, as after a redeploy.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from bot import SlackBot, build_agent, scripted_replies  # type: ignore[import-not-found]

from adk_redis_session.scripted_model import ScriptedLlm
from adk_redis_session.testing import LocalRedisServer

logging.getLogger("google_adk.google.adk.telemetry._metrics").setLevel(logging.ERROR)

MESSAGES = [
    ("C042", "U7", "hello bot", "1700000000.000100"),
    ("C042", "U7", "remind me to renew the TLS certificate", "1700000000.000100"),
    ("C042", "U7", "what are my reminders?", "1700000000.000100"),
]


def show(channel: str, thread: str, user: str, text: str, reply: str, took: float):
    print(f"[{channel}/{thread}] <{user}> {text}")
    print(f"   bot ({took * 1000:.0f} ms): {reply}")


async def main() -> int:
    model = ScriptedLlm(scripted_replies())
    bot = SlackBot(build_agent(model))
    print(
        f"sessions: {type(bot.sessions).__name__}, memory: {type(bot.memory).__name__}"
    )
    try:
        for channel, user, text, thread in MESSAGES[:2]:
            reply, took = await bot.handle_message(
                channel=channel, user=user, text=text, thread_ts=thread
            )
            show(channel, thread, user, text, reply, took)
    finally:
        await bot.aclose()

    print("-- restart: new services, new connections --")
    bot = SlackBot(build_agent(model))
    try:
        channel, user, text, thread = MESSAGES[2]
        reply, took = await bot.handle_message(
            channel=channel, user=user, text=text, thread_ts=thread
        )
        show(channel, thread, user, text, reply, took)
        session = await bot.sessions.get_session(
            app_name="slack_bot", user_id=user, session_id=f"{channel}:{thread}"
        )
        assert session is not None
        reminders = session.state.get("user:reminders")
        print(f"thread history: {len(session.events)} events; ", end="")
        print(f"user:reminders = {reminders}")
        # The first message reached the model only via the session store.
        history_seen = "hello bot" in str(model.requests[-1].contents)
        seen = "yes" if history_seen else "NO"
        print(f"the model saw the earlier turns after the restart: {seen}")
        return 0 if reminders == ["renew the TLS certificate"] and history_seen else 1
    finally:
        await bot.aclose()


if __name__ == "__main__":
    os.environ.setdefault("MEMORY_BACKEND", "inmemory")
    if os.environ.get("REDIS_URL") or os.environ.get("SESSION_BACKEND") not in (
        None,
        "redis",
    ):
        sys.exit(asyncio.run(main()))
    with LocalRedisServer() as server:
        os.environ["REDIS_URL"] = server.url
        code = asyncio.run(main())
    sys.exit(code)

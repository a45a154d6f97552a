"""A Slack-bot-shaped ADK app: a message comes in, the agent's reply goes out.

Storage comes from the environment through the factory, exactly as in
production: ``SESSION_BACKEND`` / ``MEMORY_BACKEND`` (redis | cloudsql |
inmemory), ``REDIS_URL``, ``REDIS_SESSION_TTL``, ``DATABASE_URL`` ... (see
``.env.example``). One Slack thread is one ADK session; the Slack user is the
ADK user. ``handle_message`` is what a Slack Bolt handler would call.
"""

from __future__ import annotations

import contextlib
import os
import time

from google.adk.agents import LlmAgent
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.memory.base_memory_service import BaseMemoryService
from google.adk.models.base_llm import BaseLlm
from google.adk.runners import Runner
from google.adk.sessions.base_session_service import BaseSessionService
from google.adk.tools.tool_context import ToolContext
from google.genai import types

from adk_redis_session.backends import get_memory_service, get_session_service
from adk_redis_session.scripted_model import ScriptedCall, ScriptedReply

APP = "slack_bot"


def thread_session_id(channel: str, thread_ts: str) -> str:
    """One ADK session per Slack thread (ids are escaped by the store)."""
    return f"{channel}:{thread_ts}"


def set_reminder(text: str, tool_context: ToolContext) -> dict[str, str]:
    """Remembers a reminder for this user across threads."""
    reminders = list(tool_context.state.get("user:reminders", []))
    reminders.append(text)
    tool_context.state["user:reminders"] = reminders
    return {"status": "saved", "count": str(len(reminders))}


def build_agent(model: str | BaseLlm | None = None) -> LlmAgent:
    """The bot's agent: Gemini with GOOGLE_API_KEY, else ``model`` (scripted)."""
    chosen = "gemini-2.5-flash" if os.environ.get("GOOGLE_API_KEY") else model
    if chosen is None:
        raise ValueError("no GOOGLE_API_KEY: pass a model (e.g. a ScriptedLlm)")
    return LlmAgent(
        name="slack_helper",
        model=chosen,
        instruction="You are a helpful Slack bot. Keep replies short.",
        tools=[set_reminder],
        output_key="last_reply",
    )


class SlackBot:
    """Turns Slack-shaped messages into ADK turns with durable sessions.

    Args:
        agent: The agent that answers.
        sessions: A session service (default: chosen by SESSION_BACKEND).
        memory: A memory service (default: chosen by MEMORY_BACKEND).
    """

    def __init__(
        self,
        agent: LlmAgent,
        sessions: BaseSessionService | None = None,
        memory: BaseMemoryService | None = None,
    ) -> None:
        self.sessions = sessions or get_session_service()
        self.memory = memory or get_memory_service()
        self.runner = Runner(
            app_name=APP,
            agent=agent,
            session_service=self.sessions,
            memory_service=self.memory,
        )

    async def handle_message(
        self, *, channel: str, user: str, text: str, thread_ts: str
    ) -> tuple[str, float]:
        """Runs one turn; returns the reply and the seconds it took."""
        started = time.perf_counter()
        session_id = thread_session_id(channel, thread_ts)
        session = await self.sessions.get_session(
            app_name=APP, user_id=user, session_id=session_id
        )
        if session is None:
            # Another instance may create the thread's session first.
            with contextlib.suppress(AlreadyExistsError):
                await self.sessions.create_session(
                    app_name=APP, user_id=user, session_id=session_id
                )
        reply = ""
        message = types.Content(role="user", parts=[types.Part(text=text)])
        async for event in self.runner.run_async(
            user_id=user, session_id=session_id, new_message=message
        ):
            if event.is_final_response() and event.content and event.content.parts:
                reply = event.content.parts[0].text or ""
        return reply, time.perf_counter() - started

    async def aclose(self) -> None:
        """Closes the services (their connections and pools)."""
        for service in (self.sessions, self.memory):
            closer = getattr(service, "aclose", None) or getattr(service, "close", None)
            if closer is not None:
                await closer()


def scripted_replies() -> list[ScriptedReply]:
    """The offline model's replies for ``simulate.py``'s conversation."""
    return [
        "Hi! How can I help?",
        ScriptedCall("set_reminder", {"text": "renew the TLS certificate"}),
        "Saved: renew the TLS certificate.",
        "You have 1 reminder: renew the TLS certificate.",
    ]

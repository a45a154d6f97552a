"""A small agent for `adk web` / `adk api_server` with its data in Redis.

Sessions and memory live wherever `--session_service_uri` and
`--memory_service_uri` point (see ../services.yaml for `redis://`). After each
turn the conversation is added to memory, and every turn first searches
memory (PreloadMemoryTool), so a new session can recall an earlier one.

With GOOGLE_API_KEY (or GOOGLE_GENAI_USE_VERTEXAI=true) set, the model is
Gemini. Without, an offline model answers: it repeats the message, counts
the user's turns in the history it was given (which came from the session
store) and quotes what memory recalled.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncGenerator

from google.adk.agents import LlmAgent
from google.adk.agents.callback_context import CallbackContext
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.tools.preload_memory_tool import PreloadMemoryTool

from adk_redis_session.scripted_model import ScriptedLlm

logger = logging.getLogger(__name__)

_MEMORY_TAG = "<PAST_CONVERSATIONS>"


def _texts(request: LlmRequest, role: str) -> list[str]:
    return [
        " ".join(part.text for part in content.parts or [] if part.text)
        for content in request.contents
        if content.role == role
    ]


def offline_reply(request: LlmRequest) -> str:
    """What the offline model says to one request."""
    user_texts = _texts(request, "user")
    turns = [text for text in user_texts if text and _MEMORY_TAG not in text]
    said = turns[-1] if turns else ""
    reply = f"You said: {said!r}. That is your message #{len(turns)} in this session."
    recalled = [text for text in user_texts if _MEMORY_TAG in text]
    if recalled:
        body = recalled[-1].split(_MEMORY_TAG, 1)[1].split("</PAST_CONVERSATIONS>")[0]
        lines = [line for line in body.strip().splitlines() if line.startswith("user:")]
        if lines:
            reply += f" From earlier conversations I recall: {lines[0]!r}"
    return reply


class OfflineModel(ScriptedLlm):
    """A never-ending ScriptedLlm: each call gets `offline_reply` (no network)."""

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        self.requests.clear()  # a long-running server keeps no history here
        if not self.remaining:
            self.add_replies(offline_reply(llm_request))
        async for response in super().generate_content_async(llm_request, stream):
            yield response


def _use_gemini() -> bool:
    vertex = os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in ("1", "true")
    return bool(os.environ.get("GOOGLE_API_KEY")) or vertex


async def remember(callback_context: CallbackContext) -> None:
    """After each turn, add the session (only its new events) to memory.

    Best effort, like ADK's PreloadMemoryTool: the turn is already stored in
    the session, so a memory outage is logged and does not fail the reply.
    """
    try:
        await callback_context.add_session_to_memory()
    except Exception:
        logger.warning("could not add the session to memory", exc_info=True)


root_agent = LlmAgent(
    name="redis_helper",
    model="gemini-2.5-flash" if _use_gemini() else OfflineModel(model="offline"),
    instruction=(
        "You are a brief, friendly assistant. Use what you recall from "
        "earlier conversations when it helps."
    ),
    tools=[PreloadMemoryTool()],
    after_agent_callback=remember,
)

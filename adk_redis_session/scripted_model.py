"""An offline, deterministic model for demos and tests.

`ScriptedLlm` is a `google.adk.models.BaseLlm` that never touches the network
and needs no API key: it answers each model call with the next reply from a
script given up front, and records every request it received so that tests
can check what the model was shown (for example, the history of earlier
turns).

Each LLM call pops one reply. A tool call therefore takes two replies: the
function call, then the text the model says after it sees the tool's result.

Example:
    ```python
    from google.adk.agents import LlmAgent

    from adk_redis_session.scripted_model import ScriptedCall, ScriptedLlm

    model = ScriptedLlm(
        [
            ScriptedCall("lookup_order", {"order_id": "A-17"}),
            "Your order A-17 ships tomorrow.",
        ]
    )
    agent = LlmAgent(name="support", model=model, tools=[lookup_order])
    ```

"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from google.adk.models import BaseLlm, LlmCapabilities
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import PrivateAttr

__all__ = [
    "ScriptExhaustedError",
    "ScriptedCall",
    "ScriptedLlm",
    "ScriptedReply",
]


@dataclass(frozen=True)
class ScriptedCall:
    """A function (tool) call the scripted model makes.

    Attributes:
        name: The name of the tool to call.
        args: The arguments of the call, as JSON-compatible values.
        id: An explicit function call id. Leave it ``None`` to let ADK assign
            one (``adk-<uuid>``), as it does for real Gemini responses.

    """

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def to_part(self) -> types.Part:
        """Return the call as a `google.genai.types.Part`."""
        return types.Part(
            function_call=types.FunctionCall(
                name=self.name, args=copy.deepcopy(dict(self.args)), id=self.id
            )
        )


_ReplyItem: TypeAlias = str | ScriptedCall | types.Part

ScriptedReply: TypeAlias = (
    str | ScriptedCall | types.Part | types.Content | LlmResponse | Sequence[_ReplyItem]
)
"""One scripted model turn.

* ``str``: a text reply.
* `ScriptedCall`: a single function call.
* ``types.Part`` / ``types.Content``: any content, used as given (the role
  of a ``Content`` is forced to ``"model"``).
* ``LlmResponse``: a full response, e.g. to script an error or usage metadata.
* A list or tuple of ``str`` / `ScriptedCall` / ``types.Part``: one reply
  made of several parts, e.g. text followed by two parallel calls.
"""


class ScriptExhaustedError(RuntimeError):
    """Raised when the model is called after its last scripted reply."""


def _to_part(item: _ReplyItem) -> types.Part:
    if isinstance(item, str):
        return types.Part(text=item)
    if isinstance(item, ScriptedCall):
        return item.to_part()
    if isinstance(item, types.Part):
        return item.model_copy(deep=True)
    raise TypeError(
        "a multi-part scripted reply may hold only str, ScriptedCall or "
        f"google.genai.types.Part items, not {type(item).__name__}"
    )


def _to_response(reply: ScriptedReply) -> LlmResponse:
    """Normalize one scripted reply into a final (non-partial) response."""
    if isinstance(reply, LlmResponse):
        return reply.model_copy(deep=True)
    if isinstance(reply, types.Content):
        # A fresh Content: types.UserContent has a frozen role.
        parts = [part.model_copy(deep=True) for part in reply.parts or []]
        return LlmResponse(content=types.Content(role="model", parts=parts))
    if isinstance(reply, (str, ScriptedCall, types.Part)):
        parts = [_to_part(reply)]
    elif isinstance(reply, Sequence):
        parts = [_to_part(item) for item in reply]
        if not parts:
            raise ValueError("a scripted reply must not be an empty sequence")
    else:
        raise TypeError(
            "a scripted reply must be str, ScriptedCall, google.genai.types.Part, "
            "google.genai.types.Content, LlmResponse or a sequence of "
            f"str/ScriptedCall/Part, not {type(reply).__name__}"
        )
    return LlmResponse(content=types.Content(role="model", parts=parts))


class ScriptedLlm(BaseLlm):
    """A deterministic `BaseLlm` that replays scripted replies, offline.

    Every call to `generate_content_async` records the request in `requests`
    and answers with the next scripted reply; when the script is used up it
    raises `ScriptExhaustedError`. Replies are copied before they are handed
    to ADK, so ADK can set function call ids on them without touching the
    caller's objects.

    With ``stream=True`` a text-only reply is also streamed as ``partial``
    chunks, one per word, before the final response, following the
    `BaseLlm.generate_content_async` streaming contract.

    Args:
        replies: The scripted replies, in call order. See `ScriptedReply`.
        model: The model name that ADK reports (in events, traces and logs).
        **data: Other `BaseLlm` fields.

    Raises:
        TypeError: If a reply is of an unsupported type.
        ValueError: If a reply is an empty sequence.

    """

    model: str = "scripted"
    """The model name; scripted models have no real backend."""

    _replies: deque[LlmResponse] = PrivateAttr(default_factory=deque)
    _requests: list[LlmRequest] = PrivateAttr(default_factory=list)
    _calls: int = PrivateAttr(default=0)

    def __init__(
        self,
        replies: Sequence[ScriptedReply] = (),
        *,
        model: str = "scripted",
        **data: Any,
    ) -> None:
        super().__init__(model=model, **data)
        if isinstance(replies, (str, ScriptedCall, types.Part, types.Content)):
            raise TypeError("replies must be a sequence of replies, not one reply")
        self._replies = deque(_to_response(reply) for reply in replies)

    @property
    def capabilities(self) -> LlmCapabilities:
        """Declare capabilities outright (no name-based detection)."""
        return LlmCapabilities(output_schema_and_tools=False)

    @property
    def requests(self) -> list[LlmRequest]:
        """The requests received so far, oldest first.

        Each is a snapshot taken when the call arrived: its ``contents`` and
        ``config`` are deep copies, so later changes ADK makes to the live
        request do not show up here.
        """
        return self._requests

    @property
    def remaining(self) -> int:
        """How many scripted replies have not been used yet."""
        return len(self._replies)

    def add_replies(self, *replies: ScriptedReply) -> None:
        """Append more replies to the end of the script."""
        self._replies.extend(_to_response(reply) for reply in replies)

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        """Answer one model call with the next scripted reply.

        Args:
            llm_request: The request ADK built for this call; recorded in
                `requests`.
            stream: Whether ADK asked for SSE streaming. If true, a text-only
                reply is preceded by ``partial`` chunks.

        Yields:
            Optional ``partial`` chunks, then exactly one final `LlmResponse`.

        Raises:
            ScriptExhaustedError: If every scripted reply was already used.

        """
        self._requests.append(
            llm_request.model_copy(
                update={
                    "contents": copy.deepcopy(llm_request.contents),
                    "config": llm_request.config.model_copy(deep=True),
                }
            )
        )
        self._calls += 1
        if not self._replies:
            raise ScriptExhaustedError(
                f"ScriptedLlm {self.model!r} got model call #{self._calls} but "
                f"its script held only {self._calls - 1} replies; last user "
                f"message: {_last_user_text(llm_request)!r}"
            )
        response = self._replies.popleft()
        if stream:
            for chunk in _partial_chunks(response):
                yield chunk
        yield response


def _last_user_text(llm_request: LlmRequest) -> str | None:
    for content in reversed(llm_request.contents):
        if content.role == "user" and content.parts:
            texts = [part.text for part in content.parts if part.text]
            if texts:
                return " ".join(texts)
    return None


def _partial_chunks(response: LlmResponse) -> list[LlmResponse]:
    """Split a text-only response into word-sized partial responses."""
    content = response.content
    if content is None or not content.parts:
        return []
    if any(part.text is None or part.thought for part in content.parts):
        return []
    text = "".join(part.text or "" for part in content.parts)
    words = text.split(" ")
    pieces = [word + " " for word in words[:-1]] + [words[-1]]
    return [
        LlmResponse(
            content=types.Content(role="model", parts=[types.Part(text=piece)]),
            partial=True,
        )
        for piece in pieces
        if piece
    ]

"""OpenAI-format chat messages (ChatML), for the contracts whose bodies carry them.

The message model, reading one into a `Message` (text, reasoning apart, tool calls), and writing
a sampled answer as an assistant turn. DashScope trajectories and Nova RFT items use this format.
"""

from __future__ import annotations

import json
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict

from .._sample import Message, ToolCall
from ..media._parts import UNKNOWN_PART, content_media, part_media
from .base import Response, content_text, json_arguments


class ChatMessage(BaseModel):
    """An OpenAI-style (ChatML) message; keys a platform adds are tolerated."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: Union[str, list[dict[str, Any]], None] = None
    reasoning_content: Optional[str] = None
    tool_calls: Optional[list[dict[str, Any]]] = None
    tool_call_id: Optional[str] = None
    name: Optional[str] = None


def tool_call(call: dict[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if arguments is None:  # left out or null: a call without arguments, as "" is
        arguments = ""
    elif not isinstance(arguments, str):
        # OpenAI sends arguments as JSON text; a producer that sends the object gets the same text back, not a repr.
        arguments = json.dumps(arguments, ensure_ascii=False)
    return ToolCall(str(function.get("name", "")), arguments, call.get("id"))


def message(m: ChatMessage, role: str | None = None) -> Message:
    """The message as rewards read it; `role` overrides the message's own (a platform's alias for a role)."""
    return Message(
        role=role or m.role,
        text=content_text(m.content),
        thinking=m.reasoning_content or "",
        tool_calls=tuple(tool_call(c) for c in m.tool_calls or ()),
        tool_call_id=m.tool_call_id,
        name=m.name,
        media=content_media(m.content),
    )


def assistant_message(response: Response) -> dict[str, Any]:
    """The ChatML message of a sampled answer; reasoning goes in `reasoning_content`."""
    turn: dict[str, Any] = {"role": "assistant", "content": response.text}
    if response.thinking:
        turn["reasoning_content"] = response.thinking
    if response.tool_calls:
        turn["tool_calls"] = [{"id": c.id or f"call_{i}", "type": "function",
                               "function": {"name": c.name, "arguments": json_arguments(c.arguments)}}
                              for i, c in enumerate(response.tool_calls)]
    return turn


def chat_media_problems(messages: Any, schemes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(path, message) for each content part of `messages` that is neither text nor a known media part, or
    whose URI's scheme is not one of `schemes` (`data` for inline base64)."""
    found: list[tuple[str, str]] = []
    for i, turn in enumerate(messages if isinstance(messages, list) else ()):
        content = turn.get("content") if isinstance(turn, dict) else None
        for j, part in enumerate(content if isinstance(content, list) else ()):
            where = f"messages[{i}].content[{j}]"
            media = part_media(part)
            if media is None:
                continue
            if media.mime_type == UNKNOWN_PART:
                found.append((where, f"a part of type {part.get('type') if isinstance(part, dict) else part!r} is "
                                     "neither text nor image_url, video, input_audio"))
                continue
            for uri in (media.uri,) if media.uri else media.frames:
                scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
                if scheme not in schemes:
                    found.append((where, f"the {media.kind} URI {uri[:60]!r} is not one of "
                                         f"{', '.join(s + ':' for s in schemes)}"))
    return found

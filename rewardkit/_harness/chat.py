"""ChatML (OpenAI-style) message dicts -> canonical Messages and Samples, for callers that hold plain dicts
(the trainer adapters: TRL's conversational format, verl's prompts) rather than a platform's request body."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from .._sample import Message, Metadata, Sample, ToolCall
from ..contracts.base import content_text, json_arguments

# Where chat templates put a turn's reasoning: `reasoning_content` (Qwen3, DeepSeek-R1, most of TRL's
# response schemas), `thinking` (TRL's LFM2.5 schema): huggingface/trl trl/chat_template_utils.py.
THINKING_KEYS = ("reasoning_content", "thinking")


def _tool_call(call: Mapping[str, Any]) -> ToolCall:
    nested = call.get("function")
    function: Mapping[str, Any] = nested if isinstance(nested, Mapping) else call
    arguments = function.get("arguments", "")
    if not isinstance(arguments, str):
        # OpenAI sends arguments as JSON text; tokenizers' response parsers give the object: same text either way.
        arguments = json_arguments(arguments) if isinstance(arguments, Mapping) else json.dumps(arguments)
    return ToolCall(str(function.get("name", "")), arguments, call.get("id"))


def chat_message(message: Mapping[str, Any]) -> Message:
    """One ChatML dict as a Message; its reasoning (`reasoning_content` or `thinking`) kept apart from its text."""
    thinking = next((message[k] for k in THINKING_KEYS if isinstance(message.get(k), str)), "")
    calls = message.get("tool_calls") or ()
    return Message(
        role=str(message.get("role", "")),
        text=content_text(message.get("content")),
        thinking=thinking,
        tool_calls=tuple(_tool_call(c) for c in calls if isinstance(c, Mapping)),
        tool_call_id=message.get("tool_call_id"),
        name=message.get("name"),
    )


def chat_sample(prompt: Sequence[Mapping[str, Any]], answer: Sequence[Mapping[str, Any]], *,
                references: Mapping[str, Any], ground_truth: Any = None, metadata: Metadata) -> Sample:
    """A Sample from the prompt's messages and the model's turn(s): the response and its thinking are
    those of the last assistant message of `answer`; the trajectory is everything, in order."""
    before = tuple(chat_message(m) for m in prompt)
    after = tuple(chat_message(m) for m in answer)
    final = next((m for m in reversed(after) if m.role == "assistant"), None)
    return Sample(
        response=final.text if final else "",
        thinking=final.thinking if final else "",
        prompt=before,
        system=next((m.text for m in before if m.role == "system"), None),
        references=references,
        ground_truth=ground_truth,
        metadata=metadata,
        trajectory=before + after,
    )

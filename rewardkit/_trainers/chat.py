"""ChatML (OpenAI-style) message dicts -> canonical Messages and Samples, for callers that hold plain dicts
(the trainer adapters: TRL's conversational format, verl's prompts) rather than a platform's request body."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .._sample import Message, Metadata, Sample
from ..contracts._chat import ChatMessage, message

# TRL's response schema for LFM2.5 names a turn's reasoning `thinking`, the others `reasoning_content`
# (huggingface/trl trl/chat_template_utils.py).
_THINKING_ALIAS = "thinking"


def chat_message(turn: Mapping[str, Any]) -> Message:
    """One ChatML dict as a Message (read as the contracts read one), its reasoning kept apart from its text."""
    fields = dict(turn)
    if not isinstance(fields.get("reasoning_content"), str) and isinstance(fields.get(_THINKING_ALIAS), str):
        fields["reasoning_content"] = fields[_THINKING_ALIAS]
    return message(ChatMessage.model_validate(fields))


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

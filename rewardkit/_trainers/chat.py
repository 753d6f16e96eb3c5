"""ChatML (OpenAI-style) message dicts -> canonical Messages and Samples, for callers that hold plain dicts
(the trainer adapters: TRL's conversational format, verl's prompts) rather than a platform's request body."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from .._sample import Media, Message, Metadata, Sample
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


def with_prompt_media(sample: Sample, media: Sequence[Media]) -> Sample:
    """`sample` with `media` added to its last user turn (a user turn of its own when the prompt has none):
    where a trainer that keeps images in a dataset column rather than in the messages put them."""
    if not media:
        return sample
    index = next((i for i in range(len(sample.prompt) - 1, -1, -1) if sample.prompt[i].role == "user"), None)
    if index is None:
        turn = Message("user", media=tuple(media))
        return dataclasses.replace(sample, prompt=(*sample.prompt, turn),
                                   trajectory=(*sample.prompt, turn, *sample.trajectory[len(sample.prompt):]))
    old = sample.prompt[index]
    new = dataclasses.replace(old, media=(*old.media, *media))
    swap = {id(old): new}
    return dataclasses.replace(sample, prompt=tuple(swap.get(id(m), m) for m in sample.prompt),
                               trajectory=tuple(swap.get(id(m), m) for m in sample.trajectory))

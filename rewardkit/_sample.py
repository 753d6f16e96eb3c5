"""The canonical sample: what a reward sees, whichever platform sent the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

# Where a gold answer usually lives: Vertex `references.answer`, DashScope
# `rollout_extra.solution`; the others are common dataset spellings.
DEFAULT_REFERENCE_KEYS: tuple[str, ...] = ("answer", "solution", "ground_truth", "reference", "target")


@dataclass(frozen=True)
class ToolCall:
    """A tool (function) call made by the model."""

    name: str
    arguments: str = ""
    id: str | None = None


@dataclass(frozen=True)
class Message:
    """One turn of a conversation, reduced to what rewards read."""

    role: str
    text: str = ""
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Metadata:
    """Identifiers the platform attached to the call (all optional)."""

    platform: str = "local"
    step: int | None = None
    job_id: str | None = None
    sample_id: str | None = None
    rollout_id: str | None = None
    attempt_id: str | None = None


@dataclass(frozen=True)
class Sample:
    """One model response with its context.

    `response` is the final answer text (Vertex thought parts excluded);
    `thinking` holds the reasoning text separately. `references` is Vertex
    `example.references` or DashScope `agent_output.rollout_extra`;
    `ground_truth` is DashScope's `ground_truth`.
    """

    response: str
    thinking: str = ""
    prompt: tuple[Message, ...] = ()
    system: str | None = None
    references: Mapping[str, Any] = field(default_factory=dict)
    ground_truth: Any = None
    metadata: Metadata = field(default_factory=Metadata)
    trajectory: tuple[Message, ...] = ()
    raw: Mapping[str, Any] | None = None

    @property
    def prompt_text(self) -> str:
        """The text of the last user turn of the prompt ('' when there is none)."""
        for message in reversed(self.prompt):
            if message.role == "user":
                return message.text
        return ""

    def reference(self, keys: Sequence[str] = DEFAULT_REFERENCE_KEYS) -> Any:
        """The gold answer: `ground_truth` when set, else the first of `keys` in `references`.

        A blank `ground_truth` string counts as unset: a platform may send "" for "no ground truth"
        while the gold sits in the references."""
        truth = self.ground_truth
        if truth is not None and not (isinstance(truth, str) and not truth.strip()):
            return truth
        for key in keys:
            value = self.references.get(key)
            if value is not None:
                return value
        return None


def sample(
    response: str = "",
    reference: Any = None,
    *,
    thinking: str = "",
    prompt: str | Sequence[Message] = (),
    system: str | None = None,
    references: Mapping[str, Any] | None = None,
    ground_truth: Any = None,
    metadata: Metadata | None = None,
    trajectory: Sequence[Message] | None = None,
) -> Sample:
    """Build a Sample from plain values, for tests and local scoring.

    `reference` is a shortcut for `references={"answer": reference}`.
    """
    refs = dict(references or {})
    if reference is not None:
        refs.setdefault("answer", reference)
    prompt_messages = (Message("user", prompt),) if isinstance(prompt, str) and prompt else tuple(
        m for m in prompt if isinstance(m, Message)
    )
    if trajectory is None:
        trajectory = (*prompt_messages, Message("assistant", response, thinking=thinking))
    return Sample(
        response=response,
        thinking=thinking,
        prompt=prompt_messages,
        system=system,
        references=refs,
        ground_truth=ground_truth,
        metadata=metadata or Metadata(),
        trajectory=tuple(trajectory),
    )

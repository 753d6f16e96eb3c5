"""The canonical sample: what a reward sees, whichever platform sent the request."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from ._errors import MediaError, MediaUnsupportedError

# Where a gold answer usually lives: Vertex `references.answer`, DashScope
# `rollout_extra.solution`; the others are common dataset spellings.
DEFAULT_REFERENCE_KEYS: tuple[str, ...] = ("answer", "solution", "ground_truth", "reference", "target")


@dataclass(frozen=True)
class ToolCall:
    """A tool (function) call made by the model."""

    name: str
    arguments: str = ""
    id: str | None = None


MediaKind = Literal["image", "audio", "video", "other"]


@dataclass(frozen=True)
class Media:
    """An image, audio or video part of a message: what it is, and where its bytes are.

    `data` holds the bytes when the request carried them inline (Vertex `inlineData`, a `data:` URI),
    or once the service has fetched `uri` for a reward that reads media; `frames` are a video sent as
    a list of frame URIs. Rewards read the bytes with `read()`.
    """

    kind: MediaKind
    mime_type: str = ""
    uri: str | None = None
    data: bytes | None = field(default=None, repr=False)
    frames: tuple[str, ...] = ()

    def read(self) -> bytes:
        """The bytes: inline data, or a `data:` URI decoded. MediaError when they were never fetched."""
        if self.data is not None:
            return self.data
        if self.uri and self.uri.startswith("data:"):
            return _data_uri_bytes(self.uri)
        raise MediaError(f"the {self.kind} at {self.uri!r} was not fetched: ask for `images` or `media` "
                         "in the reward's parameters so the service fetches it before the call")


def _data_uri_bytes(uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep:
        raise MediaUnsupportedError(f"data URI without a comma: {uri[:40]!r}...")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise MediaUnsupportedError("data URI: the payload is not valid base64") from None
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(payload)


@dataclass(frozen=True)
class Message:
    """One turn of a conversation, reduced to what rewards read; `media` keeps its non-text parts in order."""

    role: str
    text: str = ""
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    media: tuple[Media, ...] = ()


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

    @property
    def media(self) -> tuple[Media, ...]:
        """Every media part of the prompt and then of the response, in order."""
        prompt = tuple(m for message in self.prompt for m in message.media)
        final = self.trajectory[-1].media if self.trajectory and self.trajectory[-1].role == "assistant" else ()
        return prompt + final

    @property
    def images(self) -> tuple[Media, ...]:
        """The images among `media`."""
        return tuple(m for m in self.media if m.kind == "image")

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

"""What a judge provider is: the one place that knows a model API's request and reply bodies.

As httpx separates its client from `_transports`, `AsyncJudge` keeps the policy (retries and
their deadline, rate limits, the concurrency cap, the cache, metrics) and a `Provider` only
translates: a chat and its options into an HTTP request, a reply body into text, optional token
log-probabilities and usage. A provider sends nothing and never retries, so a new API (Gemini's
`generateContent`, a native endpoint) is one module of two methods.

Options use OpenAI's chat completions names (`temperature`, `max_tokens`, `top_p`, `seed`,
`logprobs`, `top_logprobs`); a provider maps the ones its API has and refuses the others
(`ProviderError`), so an option is never dropped silently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..._errors import JudgeError

SHOWN_REPLY = 160  # characters of a judge's reply quoted in a reason or an error


def trim(text: str, limit: int = SHOWN_REPLY) -> str:
    """`text` on one line, cut to `limit` characters, for reasons and error messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class ProviderError(JudgeError):
    """A provider cannot build a request for these options, or read this reply: JUDGE_ERROR, the body quoted."""


@dataclass(frozen=True)
class Chat:
    """One question for a model: its name, the ChatML messages, and the request options (OpenAI's names)."""

    model: str
    messages: tuple[Mapping[str, Any], ...]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def wants_logprobs(self) -> bool:
        return bool(self.options.get("logprobs"))


@dataclass(frozen=True)
class HTTPRequest:
    """What to POST: the URL, the body's bytes, and the headers besides authorization and content type."""

    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenLogprob:
    """One sampled token, its log-probability, and the most likely alternatives at its position (`top`)."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Reply:
    """A model's answer as plain values: its text, per-token log-probabilities when asked for and given, usage."""

    text: str
    logprobs: tuple[TokenLogprob, ...] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Provider(ABC):
    """A model API. Subclass it, name it, and implement `request` and `reply`.

    `name` is what a judge's `provider=` option says; `default_base_url` is used when neither
    the judge nor the environment gives one. `authorization` turns the key or token into headers
    (a bearer token unless overridden).
    """

    name: ClassVar[str]
    default_base_url: ClassVar[str]

    def authorization(self, credential: str) -> dict[str, str]:
        """Headers that carry the API key or token."""
        return {"Authorization": f"Bearer {credential}"}

    @abstractmethod
    def request(self, base_url: str, chat: Chat) -> HTTPRequest:
        """The HTTP request asking `chat`; ProviderError for an option this API does not have."""
        raise NotImplementedError  # abstract

    @abstractmethod
    def reply(self, body: str) -> Reply:
        """The reply in a 200 answer's body; ProviderError (quoting it) when it is not one."""
        raise NotImplementedError  # abstract


__all__ = ["Chat", "HTTPRequest", "Provider", "ProviderError", "Reply", "TokenLogprob", "trim"]

"""The default provider: OpenAI-compatible chat completions.

Request `POST {base_url}/chat/completions` with `{"model", "messages", ...options}`; reply
`{"choices": [{"message": {"content"}, "logprobs": {"content": [{"token", "logprob",
"top_logprobs": [{"token", "logprob"}]}]}}], "usage": {"prompt_tokens", "completion_tokens"}}`
(openai/openai-python `src/openai/types/chat/chat_completion.py` and
`chat_completion_token_logprob.py`). vLLM, SGLang, Ollama, OpenAI, and Gemini's and Model
Studio's compatible endpoints speak it; options are passed through as they are.
"""

from __future__ import annotations

import json
from typing import Any

from .base import Chat, HTTPRequest, Provider, ProviderError, Reply, TokenLogprob, trim


class OpenAICompatible(Provider):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"

    def request(self, base_url: str, chat: Chat) -> HTTPRequest:
        body = {**chat.options, "model": chat.model, "messages": [dict(m) for m in chat.messages]}
        return HTTPRequest(f"{base_url}/chat/completions", json.dumps(body).encode())

    def reply(self, body: str) -> Reply:
        try:
            data = json.loads(body)
            choice = data["choices"][0]
            text = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderError(f"the judge's reply is not a chat completion: {trim(body)}") from None
        if not isinstance(text, str):
            raise ProviderError(f"the judge's reply has no text content: {trim(body)}")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Reply(text, _logprobs(choice.get("logprobs")), int(usage.get("prompt_tokens") or 0),
                     int(usage.get("completion_tokens") or 0))


def _logprobs(value: Any) -> tuple[TokenLogprob, ...] | None:
    """`choices[0].logprobs.content`, or None when absent or not in that shape (the caller falls back, saying so)."""
    content = value.get("content") if isinstance(value, dict) else None
    if not isinstance(content, list):
        return None
    try:
        return tuple(TokenLogprob(str(t["token"]), float(t["logprob"]),
                                  tuple((str(a["token"]), float(a["logprob"])) for a in t.get("top_logprobs") or ()))
                     for t in content)
    except (KeyError, TypeError, ValueError):
        return None


PROVIDER = OpenAICompatible()

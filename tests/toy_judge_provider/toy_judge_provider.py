"""A third-party judge provider, as another package would ship one: rewardkit does not know it.

It speaks Gemini's `generateContent` (google-gemini/generative-ai-python
`docs/api/google/generativeai/protos/GenerateContentRequest.md`, `LogprobsResult.md`): the key
in `x-goog-api-key`, the system text apart, options in `generationConfig`, token
log-probabilities in `logprobsResult`. The tests put this folder on PYTHONPATH: its
`toy_judge_provider-0.1.dist-info/entry_points.txt` declares it in the
`rewardkit.judge_providers` group, as `pip install` of a real package would.
"""

from __future__ import annotations

import json
from typing import Any

from rewardkit.clients.providers import Chat, HTTPRequest, Provider, ProviderError, Reply, TokenLogprob, trim

# OpenAI option names -> generationConfig fields; anything else is refused, not dropped.
CONFIG = {"temperature": "temperature", "max_tokens": "maxOutputTokens", "top_p": "topP", "seed": "seed",
          "logprobs": "responseLogprobs", "top_logprobs": "logprobs"}


class ToyGemini(Provider):
    name = "toy_gemini"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"

    def authorization(self, credential: str) -> dict[str, str]:
        return {"x-goog-api-key": credential}

    def request(self, base_url: str, chat: Chat) -> HTTPRequest:
        unknown = sorted(set(chat.options) - set(CONFIG))
        if unknown:
            raise ProviderError(f"generateContent has no option {', '.join(unknown)}; it takes {', '.join(CONFIG)}")
        system = [m["content"] for m in chat.messages if m["role"] == "system"]
        body: dict[str, Any] = {
            "contents": [{"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
                         for m in chat.messages if m["role"] != "system"],
            "generationConfig": {CONFIG[k]: v for k, v in chat.options.items()},
        }
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        return HTTPRequest(f"{base_url}/models/{chat.model}:generateContent", json.dumps(body).encode())

    def reply(self, body: str) -> Reply:
        try:
            data = json.loads(body)
            candidate = data["candidates"][0]
            text = "".join(part["text"] for part in candidate["content"]["parts"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderError(f"the reply is not a generateContent response: {trim(body)}") from None
        usage = data.get("usageMetadata") or {}
        return Reply(text, _logprobs(candidate.get("logprobsResult")), int(usage.get("promptTokenCount") or 0),
                     int(usage.get("candidatesTokenCount") or 0))


def _logprobs(result: Any) -> tuple[TokenLogprob, ...] | None:
    if not isinstance(result, dict) or "chosenCandidates" not in result:
        return None
    tops = result.get("topCandidates") or [{} for _ in result["chosenCandidates"]]
    return tuple(TokenLogprob(c["token"], c["logProbability"],
                              tuple((a["token"], a["logProbability"]) for a in top.get("candidates", ())))
                 for c, top in zip(result["chosenCandidates"], tops, strict=True))

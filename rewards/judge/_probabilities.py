"""A judge's score from its token probabilities (G-Eval), with the parsed verdict as the fallback.

G-Eval (Liu et al., 2023, "G-Eval: NLG Evaluation using GPT-4 with Better Human Alignment",
arXiv 2303.16634, section 2.3) scores `sum_i p(s_i) * s_i` over the allowed score tokens instead
of the one sampled: a judge torn between 3 and 4 says 3.6, not whichever it drew, so ties between
responses break and the reward is smoother. Here:

- the position is the token where the parsed verdict starts (the last match of `parse`, as for
  the parse itself), so "Score: 4 out of 5" weighs the 4, not the 5;
- the tokens counted are the scorer's (`tokens()`: the whole numbers of a NumberScore, a
  LabelScore's one-token labels), compared like the parse compares them; their probabilities
  are renormalised over the ones the provider listed in `top_logprobs`;
- when the provider sent no log-probabilities, they do not line up with the reply's text, or
  no allowed token is among the alternatives at that position, the parsed verdict is the score
  and the reason says why. Never a guess: the fallback is the same verdict `probabilities=False` gives.
"""

from __future__ import annotations

import functools
import math
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rewardkit.clients.providers import TokenLogprob

TOP_LOGPROBS = 20  # OpenAI's maximum `top_logprobs`; vLLM and Gemini take as many


@dataclass(frozen=True)
class Weighted:
    """A probability-weighted score, or None with the reason the parse stands instead."""

    value: float | None
    reason: str


@functools.lru_cache(maxsize=256)
def _pattern(parse: str) -> re.Pattern[str]:
    return re.compile(parse, re.DOTALL)


def verdict_start(parse: str, reply: str) -> int | None:
    """Where the text the parse reads begins in `reply` (the last match, its first group when it has one)."""
    if parse == "identity":
        stripped = reply.lstrip()
        return len(reply) - len(stripped) if stripped else None
    pattern = _pattern(parse)
    tail = deque(pattern.finditer(reply), maxlen=1)
    if not tail:
        return None
    last = tail[0]
    return last.start(1) if pattern.groups else last.start(0)


def _token_at(logprobs: Sequence[TokenLogprob], reply: str, offset: int) -> TokenLogprob | None:
    """The token covering character `offset` of `reply`, or None when the tokens do not spell the reply."""
    if "".join(t.token for t in logprobs) != reply:
        return None
    position = 0
    for token in logprobs:
        position += len(token.token)
        if position > offset and token.token.strip():
            return token
    return None


def weighted(logprobs: Sequence[TokenLogprob] | None, reply: str, parse: str, values: Mapping[str, float],
             normalise: Callable[[str], str]) -> Weighted:
    """G-Eval's score from the alternatives at the verdict's token, or why the parsed verdict stands."""
    if not values:
        return Weighted(None, "this scale has no one-token answers to weigh; parsed")
    if logprobs is None:
        return Weighted(None, "the judge returned no log-probabilities; parsed")
    start = verdict_start(parse, reply)
    token = _token_at(logprobs, reply, start) if start is not None else None
    if token is None:
        return Weighted(None, "the log-probabilities do not line up with the verdict; parsed")
    mass: dict[str, float] = {}
    for text, logprob in token.top or ((token.token, token.logprob),):
        key = normalise(text)
        if key in values:
            mass[key] = mass.get(key, 0.0) + math.exp(logprob)
    total = sum(mass.values())
    if total <= 0:
        return Weighted(None, f"no allowed answer among the judge's top tokens at {token.token!r}; parsed")
    value = sum(values[k] * p for k, p in mass.items()) / total
    shown = ", ".join(f"{k}:{p / total:.2f}" for k, p in sorted(mass.items(), key=lambda kv: -kv[1]))
    return Weighted(value, f"probability-weighted over {shown} ({total:.0%} of the mass)")

"""Reading a judge's reply: extract like Vertex's `autoraterResponseParseConfig`, then score.

Extraction is `"identity"` (the whole reply) or a regular expression whose **last** match wins
(Vertex `ReinforcementTuningParseResponseConfig`: `parseType` IDENTITY / REGEX_EXTRACT with
`regexExtractExpression`); its first group when it has one. Scoring is a number scaled from a
declared range, or an exact match giving a correct / wrong reward (Vertex's autorater
`exactMatchScorer`). Anything else is `JudgeUnparseable`, never a score.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Union

from rewardkit import RegistrationError
from rewardkit.clients import JudgeUnparseable
from rewardkit.clients.judge import trim
from rewardkit.parsers import last_match


@dataclass(frozen=True)
class NumberScore:
    """The extracted text read as a number in [low, high], scaled linearly onto `to` (default [0, 1])."""

    low: float = 1.0
    high: float = 5.0
    to: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        numbers = (self.low, self.high, *self.to)
        if not all(isinstance(n, (int, float)) and math.isfinite(n) for n in numbers) or self.high <= self.low:
            raise RegistrationError(f"NumberScore needs finite numbers with low < high, got {self}")

    @property
    def minimum(self) -> float:
        return min(self.to)

    def __call__(self, text: str) -> float:
        try:
            number = float(text.strip().strip("*_`'\" "))
        except ValueError:
            raise JudgeUnparseable(
                f"expected a number from {self.low:g} to {self.high:g}, got {trim(text)!r}") from None
        if not self.low <= number <= self.high:
            raise JudgeUnparseable(f"the judge's score {number:g} is outside {self.low:g}..{self.high:g}")
        return self.to[0] + (number - self.low) / (self.high - self.low) * (self.to[1] - self.to[0])


@dataclass(frozen=True)
class MatchScore:
    """`correct` when the extracted text equals `expected` (surrounding spaces and markup ignored), else `wrong`.

    With `others` set, a reply matching neither `expected` nor one of them is unparseable, not wrong.
    """

    expected: str
    correct: float = 1.0
    wrong: float = 0.0
    ignore_case: bool = True
    others: tuple[str, ...] = ()

    @property
    def minimum(self) -> float:
        return min(self.correct, self.wrong)

    def _norm(self, text: str) -> str:
        text = text.strip().strip("*_`'\".:。 ").strip()
        return text.casefold() if self.ignore_case else text

    def __call__(self, text: str) -> float:
        got = self._norm(text)
        if got == self._norm(self.expected):
            return self.correct
        if self.others and got not in {self._norm(o) for o in self.others}:
            menu = ", ".join(repr(o) for o in (self.expected, *self.others))
            raise JudgeUnparseable(f"expected one of {menu}, got {trim(text)!r}")
        return self.wrong


Scorer = Union[NumberScore, MatchScore]


def scorer(score: Any, reward: str) -> Scorer:
    """`(low, high)` -> NumberScore, a string -> MatchScore; scorers pass through."""
    if isinstance(score, (NumberScore, MatchScore)):
        return score
    if isinstance(score, str):
        return MatchScore(score)
    if isinstance(score, tuple) and len(score) == 2:
        return NumberScore(*score)
    raise RegistrationError(f"judge reward {reward!r}: score must be NumberScore(...), MatchScore(...), "
                            f"(low, high) or an expected string, got {score!r}")


def extractor(parse: str, reward: str) -> Callable[[str], str]:
    """A function from a reply to the text to score: "identity", or a regex whose last match wins."""
    if parse == "identity":
        return lambda reply: reply.strip()
    try:
        pattern = re.compile(parse, re.DOTALL)
    except (re.error, TypeError) as exc:
        raise RegistrationError(
            f"judge reward {reward!r}: parse must be 'identity' or a regular expression: {exc}") from None

    def extract(reply: str) -> str:
        found = last_match(pattern, reply)
        if found is None:
            raise JudgeUnparseable(f"no match for {parse!r} in the judge's reply")
        return found

    return extract


def last_json_object(reply: str) -> dict[str, Any]:
    """The last JSON object in a reply (inside a code block or not)."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    position = reply.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(reply, position)
        except ValueError:
            position = reply.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found = value
        position = reply.find("{", end)
    if found is None:
        raise JudgeUnparseable("no JSON object in the judge's reply")
    return found

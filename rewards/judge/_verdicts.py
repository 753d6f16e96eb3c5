"""Reading a judge's reply: extract like Vertex's `autoraterResponseParseConfig`, then score.

Extraction is `"identity"` (the whole reply) or a regular expression whose **last** match wins
(Vertex `ReinforcementTuningParseResponseConfig`: `parseType` IDENTITY / REGEX_EXTRACT with
`regexExtractExpression`); its first group when it has one. Scoring is a number scaled from a
declared range, an exact match giving a correct / wrong reward (Vertex's autorater
`exactMatchScorer`), or a label looked up in a declared map (OpenAI's label-model grader:
`labels` and `passing_labels`). Anything else is `JudgeUnparseable`, never a score.

Each scorer also names its tokens (`tokens()`): the single-token answers it can read, with
their values, so a score can be the probability-weighted mean over them (`_probabilities`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Union

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

    def key(self, text: str) -> str:
        """A token or an extracted text as the scale reads it: without spaces and markup."""
        return text.strip().strip("*_`'\" ")

    def __call__(self, text: str) -> float:
        try:
            number = float(self.key(text))
        except ValueError:
            raise JudgeUnparseable(
                f"expected a number from {self.low:g} to {self.high:g}, got {trim(text)!r}") from None
        if not self.low <= number <= self.high:
            raise JudgeUnparseable(f"the judge's score {number:g} is outside {self.low:g}..{self.high:g}")
        return self.to[0] + (number - self.low) / (self.high - self.low) * (self.to[1] - self.to[0])

    def tokens(self) -> dict[str, float]:
        """The whole numbers of the scale, each scaled (a 1..5 judge answers one of five tokens)."""
        if not (float(self.low).is_integer() and float(self.high).is_integer()):
            return {}
        return {str(n): self(str(n)) for n in range(int(self.low), int(self.high) + 1)}


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

    def key(self, text: str) -> str:
        text = text.strip().strip("*_`'\".:。 ").strip()
        return text.casefold() if self.ignore_case else text

    def __call__(self, text: str) -> float:
        got = self.key(text)
        if got == self.key(self.expected):
            return self.correct
        if self.others and got not in {self.key(o) for o in self.others}:
            menu = ", ".join(repr(o) for o in (self.expected, *self.others))
            raise JudgeUnparseable(f"expected one of {menu}, got {trim(text)!r}")
        return self.wrong

    def tokens(self) -> dict[str, float]:
        """The expected answer and its declared alternatives; without `others` any text is "wrong": none."""
        if not self.others:
            return {}
        return {self.key(self.expected): self.correct, **{self.key(o): self.wrong for o in self.others}}


@dataclass(frozen=True)
class LabelScore:
    """The extracted text looked up in `labels` (label -> score); a label not in the map is unparseable.

    Labels are compared without surrounding spaces, markup and final punctuation, ignoring case
    unless `ignore_case=False`: `LabelScore({"correct": 1, "partially correct": 0.5, "incorrect": 0})`.
    """

    labels: Mapping[str, float]
    ignore_case: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.labels, Mapping) or not self.labels:
            raise RegistrationError(f"LabelScore needs a non-empty label -> score map, got {self.labels!r}")
        for label, value in self.labels.items():
            if not isinstance(label, str) or not self.key(label):
                raise RegistrationError(f"LabelScore: labels must be non-empty strings, got {label!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise RegistrationError(f"LabelScore: label {label!r} maps to {value!r}, not a finite number")
        if len({self.key(label) for label in self.labels}) != len(self.labels):
            raise RegistrationError(f"LabelScore: two labels are the same once case and spaces are ignored: "
                                    f"{list(self.labels)}")

    def __hash__(self) -> int:
        return hash(tuple(self.labels.items()))

    @property
    def minimum(self) -> float:
        return min(self.labels.values())

    def key(self, text: str) -> str:
        text = " ".join(text.strip().strip("*_`'\".:。 ").split())
        return text.casefold() if self.ignore_case else text

    def __call__(self, text: str) -> float:
        found = self.tokens().get(self.key(text))
        if found is None:
            raise JudgeUnparseable(f"{trim(text)!r} is not a declared label ({', '.join(map(repr, self.labels))})")
        return found

    def tokens(self) -> dict[str, float]:
        return {self.key(label): float(value) for label, value in self.labels.items()}


Scorer = Union[NumberScore, MatchScore, LabelScore]


def scorer(score: Any, reward: str) -> Scorer:
    """`(low, high)` -> NumberScore, a string -> MatchScore, a mapping -> LabelScore; scorers pass through."""
    if isinstance(score, (NumberScore, MatchScore, LabelScore)):
        return score
    if isinstance(score, str):
        return MatchScore(score)
    if isinstance(score, Mapping):
        return LabelScore(dict(score))
    if isinstance(score, tuple) and len(score) == 2:
        return NumberScore(*score)
    raise RegistrationError(f"judge reward {reward!r}: score must be NumberScore(...), MatchScore(...), "
                            f"LabelScore(...), (low, high), an expected string or a label map, got {score!r}")


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

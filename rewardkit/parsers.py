"""Parsers for parse-then-score rewards.

A parser takes the response text and returns the part to score, or raises
ParseError with the reason. Each factory below returns a Parser; a string
spec ("boxed", "tag:answer", "regex:Answer: (.*)") names one too.
"""

from __future__ import annotations

import json as _json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from ._errors import ParseError, RegistrationError

__all__ = ["Parser", "ParseError", "identity", "regex", "boxed", "tag", "json", "last_number", "last_boxed",
           "all_boxed", "closing_brace",
           "brace_pairs", "BOX_START", "find_last_number", "resolve"]


@dataclass(frozen=True)
class Parser:
    """A named text -> value function; `name` is what GET /rewards shows."""

    name: str
    parse: Callable[[str], Any]

    def __call__(self, text: str) -> Any:
        return self.parse(text)


def identity() -> Parser:
    """The response as is (Vertex `IDENTITY`)."""
    return Parser("identity", lambda text: text)


def regex(pattern: str, flags: int = 0) -> Parser:
    """The LAST match of `pattern`, as Vertex REGEX_EXTRACT does.

    Like SQL REGEXP_EXTRACT, the first capture group is returned when the
    pattern has one, else the whole match.
    """
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise RegistrationError(f"regex parser: invalid pattern {pattern!r}: {exc}") from None

    def parse(text: str) -> str:
        found = last_match(compiled, text)
        if found is None:
            raise ParseError(f"no match for /{pattern}/ in the response")
        return found

    return Parser(f"regex:{pattern}", parse)


def last_match(compiled: re.Pattern[str], text: str) -> str | None:
    """What Vertex's REGEX_EXTRACT takes: the last match's group 1 when the pattern has a group, else the
    whole last match; None without a match."""
    tail = deque(compiled.finditer(text), maxlen=1)  # the matches run forward only: keep the last one
    if not tail:
        return None
    last = tail[0]
    return last.group(1) if compiled.groups else last.group(0)


#: Where a \boxed{...} (or \fbox{...}) starts; its content begins after the match.
BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")


def closing_brace(text: str, open_index: int) -> int | None:
    """Index of the "}" closing the "{" at `open_index`, or None if it never closes.

    Backslash escapes are skipped whole, so `\\{` and `\\}` never count.
    """
    return brace_pairs(text, open_index).get(open_index)


def brace_pairs(text: str, start: int = 0) -> dict[int, int]:
    """Every "{" of `text` from `start` on that closes, mapped to the index of its "}", in one pass.

    Escapes are skipped whole, as in closing_brace. Callers that need many braces look them up
    here: scanning from each of thousands of unclosed "\\boxed{" would be quadratic and cost a
    worker minutes.
    """
    pairs: dict[int, int] = {}
    opened: list[int] = []
    # The regex skips plain text in C: a Python loop over every character cost most of a math reward's time.
    for token in _BRACE_TOKEN.finditer(text, start):
        char = token.group()
        if char == "{":
            opened.append(token.start())
        elif char == "}" and opened:
            pairs[opened.pop()] = token.start()
    return pairs


_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)  # an escape is skipped whole, as in closing_brace


def all_boxed(text: str) -> list[str]:
    """The content of every complete top-level \boxed{...}, in order; unclosed boxes are skipped."""
    found: list[str] = []
    position = 0
    pairs: dict[int, int] | None = None
    while (match := BOX_START.search(text, position)) is not None:
        if pairs is None:
            pairs = brace_pairs(text)
        close = pairs.get(match.end() - 1)
        if close is None:
            position = match.end()
            continue
        found.append(text[match.end() : close])
        position = close + 1
    return found


def last_boxed(text: str) -> str | None:
    """Content of the last complete \boxed{...} (or \fbox{...}), braces balanced."""
    boxes = all_boxed(text)
    return boxes[-1] if boxes else None


def boxed() -> Parser:
    """The content of the last \\boxed{...}, nested braces included."""

    def parse(text: str) -> str:
        content = last_boxed(text)
        if content is None:
            raise ParseError("no complete \\boxed{...} in the response")
        return content.strip()

    return Parser("boxed", parse)


def tag(name: str) -> Parser:
    """The content of the last <name>...</name> element."""
    if not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
        raise RegistrationError(f"tag parser: {name!r} is not a valid tag name")
    pattern = re.compile(rf"<{re.escape(name)}>(.*?)</{re.escape(name)}>", re.DOTALL)

    def parse(text: str) -> str:
        matches: list[str] = pattern.findall(text)  # one group: each match is its text
        if not matches:
            raise ParseError(f"no <{name}>...</{name}> in the response")
        return matches[-1].strip()

    return Parser(f"tag:{name}", parse)


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


def _json_candidates(text: str) -> list[str]:
    candidates = [text.strip()]
    candidates.extend(reversed([block.strip() for block in _FENCE.findall(text)]))
    first = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    last = max(text.rfind("}"), text.rfind("]"))
    if 0 <= first < last:
        candidates.append(text[first : last + 1])
    return candidates


def json() -> Parser:
    """A JSON value: the whole response, else the last ```json fenced block, else the outermost {...}/[...] span."""

    def parse(text: str) -> Any:
        error = "empty response"
        for candidate in _json_candidates(text):
            if not candidate:
                continue
            try:
                return _json.loads(candidate)
            except ValueError as exc:
                error = str(exc)
            except RecursionError:  # a response of "[[[[..." is invalid output, not a reward error
                error = "it is nested too deeply"
        raise ParseError(f"no valid JSON in the response ({error})")

    return Parser("json", parse)


_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")


def find_last_number(text: str) -> str | None:
    """The last number in `text` with thousands commas removed, or None."""
    matches = _NUMBER.findall(text)
    return matches[-1].replace(",", "") if matches else None


def last_number() -> Parser:
    """The last number in the response, as a string ("1,000" -> "1000")."""

    def parse(text: str) -> str:
        number = find_last_number(text)
        if number is None:
            raise ParseError("no number in the response")
        return number

    return Parser("last_number", parse)


_NAMED: dict[str, Callable[[], Parser]] = {
    "identity": identity,
    "boxed": boxed,
    "json": json,
    "last_number": last_number,
}


def resolve(spec: "str | Parser | Callable[[str], Any]") -> Parser:
    """Turn a parser spec into a Parser; unknown names raise RegistrationError."""
    if isinstance(spec, Parser):
        return spec
    if isinstance(spec, str):
        kind, sep, arg = spec.partition(":")
        if kind in _NAMED and not sep:
            return _NAMED[kind]()
        if kind == "tag" and arg:
            return tag(arg)
        if kind == "regex" and arg:
            return regex(arg)
        known = ", ".join([*_NAMED, "tag:NAME", "regex:PATTERN"])
        raise RegistrationError(f"unknown parser {spec!r}; known parsers: {known}")
    if callable(spec):
        return Parser(getattr(spec, "__name__", "custom"), spec)
    raise RegistrationError(f"a parser must be a name, a Parser or a callable, got {type(spec).__name__}")

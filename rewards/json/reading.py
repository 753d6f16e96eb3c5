"""Reading the JSON value of a response, for both JSON rewards: `read_json` and its prose checks."""

from __future__ import annotations

import json
import re
from typing import Any

from rewardkit import ParseError, parsers

from ..common import strip_code_blocks, strip_thinking

_MAX_SHOWN = 200
_JSON = parsers.json()
# Prose around an extracted JSON value: a sentence is fine, a page is padding that hides where the answer is.
MAX_PROSE_CHARS = 300
_NEGATED = re.compile(r"\b(?:not|isn't|never|no)\b\W*$", re.I)


def _shown(text: str, limit: int = _MAX_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_json(response: str, extract: bool) -> Any:
    """The JSON value of the response; ParseError with the reason when there is none.

    With `extract` the value may be the whole response, the last ```json
    fenced block or the outermost {...}/[...] (rewardkit.parsers.json()),
    after removing <think> blocks (reasoning never counts); a value buried in
    more than MAX_PROSE_CHARS of other text, or right after a negation ("the
    answer is not {...}"), is refused. Without it the whole response must be JSON.
    """
    if extract:
        text = strip_thinking(response)
        value = _JSON(text)
        _check_prose(text)
        return value
    if not response.strip():
        raise ParseError("empty response")
    try:
        return json.loads(response)
    except ValueError as exc:
        raise ParseError(f"the response is not JSON ({exc})") from None
    except RecursionError:
        raise ParseError("the response is not JSON (it is nested too deeply)") from None


def _check_prose(text: str) -> None:
    """Refuse an extracted value that the text around it buries (padding) or negates (audit probes do both)."""
    outside = strip_code_blocks(text)
    first = min((i for i in (outside.find("{"), outside.find("[")) if i >= 0), default=-1)
    last = max(outside.rfind("}"), outside.rfind("]"))
    before, after = (outside[:first], outside[last + 1:]) if 0 <= first < last else (outside, "")
    prose = len(before.strip()) + len(after.strip())
    if prose > MAX_PROSE_CHARS:
        raise ParseError(f"the JSON is buried in {prose} characters of other text (at most {MAX_PROSE_CHARS})")
    if _NEGATED.search(before):
        raise ParseError(f"the JSON follows a negation: {_shown(before.strip()[-60:])!r}")


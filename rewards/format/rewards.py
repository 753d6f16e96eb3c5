"""Format and shape rewards: `think_format`, `boxed_format`, `length_penalty`, `repetition_penalty`.

All four score in [0, 1] (1 = well formed / no penalty). `length_penalty`
and `repetition_penalty` take `as_penalty=True` to score in [-1, 0]
instead (score - 1), for a "weighted_sum" composite where a penalty
should only ever subtract.
"""

from __future__ import annotations

import math
from typing import Any

from rewardkit import Score, parsers, reward

from ..common.options import OptionError

UNITS = ("tokens", "chars")
SHAPES = ("linear", "cosine")
_DEFAULT_N = {"tokens": 3, "chars": 10}


def _short(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


def _fail(reason: str) -> Score:
    return Score(0.0, reason)


# ---- think_format --------------------------------------------------------------------------------

def _check_tags(open_tag: Any = "<think>", close_tag: Any = "</think>", allow_empty_thinking: Any = False,
                accept_separate_thinking: Any = True) -> None:
    """Check think_format's options; OptionError names the first bad one."""
    for name, tag in (("open_tag", open_tag), ("close_tag", close_tag)):
        if not isinstance(tag, str) or not tag.strip():
            raise OptionError(f"{name} must be a non-empty string, got {tag!r}")
    if open_tag in close_tag or close_tag in open_tag:
        raise OptionError(f"open_tag {open_tag!r} and close_tag {close_tag!r} must not contain each other")


@reward(check_options=_check_tags)
def think_format(
    response: str,
    thinking: str,
    open_tag: str = "<think>",
    close_tag: str = "</think>",
    allow_empty_thinking: bool = False,
    accept_separate_thinking: bool = True,
) -> Score:
    """1.0 when the response is one `<think>...</think>` block followed by a non-empty answer, else 0.0 with the reason.

    Nothing but whitespace may come before the opening tag; there must be
    exactly one opening and one closing tag (case-sensitive), a non-empty
    reasoning inside, and a non-empty answer after. Reasons name the first
    rule broken: no block, text before it, several blocks, never closed,
    empty reasoning, no answer.

    The reasoning often arrives apart from the answer: TRL's conversational
    format moves the `<think>` block into the completion's reasoning_content,
    Vertex sends thought parts, DashScope reasoning_content. Then the response
    has no tags, and (by default) a non-empty reasoning delivered that way
    followed by a non-empty answer scores 1.0, as the same block inline would
    (the same rules: no empty reasoning unless allow_empty_thinking).

    Parameters:
        open_tag: the opening tag (default "<think>").
        close_tag: the closing tag (default "</think>").
        allow_empty_thinking: accept an empty or whitespace-only block (default False).
        accept_separate_thinking: when the response has no tags at all but the
            reasoning was delivered separately (TRL reasoning_content, Vertex
            thought parts, DashScope reasoning_content), score it as a block
            (default True; False: only tags in the response count).
    """
    _check_tags(open_tag, close_tag)
    opens, closes = response.count(open_tag), response.count(close_tag)
    if opens == 0 and closes == 0:
        return _separate(response, thinking, open_tag, close_tag, allow_empty_thinking, accept_separate_thinking)
    body = response.lstrip()
    if not body.startswith(open_tag):
        if opens == 0:
            return _fail(f"{close_tag} without {open_tag}")
        return _fail(f"text before {open_tag}: {_short(body[: body.find(open_tag)])}")
    if opens > 1:
        return _fail(f"{opens} {open_tag} tags; expected exactly one think block")
    if closes == 0:
        return _fail(f"{open_tag} is never closed by {close_tag}")
    if closes > 1:
        return _fail(f"{closes} {close_tag} tags; expected exactly one")
    end = body.index(close_tag)
    inner, answer = body[len(open_tag) : end], body[end + len(close_tag) :]
    if not allow_empty_thinking and not inner.strip():
        return _fail(f"empty {open_tag} block")
    if not answer.strip():
        return _fail(f"no answer after {close_tag}")
    return Score(1.0, f"one {open_tag} block, then an answer")


def _separate(response: str, thinking: str, open_tag: str, close_tag: str, allow_empty: bool, accept: bool) -> Score:
    """think_format of a response without tags: the reasoning delivered apart from it, or none at all."""
    separate = bool(thinking.strip()) or (allow_empty and bool(thinking))
    if not separate:
        return _fail(f"no {open_tag}...{close_tag} block")
    if not accept:
        return _fail(f"no {open_tag}...{close_tag} block in the response: the reasoning arrived separately (the "
                     "trainer's or platform's reasoning_content or thought parts), and accept_separate_thinking=False; "
                     "set accept_separate_thinking=True to score it as a block")
    if not response.strip():
        return _fail("reasoning came separately, but there is no answer")
    return Score(1.0, "reasoning came separately from the answer")


# ---- boxed_format --------------------------------------------------------------------------------

def _check_boxed(think_close_tag: Any = "</think>") -> None:
    """Check boxed_format's options; OptionError names the first bad one."""
    if think_close_tag is not None and (not isinstance(think_close_tag, str) or not think_close_tag):
        raise OptionError(f"think_close_tag must be a non-empty string or None, got {think_close_tag!r}")


@reward(check_options=_check_boxed)
def boxed_format(response: str, think_close_tag: str | None = "</think>") -> Score:
    """1.0 when the final answer holds exactly one complete, non-empty `\\boxed{...}`, else 0.0 with the reason.

    The final answer is the response after the last `think_close_tag`
    (reasoning written inline does not count; a reasoning block that is
    opened but never closed leaves no final answer; Vertex thought parts and
    DashScope reasoning_content are never part of the response). `\\fbox{}`
    counts as `\\boxed{}`; braces must balance (`\\{` and `\\}` are literal).

    Parameters:
        think_close_tag: where inline reasoning ends (default "</think>"; None: the whole response is the answer).
    """
    _check_boxed(think_close_tag)
    answer = response
    if think_close_tag and think_close_tag in response:
        answer = response[response.rindex(think_close_tag) + len(think_close_tag) :]
    elif think_close_tag and think_close_tag.startswith("</"):
        # "<think>" with no "</think>": the model never finished reasoning, so there is no final answer.
        think_open_tag = "<" + think_close_tag[2:]
        if think_open_tag in response:
            return _fail(f"{think_open_tag} is never closed: no final answer after the reasoning")
    boxes = []
    pairs = parsers.brace_pairs(answer)  # once, not a scan per box: nested boxes stay linear
    for match in parsers.BOX_START.finditer(answer):
        close = pairs.get(match.end() - 1)
        if close is None:
            return _fail(f"{match.group(0)} at character {match.start()} of the answer is never closed")
        boxes.append((match.end(), close))  # spans, not copies: nested boxes would copy the text each
    if not boxes:
        return _fail("no \\boxed{...} in the final answer")
    if len(boxes) > 1:
        return _fail(f"{len(boxes)} \\boxed{{...}} in the final answer; expected exactly one")
    content = answer[boxes[0][0] : boxes[0][1]].strip()
    if not content:
        return _fail("empty \\boxed{}")
    return Score(1.0, f"one \\boxed{{{content[:60]}}}")


# ---- length_penalty ------------------------------------------------------------------------------

def _units(text: str, unit: str) -> int:
    return len(text.split()) if unit == "tokens" else len(text)


def _measured(response: str, thinking: str, include_thinking: bool) -> str:
    return f"{thinking}\n{response}" if include_thinking and thinking else response


def _check_length(target: Any = 512, limit: Any = 2048, unit: Any = "tokens", shape: Any = "linear",
                  include_thinking: Any = False, as_penalty: Any = False) -> None:
    """Check length_penalty's options; OptionError names the first bad one."""
    for name, value in (("target", target), ("limit", limit)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise OptionError(f"{name} must be a number >= 0, got {value!r}")
    if limit <= target:
        raise OptionError(f"limit ({limit}) must be greater than target ({target})")
    if unit not in UNITS:
        raise OptionError(f"unit must be one of {', '.join(map(repr, UNITS))}, got {unit!r}")
    if shape not in SHAPES:
        raise OptionError(f"shape must be one of {', '.join(map(repr, SHAPES))}, got {shape!r}")


@reward(check_options=_check_length, metrics=["length"])
def length_penalty(
    response: str,
    thinking: str,
    target: float = 512,
    limit: float = 2048,
    unit: str = "tokens",
    shape: str = "linear",
    include_thinking: bool = False,
    as_penalty: bool = False,
) -> Score:
    """1.0 up to `target` length, falling to 0.0 at `limit` and beyond.

    With L the length and p = (L - target) / (limit - target), between the
    two: "linear" scores 1 - p, "cosine" scores (1 + cos(pi * p)) / 2
    (gentle near both ends, steepest in the middle). With as_penalty the
    score minus 1, in [-1, 0]. Metric `length`.

    Parameters:
        target: the length that still scores 1.0 (default 512).
        limit: the length that scores 0.0; must be > target (default 2048).
        unit: "tokens" (whitespace-separated words) or "chars" (default "tokens";
            use "chars" for text without spaces, e.g. Chinese).
        shape: "linear" or "cosine" (default "linear").
        include_thinking: also count the reasoning (Vertex thought parts,
            DashScope reasoning_content) (default False: the answer only).
        as_penalty: score in [-1, 0] (score - 1) instead of [0, 1] (default False).
    """
    _check_length(target, limit, unit, shape)
    length = _units(_measured(response, thinking, include_thinking), unit)
    if length <= target:
        value = 1.0
    elif length >= limit:
        value = 0.0
    else:
        progress = (length - target) / (limit - target)
        value = 1.0 - progress if shape == "linear" else (1.0 + math.cos(math.pi * progress)) / 2.0
    reason = f"{length} {unit} (target {target:g}, limit {limit:g}, {shape})"
    return Score(value - 1.0 if as_penalty else value, reason, {"length": float(length)})


# ---- repetition_penalty --------------------------------------------------------------------------

def _check_repetition(n: Any = None, unit: Any = "tokens", ignore_case: Any = False, include_thinking: Any = False,
                      as_penalty: Any = False) -> None:
    """Check repetition_penalty's options; OptionError names the first bad one."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise OptionError(f"n must be an integer >= 1 (or None for the unit's default), got {n!r}")
    if unit not in UNITS:
        raise OptionError(f"unit must be one of {', '.join(map(repr, UNITS))}, got {unit!r}")


def repeated_ratio(text: str, n: int, unit: str = "tokens", ignore_case: bool = False) -> tuple[float, int]:
    """(share of the n-grams that repeat an earlier one, number of n-grams); (0.0, 0) when shorter than n."""
    if ignore_case:
        text = text.casefold()
    if unit == "tokens":
        tokens = text.split()
        total = len(tokens) - n + 1
        if total <= 0:
            return 0.0, 0
        distinct = len({tuple(tokens[i : i + n]) for i in range(total)})
    else:
        chars = "".join(text.split())
        total = len(chars) - n + 1
        if total <= 0:
            return 0.0, 0
        # Hashes, not slices: a megabyte of text would otherwise keep a million strings alive.
        distinct = len({hash(chars[i : i + n]) for i in range(total)})
    return 1.0 - distinct / total, total


@reward(check_options=_check_repetition, metrics=["repeated_ratio", "ngrams"])
def repetition_penalty(
    response: str,
    thinking: str,
    n: int | None = None,
    unit: str = "tokens",
    ignore_case: bool = False,
    include_thinking: bool = False,
    as_penalty: bool = False,
) -> Score:
    """1 - r, r being the share of the response's n-grams that repeat an earlier one.

    r = 1 - distinct n-grams / all n-grams: 0 for text with no repeated
    n-gram, close to 1 for a loop ("a b a b a b ..."). A text shorter than n
    units scores 1.0. With as_penalty the score is -r, in [-1, 0]. Metrics
    `repeated_ratio` and `ngrams`.

    Parameters:
        n: the n-gram size (default None: 3 for tokens, 10 for chars).
        unit: "tokens" (whitespace-separated words) or "chars" (characters,
            whitespace removed; for text without spaces) (default "tokens").
        ignore_case: compare case-insensitively (default False).
        include_thinking: also count the reasoning (default False: the answer only).
        as_penalty: score -r in [-1, 0] instead of 1 - r (default False).
    """
    _check_repetition(n, unit)
    size = n if n is not None else _DEFAULT_N[unit]
    ratio, total = repeated_ratio(_measured(response, thinking, include_thinking), size, unit, ignore_case)
    metrics = {"repeated_ratio": ratio, "ngrams": float(total)}
    if total == 0:
        reason = f"shorter than one {size}-gram of {unit}"
    else:
        reason = f"{ratio:.1%} of {total} {size}-grams of {unit} repeat an earlier one"
    value = (-ratio if ratio else 0.0) if as_penalty else 1.0 - ratio
    return Score(value, reason, metrics)

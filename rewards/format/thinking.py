"""Reasoning and answer shape: `think_format` (one think block, then an answer) and `boxed_format` (one \\boxed{}).

Both score in [0, 1] (1 = well formed), 0.0 with the reason of the first rule broken.
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import MinLen

from rewardkit import Score, parsers, reward

from ..common.options import OptionError


def _short(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


def _fail(reason: str) -> Score:
    return Score(0.0, reason)


# ---- think_format --------------------------------------------------------------------------------

def _check_tags(open_tag: str, close_tag: str, **_: Any) -> None:
    """think_format's rules across options (each one's type is in its signature)."""
    for name, tag in (("open_tag", open_tag), ("close_tag", close_tag)):
        if not tag.strip():
            raise OptionError(f"{name} must not be blank, got {tag!r}")
    if open_tag in close_tag or close_tag in open_tag:
        raise OptionError(f"open_tag {open_tag!r} and close_tag {close_tag!r} must not contain each other")


@reward(check_options=_check_tags)
def think_format(
    response: str,
    thinking: str,
    open_tag: Annotated[str, MinLen(1)] = "<think>",
    close_tag: Annotated[str, MinLen(1)] = "</think>",
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

@reward
def boxed_format(response: str, think_close_tag: Annotated[str, MinLen(1)] | None = "</think>") -> Score:
    """1.0 when the final answer holds exactly one complete, non-empty `\\boxed{...}`, else 0.0 with the reason.

    The final answer is the response after the last `think_close_tag`
    (reasoning written inline does not count; a reasoning block that is
    opened but never closed leaves no final answer; Vertex thought parts and
    DashScope reasoning_content are never part of the response). `\\fbox{}`
    counts as `\\boxed{}`; braces must balance (`\\{` and `\\}` are literal).

    Parameters:
        think_close_tag: where inline reasoning ends (default "</think>"; None: the whole response is the answer).
    """
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


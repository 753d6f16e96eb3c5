"""Cleaning a response before a reward reads it (reasoning blocks and fenced code out), and text cut for a reason."""

from __future__ import annotations

import re


def strip_thinking(text: str, tags: tuple[str, ...] = ("think",)) -> str:
    """Remove reasoning blocks ``<tag>...</tag>`` for every tag in ``tags`` (case-insensitive).

    A stray closing tag (opening tag was in the prompt) drops everything before it; a stray
    opening tag (reasoning never finished) drops everything after it.
    """
    for tag in tags:
        text = _strip_blocks(text, tag)
    return text


def tag_pattern(tag: str) -> re.Pattern[str]:
    """An opening `<tag ...>` or a closing `</tag>` (group "close"), case-insensitive.

    Attributes are read up to 200 characters: an unbounded read rescanned the rest of the text from every
    "<think" of a response that never closes one (quadratic)."""
    name = re.escape(tag)
    return re.compile(rf"(?P<close></{name}\s*>)|<{name}\b[^>]{{0,200}}>", re.I)


def _strip_blocks(text: str, tag: str) -> str:
    """One pass over the tags, in order: a block is an opening tag up to the first closing tag after it."""
    kept: list[str] = []
    position = 0
    stray_closing_end = 0  # in the kept text: everything before the last stray closing tag is dropped
    size = 0
    opening: re.Match[str] | None = None  # of the block being read
    for match in tag_pattern(tag).finditer(text):
        if opening is None and match.group("close"):  # a stray closing tag
            kept.append(text[position:match.end()])
            size += match.end() - position
            stray_closing_end = size
            position = match.end()
        elif opening is None:
            opening = match
        elif match.group("close"):  # the block ends: it reads as one space
            kept += [text[position:opening.start()], " "]
            size += opening.start() - position + 1
            position, opening = match.end(), None
    if opening is not None:  # reasoning never finished: the rest goes
        kept.append(text[position:opening.start()])
    else:
        kept.append(text[position:])
    return "".join(kept)[stray_closing_end:]


_FENCE = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.S)


def strip_code_blocks(text: str) -> str:
    """Remove fenced code blocks; an unclosed fence hides the rest of the text."""
    return _FENCE.sub(" ", text)


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)


def answer_block(text: str) -> str:
    """The content of the last ``<answer>...</answer>`` block (R1-style prompts), else the whole text."""
    answers = _ANSWER.findall(text)
    return answers[-1] if answers else text


def shorten(text: str, limit: int) -> str:
    """`text` when it has at most `limit` characters, else its first `limit - 3` and "..." (the same rule as
    rewardkit's own messages, which rewards/ cannot import: it is not public API)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."

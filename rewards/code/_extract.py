"""Finding the program in a response: the last fenced block in the target language, or the whole text.

Inline thinking never counts, as in the other built-in rewards (rewards.common.strip_thinking), when the
platform left it in the answer: a `<think>...</think>` block, an unclosed `<think>` (everything after it),
and a `</think>` with no opening before it (everything before it: the chat template opened the block in
the prompt). Unlike text answers, a program may hold those tags itself (a parser of them, a test string):
inside a fenced block that opened outside thinking they are the program's, not thinking.
"""

from __future__ import annotations

import re
from typing import Iterator

from rewardkit import RewardkitError

from ..common import tag_pattern

_OPENING = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)")
_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})", re.M)
_THINK_TAG = tag_pattern("think")
ALIASES = {
    "python": {"python", "py", "python3", "py3"},
    "cpp": {"cpp", "c++", "cc", "cxx"},
    "javascript": {"javascript", "js", "nodejs", "node"},
    "java": {"java"}, "go": {"go", "golang"}, "rust": {"rust", "rs"}, "bash": {"bash", "sh", "shell"},
}


class NoProgram(RewardkitError):
    """The response holds no program to run (the model's fault: a score of 0, not an error)."""


def fenced_blocks(text: str) -> Iterator[tuple[str, str]]:
    """(tag, content) of every closed fenced block, in order.

    One pass over the lines (a regular expression with a back-reference
    rescans to the end for every unclosed fence: quadratic on a hostile
    response). A block closes on a line of the same fence character, at
    least as long as the one that opened it; one never closed is dropped.
    """
    fence: str | None = None
    tag = ""
    lines: list[str] = []
    for line in text.split("\n"):
        if fence is None:
            opening = _OPENING.match(line)
            if opening:
                fence, tag, lines = opening.group(1), opening.group(2).lower(), []
            continue
        closing = line.strip()
        if closing and len(closing) >= len(fence) and closing == fence[0] * len(closing):
            yield tag, "\n".join(lines) + "\n"
            fence = None
        else:
            lines.append(line)


def _closes(line: str, fence: str) -> bool:
    closing = line.strip()
    return bool(closing) and len(closing) >= len(fence) and closing == fence[0] * len(closing)


def _after_fence(text: str, start: int, fence: str) -> int:
    """Where the fenced block opened by the line at `start` ends: after its closing line, else the end."""
    position = text.find("\n", start)
    while position != -1:
        end = text.find("\n", position + 1)
        if _closes(text[position + 1:] if end == -1 else text[position + 1:end], fence):
            return len(text) if end == -1 else end
        position = end
    return len(text)


def without_thinking(text: str) -> str:
    """`text` without its inline thinking (see the module docstring), in one pass in reading order: a tag
    inside a fenced block is code, a fence inside thinking is thinking. Not rewards.common.strip_thinking, on
    purpose: that one reads tags inside code blocks as thinking, which is right for prose, wrong for a program."""
    kept: list[str] = []
    position = 0
    tag = _THINK_TAG.search(text)
    after_thinking = False  # "</think>```python": a block opens right after the tag, mid-line
    while position < len(text):
        if tag is not None and tag.start() < position:  # searched again only once passed: linear overall
            tag = _THINK_TAG.search(text, position)
        fence = (after_thinking and _OPENING.match(text, position)
                 or _FENCE_LINE.search(text, position, tag.start() if tag else len(text)))
        after_thinking = False
        if fence:  # a fenced block first: kept whole, whatever tags it holds
            end = _after_fence(text, fence.start(), fence.group(1))
            kept.append(text[position:end])
            position = end
        elif tag is None:
            kept.append(text[position:])
            break
        elif tag.group("close"):  # no opening before it: what came before was thinking
            kept = []
            position, tag, after_thinking = tag.end(), _THINK_TAG.search(text, tag.end()), True
        else:
            kept.append(text[position:tag.start()])
            close = _THINK_TAG.search(text, tag.end())
            while close is not None and not close.group("close"):
                close = _THINK_TAG.search(text, close.end())
            if close is None:  # never finished: the rest is thinking
                break
            kept.append("\n" if _OPENING.match(text, close.end()) else " ")  # the block opens on a line of its own
            position, tag, after_thinking = close.end(), _THINK_TAG.search(text, close.end()), True
    return "".join(kept)


def extract_program(response: str, language: str = "python", mode: str = "fenced") -> str:
    """The program to run, from the response without its inline thinking. mode "fenced": the last
    ```<language> block (an untagged block when there is none in the language); mode "response": the
    whole response. Thinking the platform split out (reasoning_content, thought parts) is never passed."""
    response = without_thinking(response)
    if mode == "response":
        if not response.strip():
            raise NoProgram("the response is empty")
        return response
    names = ALIASES.get(language, {language})
    tagged, untagged = [], []
    for tag, content in fenced_blocks(response):
        if tag in names:
            tagged.append(content)
        elif not tag:
            untagged.append(content)
    found = tagged or untagged
    if not found:
        raise NoProgram(f"no ```{language} block in the response")
    return found[-1]

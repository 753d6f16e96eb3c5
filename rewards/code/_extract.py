"""Finding the program in a response: the last fenced block in the target language, or the whole text."""

from __future__ import annotations

import re
from typing import Iterator

_OPENING = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)")
ALIASES = {
    "python": {"python", "py", "python3", "py3"},
    "cpp": {"cpp", "c++", "cc", "cxx"},
    "javascript": {"javascript", "js", "nodejs", "node"},
    "java": {"java"}, "go": {"go", "golang"}, "rust": {"rust", "rs"}, "bash": {"bash", "sh", "shell"},
}


class NoProgram(Exception):
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


def extract_program(response: str, language: str = "python", mode: str = "fenced") -> str:
    """The program to run. mode "fenced": the last ```<language> block (an untagged block when there is
    none in the language); mode "response": the whole response. Thinking is never passed here."""
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

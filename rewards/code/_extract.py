"""Finding the program in a response: the last fenced block in the target language, or the whole text."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
ALIASES = {
    "python": {"python", "py", "python3", "py3"},
    "cpp": {"cpp", "c++", "cc", "cxx"},
    "javascript": {"javascript", "js", "nodejs", "node"},
    "java": {"java"}, "go": {"go", "golang"}, "rust": {"rust", "rs"}, "bash": {"bash", "sh", "shell"},
}


class NoProgram(Exception):
    """The response holds no program to run (the model's fault: a score of 0, not an error)."""


def extract_program(response: str, language: str = "python", mode: str = "fenced") -> str:
    """The program to run. mode "fenced": the last ```<language> block (an untagged block when there is
    none in the language); mode "response": the whole response. Thinking is never passed here."""
    if mode == "response":
        if not response.strip():
            raise NoProgram("the response is empty")
        return response
    names = ALIASES.get(language, {language})
    tagged, untagged = [], []
    for match in _FENCE.finditer(response):
        tag = match.group(2).lower()
        if tag in names:
            tagged.append(match.group(3))
        elif not tag:
            untagged.append(match.group(3))
    found = tagged or untagged
    if not found:
        raise NoProgram(f"no ```{language} block in the response")
    return found[-1]

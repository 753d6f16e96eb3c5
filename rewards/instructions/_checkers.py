"""IFEval's 25 verifiable instructions, each a checker with the kwargs it accepts.

The semantics are IFEval's (google-research/google-research,
instruction_following_eval/instructions.py, read for this module; the code is
rewardkit's own). Where rewardkit differs, on purpose, the checker says so:
sentences are counted by the rule in `_text` (IFEval: NLTK punkt), keywords
are literal text (IFEval: a regular expression), and text langdetect cannot
read is not in the asked language (IFEval counts it as followed: a policy
would learn to emit digits).

`constraint(id, kwargs)` checks the id and the kwargs before anything runs:
an unknown id, an unknown or missing kwarg or a value of the wrong type raises
ConstraintError naming it. A checker never passes by default.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from rewardkit import RewardkitError

from . import _text

RELATIONS = ("less than", "at least")
CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


class ConstraintError(RewardkitError, ValueError):
    """A constraint of the request cannot be checked: unknown instruction id or kwargs; the message names it."""


def _compare(count: int, relation: str, threshold: int) -> bool:
    return count < threshold if relation == "less than" else count >= threshold


# ---- the checkers: (response, **kwargs) -> bool ----------------------------------------------------

def keywords_existence(text: str, keywords: list[str]) -> bool:
    return all(re.search(re.escape(k), text, flags=re.IGNORECASE) for k in keywords)


def keywords_frequency(text: str, keyword: str, frequency: int, relation: str) -> bool:
    # IFEval counts occurrences anywhere ("cat" in "category" counts), case-insensitively.
    return _compare(len(re.findall(re.escape(keyword.strip()), text, flags=re.IGNORECASE)), relation, frequency)


def forbidden_words(text: str, forbidden_words: list[str]) -> bool:
    return not any(re.search(rf"\b{re.escape(w)}\b", text, flags=re.IGNORECASE) for w in forbidden_words)


def letter_frequency(text: str, letter: str, let_frequency: int, let_relation: str) -> bool:
    return _compare(Counter(text.lower())[letter.strip().lower()], let_relation, let_frequency)


def response_language(text: str, language: str) -> bool:
    return _text.detect_language(text) == language


def number_sentences(text: str, num_sentences: int, relation: str) -> bool:
    return _compare(_text.count_sentences(text), relation, num_sentences)


def number_paragraphs(text: str, num_paragraphs: int) -> bool:
    parts = re.split(r"\s?\*\*\*\s?", text)
    # An empty part at either end is a leading/trailing divider; an empty part inside is two dividers in a row.
    if any(not p.strip() for p in parts[1:-1]):
        return False
    return sum(bool(p.strip()) for p in parts) == num_paragraphs


def number_words(text: str, num_words: int, relation: str) -> bool:
    return _compare(_text.count_words(text), relation, num_words)


def nth_paragraph_first_word(text: str, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    parts = text.split("\n\n")
    count = sum(bool(p.strip()) for p in parts)
    if nth_paragraph > count or nth_paragraph < 1:
        return False
    paragraph = parts[nth_paragraph - 1].strip()  # as IFEval: indexed among all parts, empty ones included
    if not paragraph:
        return False
    word = paragraph.split()[0].lstrip("'\"")
    found = re.split(r"[.,?!'\"]", word, maxsplit=1)[0].lower()  # up to the first punctuation mark
    return count == num_paragraphs and found == first_word.lower()


def number_placeholders(text: str, num_placeholders: int) -> bool:
    # IFEval's re.findall(r"\[.*?\]"): each "[" up to the next "]" on its line. Counted by scanning, as the
    # regex is quadratic on a line of "[" without "]" (responses are hostile).
    count = 0
    for line in text.split("\n"):
        start = line.find("[")
        while start != -1:
            end = line.find("]", start + 1)
            if end == -1:
                break
            count += 1
            start = line.find("[", end + 1)
    return count >= num_placeholders


def postscript(text: str, postscript_marker: str) -> bool:
    marker = postscript_marker.strip()
    # IFEval's patterns start with \s*, which changes nothing for a search but is quadratic on long blank runs.
    if marker == "P.P.S":
        pattern = r"p\.\s?p\.\s?s"
    elif marker == "P.S.":
        pattern = r"p\.\s?s\."
    else:
        pattern = re.escape(marker.lower())
    return bool(re.search(pattern, text.lower()))


def number_bullet_lists(text: str, num_bullets: int) -> bool:
    # IFEval: matches of ^\s*\*[^\*].*$ plus matches of ^\s*-.*$ (multiline). Counted line by line, as ^\s* is
    # quadratic over many blank lines; the same lines count: "* x" bullets, and every "-" line; a lone "*" line
    # is a bullet that swallows the next line ([^\*] matches its newline), "**" is bold, not a bullet.
    lines = text.split("\n")
    dashes = sum(line.lstrip().startswith("-") for line in lines)
    stars, number = 0, 0
    while number < len(lines):
        body = lines[number].lstrip()
        if body == "*" and number < len(lines) - 1:
            stars += 1
            number += 1  # the next line is part of this match
        elif body.startswith("*") and body[1:2] not in ("*", ""):
            stars += 1
        number += 1
    return stars + dashes == num_bullets


def constrained_response(text: str) -> bool:
    return any(option in text.strip() for option in CONSTRAINED_RESPONSES)


def number_highlighted_sections(text: str, num_highlights: int) -> bool:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h[2:-2].strip()]
    return len(single) + len(double) >= num_highlights


def multiple_sections(text: str, section_spliter: str, num_sections: int) -> bool:
    pattern = r"\s?" + re.escape(section_spliter.strip()) + r"\s?\d+\s?"
    return len(re.split(pattern, text)) - 1 >= num_sections


def json_format(text: str) -> bool:
    body = text.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        if body.startswith(fence):
            body = body[len(fence):]
            break
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


def title(text: str) -> bool:
    # IFEval's re.findall(r"<<[^\n]+>>") matches, per line, from the first "<<" to the last ">>" (greedy), so it
    # is one candidate per line; found by index, as the regex is quadratic on a line of "<<<<...".
    for line in text.split("\n"):
        start, end = line.find("<<"), line.rfind(">>")
        if start != -1 and end >= start + 3 and line[start:end + 2].lstrip("<").rstrip(">").strip():
            return True
    return False


def two_responses(text: str) -> bool:
    parts = text.split("******")
    if any(not p.strip() for p in parts[1:-1]):
        return False
    answers = [p.strip() for p in parts if p.strip()]
    return len(answers) == 2 and answers[0] != answers[1]


def repeat_prompt(text: str, prompt_to_repeat: str) -> bool:
    return text.strip().lower().startswith(prompt_to_repeat.strip().lower())


def end_checker(text: str, end_phrase: str) -> bool:
    return text.strip().strip('"').lower().endswith(end_phrase.strip().lower())


def capital_word_frequency(text: str, capital_frequency: int, capital_relation: str) -> bool:
    capitals = sum(word.isupper() for word in _text.words_with_hyphens(text))
    return _compare(capitals, capital_relation, capital_frequency)


def english_capital(text: str) -> bool:
    return text.isupper() and _text.detect_language(text) == "en"


def english_lowercase(text: str) -> bool:
    return text.islower() and _text.detect_language(text) == "en"


def no_comma(text: str) -> bool:
    return "," not in text


def quotation(text: str) -> bool:
    body = text.strip()
    return len(body) > 1 and body[0] == '"' and body[-1] == '"'


# ---- the registry ------------------------------------------------------------------------------------

# kwarg types: "int" (an integer >= 0), "str" (non-empty), "strs" (a non-empty list of strings),
# "relation" (one of RELATIONS), "letter" (one letter), "language" (an ISO 639-1 code langdetect knows).
@dataclass(frozen=True)
class Checker:
    id: str
    check: Callable[..., bool]
    kwargs: Mapping[str, str] = field(default_factory=dict)


CHECKERS: dict[str, Checker] = {c.id: c for c in (
    Checker("keywords:existence", keywords_existence, {"keywords": "strs"}),
    Checker("keywords:frequency", keywords_frequency, {"keyword": "str", "frequency": "int", "relation": "relation"}),
    Checker("keywords:forbidden_words", forbidden_words, {"forbidden_words": "strs"}),
    Checker("keywords:letter_frequency", letter_frequency,
            {"letter": "letter", "let_frequency": "int", "let_relation": "relation"}),
    Checker("language:response_language", response_language, {"language": "language"}),
    Checker("length_constraints:number_sentences", number_sentences, {"num_sentences": "int", "relation": "relation"}),
    Checker("length_constraints:number_paragraphs", number_paragraphs, {"num_paragraphs": "int"}),
    Checker("length_constraints:number_words", number_words, {"num_words": "int", "relation": "relation"}),
    Checker("length_constraints:nth_paragraph_first_word", nth_paragraph_first_word,
            {"num_paragraphs": "int", "nth_paragraph": "int", "first_word": "str"}),
    Checker("detectable_content:number_placeholders", number_placeholders, {"num_placeholders": "int"}),
    Checker("detectable_content:postscript", postscript, {"postscript_marker": "str"}),
    Checker("detectable_format:number_bullet_lists", number_bullet_lists, {"num_bullets": "int"}),
    Checker("detectable_format:constrained_response", constrained_response),
    Checker("detectable_format:number_highlighted_sections", number_highlighted_sections, {"num_highlights": "int"}),
    Checker("detectable_format:multiple_sections", multiple_sections,
            {"section_spliter": "str", "num_sections": "int"}),
    Checker("detectable_format:json_format", json_format),
    Checker("detectable_format:title", title),
    Checker("combination:two_responses", two_responses),
    Checker("combination:repeat_prompt", repeat_prompt, {"prompt_to_repeat": "str"}),
    Checker("startend:end_checker", end_checker, {"end_phrase": "str"}),
    Checker("change_case:capital_word_frequency", capital_word_frequency,
            {"capital_frequency": "int", "capital_relation": "relation"}),
    Checker("change_case:english_capital", english_capital),
    Checker("change_case:english_lowercase", english_lowercase),
    Checker("punctuation:no_comma", no_comma),
    Checker("startend:quotation", quotation),
)}

# langdetect's profiles (langdetect/profiles), which is what `language` can name.
LANGUAGES = frozenset({
    "af", "ar", "bg", "bn", "ca", "cs", "cy", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr", "gu", "he",
    "hi", "hr", "hu", "id", "it", "ja", "kn", "ko", "lt", "lv", "mk", "ml", "mr", "ne", "nl", "no", "pa", "pl",
    "pt", "ro", "ru", "sk", "sl", "so", "sq", "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi",
    "zh-cn", "zh-tw",
})


def _value(kind: str, value: Any, where: str) -> Any:
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # datasets stored as parquet/JSON may spell 3 as 3.0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConstraintError(f"{where} must be an integer >= 0, got {value!r}")
        return value
    if kind == "strs":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConstraintError(f"{where} must be a non-empty list of non-empty strings, got {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ConstraintError(f"{where} must be a non-empty string, got {value!r}")
    if kind == "relation" and value not in RELATIONS:
        raise ConstraintError(f"{where} must be one of {', '.join(map(repr, RELATIONS))}, got {value!r}")
    if kind == "letter" and not (len(value.strip()) == 1 and value.strip().isalpha()):
        raise ConstraintError(f"{where} must be a single letter, got {value!r}")
    if kind == "language" and value not in LANGUAGES:
        raise ConstraintError(f"{where} must be an ISO 639-1 code langdetect knows ({', '.join(sorted(LANGUAGES))}), "
                              f"got {value!r}")
    return value


@dataclass(frozen=True)
class Constraint:
    """One instruction of a prompt, checked and ready to run."""

    id: str
    kwargs: Mapping[str, Any]

    def check(self, text: str) -> bool:
        return CHECKERS[self.id].check(text, **self.kwargs)


def constraint(instruction_id: Any, kwargs: Any, where: str = "constraint") -> Constraint:
    """A Constraint; ConstraintError names an unknown id, an unknown or missing kwarg, or a bad value.

    Keys whose value is null are dropped first: Hugging Face's IFEval rows carry every
    instruction's kwargs keys, null where an instruction does not use them.
    """
    checker = CHECKERS.get(instruction_id) if isinstance(instruction_id, str) else None
    if checker is None:
        raise ConstraintError(
            f"{where}: unknown instruction id {instruction_id!r}; known ids: {', '.join(sorted(CHECKERS))}")
    label = f"{where} ({instruction_id})"
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise ConstraintError(f"{label}: kwargs must be an object, got {type(kwargs).__name__}")
    given = {k: v for k, v in kwargs.items() if v is not None}
    unknown = sorted(set(given) - set(checker.kwargs))
    if unknown:
        accepted = ", ".join(checker.kwargs) or "none"
        raise ConstraintError(f"{label}: kwargs {', '.join(map(repr, unknown))} not accepted (accepted: {accepted})")
    missing = [k for k in checker.kwargs if k not in given]
    if missing:
        raise ConstraintError(f"{label}: missing kwargs {', '.join(map(repr, missing))}")
    return Constraint(instruction_id, {k: _value(kind, given[k], f"{label}: kwarg {k!r}")
                                       for k, kind in checker.kwargs.items()})

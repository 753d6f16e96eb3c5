"""Find the final answer in a model response (parsing only; comparing lives in ``_equivalence``).

Everything here is pure standard-library string work, so it is cheap, thread-safe and
never imports sympy.

Anti-reward-hacking policy of :func:`extract_final_answer` (the same rules back
:func:`extract_choice` and :func:`extract_gsm8k_number`):

1. Thinking never counts. ``extract_final_answer`` strips ``<think>...</think>`` itself
   (:func:`strip_thinking` is idempotent, so callers that already stripped lose nothing). A
   gold answer that appears only inside the reasoning earns nothing; an unclosed ``<think>``
   hides everything after it, and a stray ``</think>`` hides everything before it (chat
   templates that put the opening tag in the prompt produce exactly that).
2. Fenced code blocks (```` ``` ```` or ``~~~``, an unclosed fence runs to the end) never
   count: a policy could otherwise hide a second answer where a reader does not look.
3. The answer is the LAST ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces, nested braces
   and nested boxes are fine). Boxing several different answers is hedging: the response has
   no answer, and ``Extraction.parts`` keeps the boxes for a gold of as many parts ("3, 5").
4. Without a box: the value after the last answer phrase (``_statements.ANSWER_PHRASE``:
   "the answer is", "Final Answer:", Minerva's "The final answer is X. I hope it is correct.",
   "**Answer:**", "####", "答案是", "答案为", "最终答案", "故答案为", "所以...为", "答："). A math
   span after it is taken whole; a sentence after it ("The smallest such $k$ is 12") gives
   the value it states; a negated or conditional statement gives none.
5. Only when ``allow_last_number=True`` (what ``math_accuracy`` uses): the whole response when
   it is one expression, else the value the closing sentence states (after "is" / "=" / "为",
   else its last math span, else the last number that stands as an answer: never a digit of an
   identifier or code, a step or list label, an exponent, a denominator, a unit or a year).
6. A candidate that enumerates many values is rejected: an ellipsis list ("1, 2, 3, ..., 100"),
   more than ``MAX_LIST_ITEMS`` top-level comma-separated items, or more than
   ``MAX_OR_ALTERNATIVES`` items joined with "or" ("1, 2, 3, or 4"). Two alternatives
   ("5 or 6") pass extraction; ``answers_equivalent`` rejects them against a single gold.
7. Look-alike digits (fullwidth ``０-９``, Arabic-Indic, mathematical bold ``𝟕``, circled,
   ...) are NOT normalised to ASCII: a candidate containing any non-ASCII digit is rejected.
   Only ASCII digits are numbers here, so look-alike digits can never earn credit.

``Extraction.source`` is one of ``"boxed"``, ``"answer_phrase"``, ``"expression"``,
``"closing_sentence"``, ``"none"``; :func:`extract_choice` adds ``"marker"`` (bold letter, "B) ..." line, bare
letter) and ``"last_letter"``, :func:`extract_gsm8k_number` adds ``"gsm8k_marker"``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

from rewardkit import parsers

from ..common.text import strip_code_blocks, strip_thinking
from ._forms import numbers_in_words_to_digits
from ._statements import (
    ZH_ANSWER_PHRASE,
    ListedNumber,
    Masked,
    closing_value,
    last_phrase_value,
    mask_math,
    single_expression,
)

MAX_LIST_ITEMS = 10
MAX_OR_ALTERNATIVES = 3


@dataclass(frozen=True)
class Extraction:
    """An extracted answer (``None`` when rejected or absent) and why."""

    answer: str | None
    source: str
    reason: str
    #: Several different boxed answers, kept for a gold with as many parts ("3, 5"): against a
    #: single gold they are a hedge and earn nothing.
    parts: tuple[str, ...] = ()


def _nothing(reason: str) -> Extraction:
    return Extraction(answer=None, source="none", reason=reason)


# ---------------------------------------------------------------- cleaning the response


MIN_ECHO_CHARS = 20


def remove_prompt_echo(text: str, prompt: str) -> str:
    """``text`` without verbatim copies of ``prompt`` (whitespace may differ).

    A response that repeats the question must not earn credit for a number or an option letter
    that only the question holds. A prompt shorter than ``MIN_ECHO_CHARS`` is left alone: a
    short prompt ("2+2") also appears inside honest answers.
    """
    words = prompt.split()
    if len(" ".join(words)) < MIN_ECHO_CHARS:
        return text
    return re.sub(r"\s+".join(re.escape(word) for word in words), " ", text)


def visible_text(text: str, prompt: str = "") -> str:
    """What a grader reads of a response: without thinking, code blocks and the prompt's echo."""
    return remove_prompt_echo(strip_code_blocks(strip_thinking(text)), prompt)


# ---------------------------------------------------------------- boxed answers

def all_boxed(text: str) -> list[str]:
    """Contents of every top-level ``\\boxed{}``/``\\fbox{}`` in order, unwrapped; unclosed boxes are skipped."""
    return [unbox(content.strip()) for content in parsers.all_boxed(text)]


def unbox(content: str) -> str:
    """Drop ``\\boxed{...}`` wrappers spanning all of ``content``: ``\\boxed{\\boxed{5}}`` is ``5``."""
    pairs = parsers.brace_pairs(content)  # once: thousands of nested boxes must stay linear
    start, end = 0, len(content)
    while (inner := parsers.BOX_START.match(content, start, end)) and pairs.get(inner.end() - 1) == end - 1:
        start, end = inner.end(), end - 1
        while start < end and content[start].isspace():
            start += 1
        while end > start and content[end - 1].isspace():
            end -= 1
    return content[start:end]


def last_boxed(text: str) -> str | None:
    """Content of the last balanced ``\\boxed{...}``/``\\fbox{...}`` in ``text``, else ``None``."""
    boxes = all_boxed(text)
    return boxes[-1] if boxes else None


def _boxed_candidate(text: str) -> Extraction | None:
    boxes = all_boxed(text)
    if not boxes:
        return None
    distinct = {re.sub(r"\s+", "", box): box for box in boxes}
    if len(distinct) > 1:
        return Extraction(None, "boxed",
                          f"{len(distinct)} different boxed answers: " + ", ".join(repr(b) for b in boxes[-3:]),
                          parts=tuple(distinct.values()) if len(distinct) <= MAX_LIST_ITEMS else ())
    if not boxes[-1]:
        return _nothing("empty boxed answer")
    count = f"last of {len(boxes)} identical boxed answers" if len(boxes) > 1 else "boxed answer"
    return Extraction(answer=boxes[-1], source="boxed", reason=count)


# ---------------------------------------------------------------- phrases, expressions, closing sentences


def _phrase_candidate(masked: Masked) -> Extraction | None:
    found = last_phrase_value(masked)
    if found is None:
        return None
    value, phrase = found
    return Extraction(answer=value, source="answer_phrase", reason=f"value after the answer phrase {phrase!r}")


def _closing_candidate(masked: Masked) -> Extraction | None:
    """The response read as one expression, else its closing statement (a value after "is" or
    "=", a math span, or a number standing as an answer); ``None`` when it states nothing."""
    whole = single_expression(masked)
    if whole is not None:
        return Extraction(answer=whole, source="expression", reason="the whole response is one expression")
    value = closing_value(masked)
    if value is None:
        return None
    if isinstance(value, ListedNumber):
        return _nothing(f"the last number closes a list of values ({str(value)!r}), not a final answer")
    return Extraction(answer=value, source="closing_sentence", reason="value stated by the closing sentence")


def last_number(text: str) -> str | None:
    """The last ASCII number in ``text`` as written ("-3", "+3", "1,000", "3.5", "1e-3", "3/4").

    A sign counts only when it does not follow a word ("5-3" gives "3"); the Unicode minus
    becomes "-". Look-alike digits are not numbers.
    """
    matches = _NUMBER.findall(text)
    return matches[-1].replace("\u2212", "-") if matches else None


# Digits inside a number are ASCII only; the boundaries use Unicode \d so that a number touching
# a look-alike digit ("7２") is not read as "7".
_NUMBER = re.compile(
    r"(?:(?<![\w.)\]])[-+\u2212])?(?<![\d.])"
    r"(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)"
    r"(?:[eE][-+]?[0-9]+)?(?:/[0-9]+)?(?![\d])"
)


# ---------------------------------------------------------------- candidate checks

_ELLIPSIS = re.compile(r"\.\.\.|\\[lcd]?dots\b|\u2026")
_OR = re.compile(r"\bor\b|\\text\{\s*or\s*\}", re.I)


def non_ascii_digits(text: str) -> list[str]:
    """Digit characters outside ASCII ``0-9`` (look-alikes such as ``７``, ``٧``, ``𝟕``, ``⑦``)."""
    return [c for c in text if not c.isascii() and unicodedata.digit(c, None) is not None and not _is_superscript(c)]


def _is_superscript(char: str) -> bool:
    # Superscripts are exponents (cm², x³), not look-alikes of the base digits.
    return "SUPERSCRIPT" in unicodedata.name(char, "")


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside brackets/braces; thousands commas (``1,000``) don't split."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for i, char in enumerate(text):
        depth += char in "([{"
        depth -= char in ")]}"
        thousands = char == "," and i > 0 and text[i - 1].isdigit() and re.match(r",\d{3}(?!\d)", text[i:])
        if char == separator and depth <= 0 and not thousands:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _strip_outer_brackets(text: str) -> str:
    text = text.strip()
    for opening, closing in (("\\{", "\\}"), ("(", ")"), ("[", "]"), ("{", "}")):
        if text.startswith(opening) and text.endswith(closing):
            return text[len(opening): -len(closing)]
    return text


def candidate_problem(candidate: str) -> str | None:
    """Why ``candidate`` must get no credit (look-alike digits, enumerations), else ``None``."""
    lookalikes = non_ascii_digits(candidate)
    if lookalikes:
        return (f"answer {candidate!r} contains non-ASCII digits {''.join(lookalikes)!r}; "
                "look-alike digits get no credit")
    items = split_top_level(_strip_outer_brackets(candidate))
    if len(items) > 2 and _ELLIPSIS.search(candidate):
        return f"answer {candidate!r} is an enumeration with an ellipsis, not a final answer"
    if len(items) > MAX_LIST_ITEMS:
        return f"answer {candidate!r} lists {len(items)} values (more than {MAX_LIST_ITEMS})"
    if _OR.search(candidate):
        alternatives = [a for item in items for a in _OR.split(item) if a.strip()]
        if len(alternatives) > MAX_OR_ALTERNATIVES:
            return f"answer {candidate!r} hedges between {len(alternatives)} values joined with 'or'"
    return None


def _checked(extraction: Extraction) -> Extraction:
    if extraction.answer is None:
        return extraction
    problem = candidate_problem(extraction.answer)
    if problem:
        return Extraction(answer=None, source=extraction.source, reason=f"rejected {extraction.source}: {problem}")
    return extraction


# ---------------------------------------------------------------- final answers


def extract_final_answer(text: str, *, allow_last_number: bool = False, prompt: str = "") -> Extraction:
    """The final answer of a free-form math response, following the module's policy.

    ``prompt``: the question, whose verbatim echo in the response never counts.
    """
    if not text or not text.strip():
        return _nothing("empty response")
    visible = visible_text(text, prompt)
    if not visible.strip():
        return _nothing("empty response after removing thinking, code blocks and the prompt's echo")
    if allow_last_number:
        # "three hundred twenty-five", "一百二十", "三分之一" are numbers wherever they are read.
        visible = numbers_in_words_to_digits(visible)
    found = _boxed_candidate(visible)
    if found is None:
        masked = mask_math(visible)
        found = _phrase_candidate(masked)
        if found is None and allow_last_number:
            found = _closing_candidate(_without_inline_code(visible, masked))
    if found is None:
        fallback = "" if allow_last_number else " (closing-sentence reading disabled)"
        return _nothing(f"no final answer found{fallback}")
    return _checked(found)


_INLINE_CODE = re.compile(r"`[^`\n]*`")


def _without_inline_code(visible: str, masked: Masked) -> Masked:
    # A number inside `code` is an identifier or a literal, never a stated answer.
    return mask_math(_INLINE_CODE.sub(" ", visible)) if "`" in visible else masked


def gold_answer(text: str) -> str:
    """The answer of a gold as datasets store it: a MATH solution's last box (its boxes joined
    when it boxes several parts), a GSM8K solution's ``#### X``, else the text itself."""
    boxes = all_boxed(text)
    if boxes:
        distinct = list(dict.fromkeys(boxes))
        return distinct[0] if len(distinct) == 1 else ", ".join(distinct)
    marker = text.rfind("####")
    if marker >= 0:
        return text[marker + 4:].strip()
    return text.strip()


# ---------------------------------------------------------------- multiple choice


def _choice_class(choices: str) -> str:
    return "[" + "".join(re.escape(c) for c in choices.upper()) + "]"


def _choice_in_box(box: str, choices: str) -> str | None:
    core = re.sub(r"\\text(?:bf)?\s*\{([^{}]*)\}", r"\1", box)
    marked = re.match(r"\s*\(([A-Z])\)(?:\s|\\|~|$)", core)  # "\textbf{(B)}\ 720^\circ": the option and its text
    if marked and marked.group(1) in choices.upper():
        return marked.group(1)
    core = re.sub(r"[\s*()]", "", core).rstrip(".")
    return core if len(core) == 1 and core in choices.upper() else None


def _boxed_choice(text: str, choices: str) -> Extraction | None:
    boxes = all_boxed(text)
    if not boxes:
        return None
    letters = [_choice_in_box(box, choices) for box in boxes]
    if None in letters:
        bad = boxes[letters.index(None)]
        return _nothing(f"boxed answer {bad!r} is not one of {', '.join(choices.upper())}")
    chosen = [letter for letter in letters if letter is not None]  # every one of them, after the check above
    if len(set(chosen)) > 1:
        return _nothing(f"{len(set(chosen))} different boxed answers: {', '.join(chosen)}")
    return Extraction(answer=chosen[-1], source="boxed", reason="boxed choice")


def _phrase_choice(text: str, choices: str) -> Extraction | None:
    letter = _choice_class(choices)
    # Keywords are case-insensitive, letters are not: "the answer is a number" names no choice.
    phrase = re.compile(
        rf"(?:\b(?i:answer|option|choice)\b[*_]*\s*(?:(?i:is)\b\s*:?|:)|{ZH_ANSWER_PHRASE}|(?:故|所以|因此|应|应该)选(?:择)?"
        r"|\b(?i:(?:which|that|this|it)\s+is|matches|corresponds\s+to)\s+(?=(?i:option|choice)\s))"
        r"\s*[*_]*\s*(?:(?i:option|choice)\s+|选项\s*)?"
        rf"\(?(?P<letter>{letter})\)?(?![A-Za-z0-9])[*_]*"
        rf"(?P<more>\s*(?:,|/|&|\bor\b|\band\b|或|和|、|，)\s*[*_]*\(?{letter}\)?(?![A-Za-z0-9]))?"
    )
    matches = list(phrase.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    if last.group("more"):
        return _nothing(f"several different choices in the final statement {last.group(0).strip()!r}")
    return Extraction(answer=last.group("letter"), source="answer_phrase", reason="answer phrase")


def _marker_choice(text: str, choices: str) -> Extraction | None:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    # "$\\textbf{(B)}~20$" (AMC's style) is the line "(B) 20".
    final = re.sub(r"\\text(?:bf)?\s*\{([^{}]*)\}", r"\1", lines[-1]).replace("$", "").replace("~", " ").strip()
    letter = _choice_class(choices)
    bold = set(re.findall(rf"\*\*\s*\(?({letter})\)?[.:]?\s*\*\*", final))
    if len(bold) > 1:
        return _nothing(f"several different choices in the final statement {final!r}")
    if bold:
        return Extraction(answer=bold.pop(), source="marker", reason="bold choice letter in the final line")
    option_line = rf"\(?({letter})(?:\)|[.:])(?:\s|$)"
    start = (re.match(option_line, final) or re.fullmatch(rf"\(?({letter})\)?\.?", final)
             or re.match(rf"\(({letter})\)\s+(?i:is\s+(?:the\s+)?(?:correct|right|answer))", final))
    if not start:
        return None
    before = re.match(option_line, lines[-2].strip()) if len(lines) > 1 else None
    if before and before.group(1) != start.group(1):
        # "A) ...\nB) ...\nC) ...": the final line ends a list of the options, not a choice.
        return _nothing(f"the final line {final[:60]!r} ends a list of options, not a choice")
    return Extraction(answer=start.group(1), source="marker", reason="choice letter opening the final line")


def _last_letter_choice(text: str, choices: str) -> Extraction | None:
    # "A car ..." / "I think ..." are English words, not choices: skip A and I before a lowercase word.
    pattern = rf"(?<![A-Za-z0-9])\(?({_choice_class(choices)})\)?(?![A-Za-z0-9])"
    found = [m.group(1) for m in re.finditer(pattern, text)
             if not (m.group(0) in ("A", "I") and re.match(r"\s+[a-z]", text[m.end():]))]
    if not found:
        return None
    return Extraction(answer=found[-1], source="last_letter", reason="last standalone choice letter (fallback)")


def extract_choice(text: str, choices: str = "ABCD", *, allow_last_letter: bool = False,
                   prompt: str = "") -> Extraction:
    """The chosen letter of a multiple-choice response.

    Order: boxed letter, "the answer is (B)" / "Answer: B" phrase, a marker in the final line
    ("**B**", "B) ...", a bare "B"), then - only when ``allow_last_letter`` - the last
    standalone choice letter. Letters are matched in upper case only ("the answer is a
    number" names no choice). Several different letters in the final statement are rejected,
    and so is a final line that ends a list of the options. The prompt's verbatim echo never
    counts.
    """
    if not text or not text.strip():
        return _nothing("empty response")
    visible = visible_text(text, prompt)
    for finder in (_boxed_choice, _phrase_choice, _marker_choice):
        found = finder(visible, choices)
        if found is not None:
            return found
    if allow_last_letter:
        found = _last_letter_choice(visible, choices)
        if found is not None:
            return found
    return _nothing(f"no choice among {', '.join(choices.upper())} found")


# ---------------------------------------------------------------- GSM8K numbers

_GSM8K_MARKER = re.compile(r"####\s*(?P<value>[^\n]+)")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_UNIT_POWER = re.compile(r"(?<=[A-Za-z}])\s*\^\s*\{?\s*\d\s*\}?")


def canonical_number(value: Fraction) -> str:
    """``72`` for integers, a plain decimal when it terminates, else ``p/q``."""
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    text = f"{value.numerator / value.denominator:.15f}" if abs(value) < 1e15 else str(float(value))
    return text.rstrip("0").rstrip(".")


def _number_value(token: str) -> Fraction:
    return Fraction(token.replace(",", "").replace("\u2212", "-").lstrip("+"))


def _gsm8k_value(candidate: str) -> tuple[str | None, str]:
    if _OR.search(candidate):
        return None, f"answer {candidate!r} hedges between values"
    text = _LATEX_FRAC.sub(r"\1/\2", candidate)
    text = _UNIT_POWER.sub("", text.split("=")[-1])
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None, f"no number in answer {candidate!r}"
    try:
        values = {_number_value(n) for n in numbers}
    except ValueError:  # more digits than Python converts (4300): no answer is that long
        return None, f"answer {candidate[:40]!r}... holds a number too long to read"
    if len(values) > 1:
        return None, f"answer {candidate!r} contains {len(numbers)} different numbers"
    return canonical_number(_number_value(numbers[-1])), ""


def _gsm8k_candidate(text: str) -> Extraction | None:
    markers = _GSM8K_MARKER.findall(text)
    if markers:
        return Extraction(answer=markers[-1].strip(), source="gsm8k_marker", reason="'#### ' marker")
    boxed = _boxed_candidate(text)
    if boxed is not None:
        return boxed
    masked = mask_math(text)
    return _phrase_candidate(masked) or _closing_candidate(_without_inline_code(text, masked))


def extract_gsm8k_number(text: str, *, prompt: str = "") -> Extraction:
    """A GSM8K-style numeric answer, normalised ("1,000" -> "1000", "72.0" -> "72", "$72" -> "72").

    Order: the last ``#### X`` line, the boxed answer, an answer phrase, the last number (unless
    it closes a list of values). The prompt's verbatim echo never counts.
    """
    if not text or not text.strip():
        return _nothing("empty response")
    visible = visible_text(text, prompt)
    found = _gsm8k_candidate(visible)
    if found is None:
        return _nothing("no number found")
    if found.answer is None:
        return found
    problem = candidate_problem(found.answer)
    if problem:
        return Extraction(answer=None, source=found.source, reason=f"rejected {found.source}: {problem}")
    value, why = _gsm8k_value(found.answer)
    if value is None:
        return Extraction(answer=None, source=found.source, reason=f"rejected {found.source}: {why}")
    return Extraction(answer=value, source=found.source, reason=found.reason)

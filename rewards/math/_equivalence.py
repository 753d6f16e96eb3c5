"""Is a candidate answer equivalent to a gold answer? (comparing only; parsing is ``_answers``)

``answers_equivalent`` normalises both strings, settles what it can exactly in pure Python and
hands everything else to math-verify (``math_verify.parse`` + ``math_verify.verify``, sympy
underneath). math-verify and sympy are imported lazily, inside the functions that need them,
so importing this module stays cheap.

Grading policy (what a careful human grader of MATH / GSM8K / AIME answers accepts):

- Exact values. ``0.5 == 1/2`` and ``0.\\overline{3} == 1/3``, but a rounded or truncated
  decimal of a non-terminating value is wrong: ``0.33 != 1/3``, ``0.333333 != 1/3``,
  ``1.5708 != \\pi/2``, ``3.14 != \\pi`` (plain math-verify rounds floats to 6 places and
  accepts ``0.333333``). Numbers made only of digits, signs, decimals, ``\\frac``, ``a/b``,
  mixed numbers, repeating decimals and scientific notation are compared exactly with
  ``fractions.Fraction`` and never reach sympy.
- Percentages: the percent sign is optional (``50\\% == 50``); with ``percent_as_fraction``
  (default) ``50\\% == 0.5`` as well. Two percentages compare their numbers. The price of the
  default: an answer ``72\\%`` has two readings (72 and 0.72); pass ``percent_as_fraction=False``
  when golds never mix the two forms.
- Thousands separators: ``1{,}000``, ``1\\,000``, ``1 000`` and ``1,000`` (a whole answer made
  of 3-digit comma groups) are 1000. A period is always a decimal point, so ``1.000 == 1`` and
  ``1.000 != 1000``; a decimal comma is not supported, ``1,5`` is the list ``1, 5``.
- Units and trailing words are dropped (``72 clips``, ``5\\text{ cm}``, ``\\$18``, ``90^\\circ``).
  Two units of one dimension convert when the question fixes no unit (``90 minutes == 1.5 hours``);
  otherwise two different recognised units disagree (``5 cm`` vs ``5 m``). A unit or form the
  question fixes (``question``: minutes, percent, a common fraction, degrees) is required.
- ``x = 5`` equals ``5``; two different variables disagree (``x = 5`` vs ``y = 5``). A worked
  equality counts by its last side (``5 + 7 = 12`` is 12), but every plain number in it must
  equal a numeric gold: ``96 = 72`` is a false statement, not 72.
- Inequalities describe intervals: ``x \\ge 0 == [0, \\infty)``, and so does a set-builder
  condition (``\\{x \\mid x > 3\\} == (3, \\infty)``).
- An equation equals a nonzero constant multiple of itself (``2x - 4 = 0 == x - 2 = 0``,
  ``2y = 4x + 6 == y = 2x + 3``); a sign flipped inside one does not. Plain arithmetic in a
  worked equality is evaluated exactly, so ``2 + 4 = 8`` is false and earns nothing.
- Words: spelled-out numbers up to ninety-nine (and "hundred") are numbers (``twelve == 12``;
  longer ones and Chinese ones are turned into digits while reading, ``_forms``); text answers
  compare whole after normalising, with a grader's synonyms (``no real roots == no solution``);
  clock times, dates and weekdays compare as what they name (``2:30 p.m. == 14:30``).
- Two constant numbers compare exactly when both are rational (``2^{-60} != 2^{-59}``,
  ``\\frac{1}{100!} != \\frac{1}{101!}``), else by a relative tolerance, never an absolute one.
- Tuples and intervals are ordered and keep their brackets; sets are unordered; matrices
  compare element-wise (``pmatrix`` == ``bmatrix``).
- Hedging loses: an answer joining values with "or"/"and" is wrong against a single gold
  value (``5 or 6`` vs ``5``); against a gold list it is read as that list.
- Look-alike digits (``７``, ``٧``, ``𝟕``) are never read as digits: such an answer is wrong.
- Answers (or golds) longer than ``MAX_ANSWER_CHARS`` are rejected without parsing.

Caching: a GRPO step scores 8 to 64 responses against one gold, so normalised strings,
math-verify parses and math-verify verdicts are cached per worker (``CACHE_SIZE`` entries each,
``clear_caches()`` empties them). Two constant numbers are settled without math-verify's
symbolic comparison when they are identical or their values differ beyond any rounding.

Timeouts: math-verify bounds parsing and comparing with ``signal.alarm``, which only works in
the main thread of the main interpreter. With ``timeout_seconds`` > 0, call
``answers_equivalent`` from the main thread (answers settled by the exact-number path never need
it); pass ``timeout_seconds=None`` elsewhere and bound the time yourself.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

from rewardkit import RewardkitError

from ._answers import non_ascii_digits, split_top_level, unbox
from ._forms import (
    Question,
    conversion_factor,
    convertible,
    date_value,
    dates_equal,
    is_text_answer,
    normalise_text,
    time_value,
    times_equal,
    weekday_value,
)
from ._statements import UNIT_WORDS


class EquivalenceThreadError(RewardkitError, RuntimeError):
    """math-verify's signal-based timeout was requested outside the main thread."""


@dataclass(frozen=True)
class Verdict:
    """Whether the answer matches the gold, with a specific reason either way."""

    equivalent: bool
    reason: str
    gold_parsed: str | None = None
    answer_parsed: str | None = None


@dataclass(frozen=True)
class Normalised:
    """An answer reduced to a math core plus what was peeled off it."""

    text: str
    percent: bool = False
    unit: str | None = None
    variable: str | None = None
    hedged: bool = False
    was_text: bool = False


# ---------------------------------------------------------------- normalisation steps

_UNICODE = {
    "\u2212": "-", "\u00d7": "\\times ", "\u22c5": "\\cdot ", "\u00b7": "\\cdot ",
    "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u00b0": "^\\circ", "\u2264": "\\le ", "\u2265": "\\ge ",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2005": " ", "\u2006": " ", "\u200b": "",
}
_SUPERSCRIPTS = str.maketrans("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b", "0123456789-")
_SUPERSCRIPT_RUN = re.compile("[\u2070\u00b9\u00b2\u00b3\u2074-\u2079\u207b]+")


def _normalise_unicode(text: str) -> str:
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^{" + m.group(0).translate(_SUPERSCRIPTS) + "}", text)
    text = re.sub(r"\u221a\s*(\d+|[A-Za-z])", r"\\sqrt{\1}", text)
    text = text.replace("\u221a", "\\sqrt")
    return "".join(_UNICODE.get(char, char) for char in text)


_DELIMITERS = (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"), ("$", "$"))


def _strip_delimiters(text: str) -> str:
    """Drop surrounding math delimiters, a whole-answer ``\\boxed{}`` and sentence punctuation."""
    previous = None
    while previous != text:
        previous = text
        text = text.strip().removeprefix("\\displaystyle").strip()
        text = re.sub(r"^(?:\\approx|\u2248)\s*", "", text)  # "\\approx 1.73": a rounded answer as asked
        text = re.sub(r"(?<![.\\])[.,;]$", "", text).strip()
        text = re.sub(r"^\*\*(.+)\*\*$", r"\1", text, flags=re.S)  # markdown bold
        for opening, closing in _DELIMITERS:
            inner = text[len(opening): -len(closing)]
            if (len(text) > len(opening) + len(closing) and text.startswith(opening) and text.endswith(closing)
                    and "$" not in inner.replace("\\$", "")):
                text = inner
                break
        text = unbox(text)
    return text


# Thin spaces and {,} between digit groups are thousands separators, never list commas.
_GROUP_SEPARATOR = re.compile(r"(?<=\d)(?:\{,\}|\\,|\\ |~|\\;|\\!)(?=\d{3}(?!\d))")
# (?<!\\): the "\\ " inside a matrix row break "\\\\ " is not a spacing command.
_SPACING = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![A-Za-z])"
                      r"|(?<!\\)\\[,;:! ]|\\q?quad(?![A-Za-z])|~")


def _strip_spacing(text: str) -> str:
    text = _GROUP_SEPARATOR.sub("", text)
    text = _SPACING.sub(" ", text)
    text = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", text)
    text = text.replace("\\displaystyle", "")
    return re.sub(r"\s+", " ", text).strip()


_PERCENT = re.compile(r"\s*(?:\\%|%|\\text\{\s*\\?%\s*\}|\\text\{\s*percent\s*\}|\s+percent\b)\s*")


def _take_percent(text: str) -> tuple[str, bool]:
    stripped = _PERCENT.sub(" ", text).strip()
    return stripped, stripped != text.strip()


_MONEY = re.compile(r"\\text\{\s*\\\$\s*\}|\\\$|\$|\\textdollar\b|\\dollar\b")
# A bare \\circ counts only right after a number at the end: elsewhere it is composition (f \\circ g).
_DEGREE = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|(?<=\d)\s*\\circ\s*$|\\degree(?![A-Za-z]))"
                     r"(?:\s*\\?(?:text|mathrm)?\{?\s*[CF]\s*\}?(?![A-Za-z]))?")


def _take_money_and_degrees(text: str) -> tuple[str, str | None]:
    unit = None
    if _MONEY.search(text):
        text, unit = _MONEY.sub("", text).strip(), "dollar"
    if _DEGREE.search(text):
        text, unit = _DEGREE.sub("", text).strip(), "degree"
    return text, unit


_UNIT_WORDS = UNIT_WORDS
# Letters in a tail that are mathematics, not units: never strip them.
_MATH_WORDS = {"pi", "sqrt", "sin", "cos", "tan", "cot", "csc", "sec", "log", "ln", "exp", "lim", "inf",
               "infty", "infinity", "or", "and", "i", "e",
               # words that negate or continue the value: "72 not", "5 plus 3"
               "not", "no", "nor", "never", "except", "excluding", "without", "plus", "minus", "times",
               "over", "than", "less", "more", "neither", "either"}
_TAIL_PIECE = re.compile(
    r"(?:\\(?:text|textrm|textnormal|textit|textbf|mbox|mathrm|operatorname)\s*\{(?P<braced>[^{}]*)\}"
    r"|(?<![\\A-Za-z])(?P<word>[A-Za-z]+\.?)"
    r"|(?P<power>\^\s*\{?\s*[23]\s*\}?)|(?P<slash>/))\s*$"
)


def _unit_key(word: str) -> str | None:
    word = word.lower().rstrip(".")
    for candidate in (word, word[:-1] if word.endswith("s") and len(word) > 2 else word):
        if candidate in _UNIT_WORDS:
            return _UNIT_WORDS[candidate]
    return None


def _tail_piece_allowed(match: re.Match[str], rest: str) -> bool:
    braced = match.group("braced")
    if braced is not None:
        # "\\text{ cm}" is a unit; "\\text{ is wrong, it's 96}" carries another value.
        words = {w.lower() for w in re.findall(r"[A-Za-z]+", braced)}
        return not re.search(r"\d", re.sub(r"\^\s*\{?\d\}?", "", braced)) and not words & _MATH_WORDS - {"e", "i"}
    word = match.group("word")
    if word is None:
        return True
    bare = word.rstrip(".").lower()
    if bare in _MATH_WORDS or (len(bare) == 1 and _unit_key(bare) is None):
        return False
    spaced = match.start() == 0 or rest[match.start() - 1].isspace() or rest[match.start() - 1] == "}"
    return spaced or (len(bare) > 1 and _unit_key(bare) is not None)


def _has_number(text: str) -> bool:
    return bool(re.search(r"\d|\\pi|\\sqrt|\\infty", text))


def _take_unit_tail(text: str) -> tuple[str, str | None]:
    """``72 clips`` -> (``72``, ``clip``); ``5\\text{ cm}^2`` -> (``5``, ``cm^2``)."""
    rest = text
    pieces: list[re.Match[str]] = []
    while (match := _TAIL_PIECE.search(rest)) and _tail_piece_allowed(match, rest):
        pieces.insert(0, match)
        rest = rest[: match.start()].rstrip()
    # A tail starts with a word: "(x+1)^2" and "2\\times10^3" keep their powers.
    while pieces and (pieces[0].group("power") or pieces[0].group("slash")):
        pieces.pop(0)
    if not pieces:
        return text, None
    rest = text[: pieces[0].start()].rstrip()  # every rest is a prefix of text
    if not _has_number(rest) or rest.endswith(("^", "_", "\\", "{")):
        return text, None
    return rest, _canonical_unit(pieces)


def _canonical_unit(pieces: list[re.Match[str]]) -> str | None:
    words: list[str] = []
    for piece in pieces:
        if piece.group("power"):
            words.append("^" + re.sub(r"\D", "", piece.group("power")))
        elif piece.group("slash"):
            words.append("/")
        else:
            words.extend(re.findall(r"[A-Za-z]+|/|\^\s*\{?\d\}?", piece.group("braced") or piece.group("word")))
    keys = [_unit_key(w) if not w.startswith("^") else w for w in words]
    if not words or None in keys:
        return None  # an unknown word ("clips") names no comparable unit
    return " ".join(k for k in keys if k)


_ASSIGNMENT = re.compile(r"^(?P<var>[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?\s*=\s*(?P<rhs>[^=<>]+)$")


def _take_variable(text: str) -> tuple[str, str | None]:
    match = _ASSIGNMENT.match(text)
    if not match or match.group("var") in ("\\infty", "\\pi"):
        return text, None
    return match.group("rhs").strip(), text[: text.index("=")].strip().replace(" ", "")


_HEDGE = re.compile(r"\s*(?:\\text\{\s*(?:or|and)\s*\}|\\(?:lor|vee|land|wedge)(?![A-Za-z])"
                    r"|(?<![A-Za-z\\])(?:or|and)(?![A-Za-z]))\s*")


def _take_hedge(text: str) -> tuple[str, bool]:
    if not _HEDGE.search(text):
        return text, False
    parts = [p for p in _HEDGE.split(text) if p.strip()]
    if len(parts) < 2:
        return text, False
    return ", ".join(p.strip().rstrip(",").strip() for p in parts), True


_THOUSANDS = re.compile(r"^[+-]?(?:\d{1,3}(?:(?P<sep>[, ])\d{3})(?:(?P=sep)\d{3})*"
                        r"|\d{1,2}(?:,\d{2})+,\d{3})(?:\.\d+)?$")  # the second: Indian grouping, 1,00,000


_GROUPED = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])")


def _drop_thousands(text: str) -> str:
    if _THOUSANDS.match(text):
        return text.replace(",", "").replace(" ", "")
    if "=" in text and not re.search(r"[(\[{]", text):
        # A worked equality "1,100 - 1,000 = 100" holds no list: its comma groups are thousands.
        return _GROUPED.sub(lambda match: match.group(0).replace(",", ""), text)
    return text


_UNITS_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                "fifteen sixteen seventeen eighteen nineteen").split()
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORD = re.compile(rf"(?:(?P<tens>{'|'.join(_TENS_WORDS)})(?:[- ](?P<unit>{'|'.join(_UNITS_WORDS[1:10])}))?"
                          rf"|(?P<small>{'|'.join(_UNITS_WORDS)})|(?P<hundred>(?:one |a )?hundred))", re.I)


def _number_word_value(text: str) -> str | None:
    """"three" -> "3", "twenty-one" -> "21": a spelled-out whole answer is that number."""
    match = _NUMBER_WORD.fullmatch(text.strip())
    if not match:
        return None
    if match.group("hundred"):
        return "100"
    if match.group("small"):
        return str(_UNITS_WORDS.index(match.group("small").lower()))
    unit = match.group("unit")
    units = _UNITS_WORDS.index(unit.lower()) if unit else 0
    return str(10 * (_TENS_WORDS.index(match.group("tens").lower()) + 2) + units)


_TEXT_WRAPPER = re.compile(r"\\(?:text|textrm|textnormal|textit|textbf|mbox|mathrm|operatorname)\s*\{([^{}]*)\}")


# A GRPO step scores 8 to 64 responses against one gold, and many responses share an answer:
# each worker parses a string once. Bounded, so a stream of distinct answers cannot grow memory.
CACHE_SIZE = 4096


# "\\{x \\mid x > 3\\}" is the condition "x > 3", which compares as an interval.
_SET_BUILDER = re.compile(r"^\\\{\s*[A-Za-z]\s*(?:\\mid|\||:)\s*"
                          r"([^{}]*(?:[<>]|\\(?:le|ge|leq|geq|lt|gt)(?![A-Za-z]))[^{}]*?)\s*\\\}$")


# "0.333...", "0.1666…", "0.(3)": a repeating decimal, written as \overline so it compares exactly. A
# block repeats at least three times before the dots ("3.14159..." repeats nothing and stays a
# truncated decimal, which is not pi).
_DOTTED_REPEAT = re.compile(r"^([+-]?\d*)\.(\d*?)(\d{1,3})\3{2,}\s*(?:\.{3}|\\[lc]?dots|\u2026)$")
_PARENTHESISED_REPEAT = re.compile(r"^([+-]?\d*)\.(\d*)\((\d+)\)$")


def _repeating_form(text: str) -> str:
    match = _DOTTED_REPEAT.match(text) or _PARENTHESISED_REPEAT.match(text)
    if match is None:
        return text
    return f"{match.group(1)}.{match.group(2)}\\overline{{{match.group(3)}}}"


@functools.lru_cache(maxsize=CACHE_SIZE)
def normalise_answer(answer: str) -> Normalised:
    """Reduce an answer string to a math core and record percent, unit, variable and hedging."""
    # "1/4 (or 0.25)" offers its parenthesised form as an alternative: read as "1/4 or 0.25".
    answer = re.sub(r"\s*[(（]\s*(or\s+[^()（）]+)[)）]", r" \1", answer)
    text = _strip_spacing(_strip_delimiters(_normalise_unicode(answer)))
    text = _repeating_form(text)
    text = _strip_delimiters(text)
    text = _SET_BUILDER.sub(r"\1", text)
    text, percent = _take_percent(text)
    text, unit = _take_money_and_degrees(text)
    text, hedged = _take_hedge(text)
    text, variable = _take_variable(text)
    text, tail_unit = _take_unit_tail(text)
    text, percent_after_unit = _take_percent(text)
    was_text = bool(_TEXT_WRAPPER.search(text))
    text = _TEXT_WRAPPER.sub(r"\1", text).strip()
    text = re.sub(r"^\+(?=[\d.\\])", "", _drop_thousands(text.strip()))
    text = _number_word_value(text) or text
    return Normalised(text=text, percent=percent or percent_after_unit, unit=tail_unit or unit,
                      variable=variable, hedged=hedged, was_text=was_text)


# ---------------------------------------------------------------- exact numbers

_INT = r"\d+"
_DEC = r"(?:\d+(?:\.\d*)?|\.\d+)"
_EXACT_FORMS = (
    re.compile(rf"(?P<sign>[+-]?)\s*(?P<mant>{_DEC})(?:\s*[eE](?P<exp>[+-]?\d+)|\s*(?:\\times|\\cdot|\*)\s*10\s*\^\s*(?:\{{\s*(?P<bexp>[+-]?\d+)\s*\}}|(?P<dexp>\d)))?"),
    re.compile(rf"(?P<sign>[+-]?)\s*(?P<whole>{_INT})?\s*\\frac\s*(?:\{{\s*(?P<num>[+-]?{_INT})\s*\}}\s*\{{\s*(?P<den>[+-]?{_INT})\s*\}}|(?P<n1>\d)(?P<d1>\d))"),
    re.compile(rf"(?P<sign>[+-]?)\s*(?P<num>{_INT})\s*/\s*(?P<den>{_INT})"),
    re.compile(rf"(?P<sign>[+-]?)\s*(?P<whole>{_INT})\s+(?P<num>{_INT})\s*/\s*(?P<den>{_INT})"),  # 2 1/3
    re.compile(r"(?P<sign>[+-]?)\s*(?P<int>\d*)\.(?P<fixed>\d*)\\overline\s*\{\s*(?P<rep>\d+)\s*\}"),
)


MAX_EXPONENT = 1000


def exact_number(text: str) -> Fraction | None:
    """The exact value of a plain numeric answer, or ``None`` when it is not a plain number.

    Absurd sizes (exponents beyond ``MAX_EXPONENT``, integers past Python's digit limit) are
    left to math-verify, whose timeout bounds them.
    """
    for form in _EXACT_FORMS:
        match = form.fullmatch(text.strip())
        if match:
            try:
                value = _value_of({**match.groupdict(), "form": match.group(0)})
            except ValueError:
                return None
            if value is not None:
                return -value if match.group("sign") == "-" else value
    return None


def _value_of(groups: dict[str, str | None]) -> Fraction | None:  # noqa: C901 - one branch per written form
    mantissa, repeating = groups.get("mant"), groups.get("rep")
    if mantissa is not None:
        exponent = groups.get("exp") or groups.get("bexp") or groups.get("dexp") or "0"
        if abs(int(exponent)) > MAX_EXPONENT:
            raise ValueError(f"exponent {exponent} is too large to expand exactly")
        return Fraction(mantissa) * Fraction(10) ** int(exponent)
    if repeating is not None:
        return _repeating(groups["int"] or "0", groups["fixed"] or "", repeating)
    numerator = groups.get("num") or groups.get("n1")
    denominator = groups.get("den") or groups.get("d1")
    if numerator is None or denominator is None or int(denominator) == 0:
        return None
    fraction = Fraction(int(numerator), int(denominator))
    whole = groups.get("whole")
    if not whole:
        return fraction
    if "\\frac" not in (groups.get("form") or "") and fraction >= 1:
        return None  # "2 5/3" is no mixed number
    # "2\frac{1}{2}" is the mixed number 5/2 (the MATH convention, also math-verify's reading);
    # "2\frac{-1}{2}" is no mixed number, so it goes to math-verify.
    return fraction + int(whole) if fraction >= 0 else None


def _repeating(integer: str, fixed: str, repeat: str) -> Fraction:
    """``0.1\\overline{6}`` -> 1/6."""
    base = Fraction(int(integer + fixed or "0"), 10 ** len(fixed))
    cycle = Fraction(int(repeat), (10 ** len(repeat) - 1) * 10 ** len(fixed))
    return base + cycle


def _number_readings(value: Fraction, percent: bool, other_percent: bool, as_fraction: bool) -> set[Fraction]:
    if percent and not other_percent and as_fraction:
        return {value, value / 100}
    return {value}


def _percent_latex_readings(norm: Normalised, other: Normalised, as_fraction: bool) -> list[str]:
    if norm.percent and not other.percent and as_fraction:
        return [norm.text, f"\\frac{{{norm.text}}}{{100}}"]
    return [norm.text]


# ---------------------------------------------------------------- policy checks


def _is_list(norm: Normalised) -> bool:
    text = norm.text
    return norm.hedged or len(split_top_level(text)) > 1 or text.startswith("\\{") or "\\pm" in text


_EQUALS = re.compile(r"(?<![<>!=\\])=(?!=)")


def _false_equation(gold: Normalised, answer: Normalised) -> str | None:
    """"96 = 72" against gold 72 ends in the gold but states something false: every plain number
    in an answer's chain of equalities must equal a numeric gold."""
    gold_value = exact_number(gold.text)
    if gold_value is None or gold.percent or answer.percent or _EQUALS.search(gold.text):
        return None
    sides = _EQUALS.split(answer.text)
    for side in sides if len(sides) > 1 else ():
        value = exact_number(side)
        value = arithmetic_value(side) if value is None else value
        if value is not None and value != gold_value:
            return f"answer states {answer.text} and {side.strip()} != gold {gold.text}"
    return None


_ARITHMETIC = re.compile(r"[\d\s+\-*/().]{1,80}")
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def arithmetic_value(text: str) -> Fraction | None:
    """The exact value of plain arithmetic ("2 + 4", "9 * 2", "48/2 + 3"), else ``None``.

    Read with ``ast`` over numbers and + - * / only: nothing is evaluated but those operations.
    """
    if not _ARITHMETIC.fullmatch(text.strip()) or not re.search(r"\d", text):
        return None
    try:
        return _arithmetic(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ZeroDivisionError, ValueError, TypeError):
        return None


def _arithmetic(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _arithmetic(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_arithmetic(node.left), _arithmetic(node.right))
    raise ValueError("not plain arithmetic")


def _policy_problem(gold: Normalised, answer: Normalised) -> str | None:
    false_equation = _false_equation(gold, answer)
    if false_equation:
        return false_equation
    if answer.hedged and not _is_list(gold):
        return f"answer hedges between several values ({answer.text}) but gold {gold.text} is a single value"
    if gold.unit and answer.unit and gold.unit != answer.unit:
        return f"answer unit '{answer.unit}' != gold unit '{gold.unit}'"
    if gold.variable and answer.variable and gold.variable != answer.variable:
        return f"answer names variable {answer.variable} but gold names {gold.variable}"
    return None


MAX_ANSWER_CHARS = 2000


def _input_problem(gold: str, answer: str) -> str | None:
    if not gold or not gold.strip():
        return "empty gold answer"
    if not answer or not answer.strip():
        return "empty answer"
    for name, text in (("gold", gold), ("answer", answer)):
        if len(text) > MAX_ANSWER_CHARS:
            return (f"{name} is {len(text)} characters long; "
                    f"final answers over {MAX_ANSWER_CHARS} characters are rejected")
    for name, text in (("gold", gold), ("answer", answer)):
        lookalikes = non_ascii_digits(text)
        if lookalikes:
            return f"{name} {text!r} contains non-ASCII digits {''.join(lookalikes)!r}; look-alike digits get no credit"
    return None


# ---------------------------------------------------------------- text answers

_WORDS = re.compile(r"[A-Za-z][A-Za-z ]*")


def _text_form(norm: Normalised) -> str | None:
    """Words-only answers ("Monday", "(C)") compared case-insensitively; else ``None``."""
    text = re.sub(r"^\((\w)\)$", r"\1", norm.text.strip())
    if not _WORDS.fullmatch(text):
        return None
    letters = text.replace(" ", "")
    if len(letters) < 3 and not norm.was_text and len(letters) != 1:
        return None  # "xy" is a product of variables, leave it to sympy
    return " ".join(text.lower().split())


def _text_verdict(gold: Normalised, answer: Normalised) -> Verdict | None:
    gold_text, answer_text = _text_form(gold), _text_form(answer)
    if gold_text is None and answer_text is None:
        return None
    if gold_text is not None and answer_text is not None:
        if gold_text == answer_text:
            return Verdict(True, "same text answer", gold_text, answer_text)
        return Verdict(False, f"answer '{answer_text}' != gold '{gold_text}'", gold_text, answer_text)
    if len((gold_text or answer_text or "").replace(" ", "")) > 1:
        return Verdict(False, f"answer '{answer.text}' != gold '{gold.text}' (one is text, the other is not)",
                       gold.text, answer.text)
    return None


@functools.lru_cache(maxsize=CACHE_SIZE)
def _bare(text: str) -> str:
    return _strip_delimiters(text)


_FORMS: tuple[tuple[Callable[[str], Any], Callable[[Any, Any], bool], str], ...] = (
    (time_value, times_equal, "time"), (date_value, dates_equal, "date"),
    (weekday_value, operator.eq, "day of the week"))


def _form_verdict(gold: str, answer: str) -> Verdict | None:
    """Clock times, dates and weekdays compare as what they name; ``None`` when the gold is none of them."""
    bare_gold = _bare(gold)
    for reader, equal, kind in _FORMS:
        gold_value = reader(bare_gold)
        if gold_value is None:
            continue
        answer_value = reader(_bare(answer))
        if answer_value is None:
            return Verdict(False, f"answer {answer!r} is not a {kind} like gold {gold!r}")
        same = equal(gold_value, answer_value)
        return Verdict(same, f"answer {answer!r} {'is' if same else 'is not'} the {kind} {gold!r}")
    return None


def _synonym_verdict(gold: str, answer: str, question: Question | None) -> Verdict | None:
    """Text golds compare whole after normalising, with a grader's synonyms ("no real roots" is "no
    solution"; on a how-many question it is 0); ``None`` when the gold is no text answer."""
    words = question.words if question else frozenset()
    counts = question is not None and question.asks_count
    if is_text_answer(gold):
        gold_text, answer_text = normalise_text(gold, words), normalise_text(answer, words)
        same = gold_text == answer_text
        why = "same text answer" if same else f"answer '{answer_text}' != gold '{gold_text}'"
        return Verdict(same, why, gold_text, answer_text)
    if counts and exact_number(gold.strip().strip("$")) == 0 and is_text_answer(answer):
        answer_text = normalise_text(answer, words)
        none = answer_text == "no solution" or bool(re.match(r"(?:no|none|zero)\b|没有|无", answer_text))
        return Verdict(none, f"'{answer_text}' {'says' if none else 'does not say'} there are none (gold 0)")
    return None


def _question_problem(gold: Normalised, answer: Normalised, question: Question) -> str | None:
    """An answer in a unit or form other than the one the question fixes."""
    fixed = question.unit
    if fixed == "degree" and "\\pi" in answer.text and "\\pi" not in gold.text:
        return "the question asks for degrees; the answer is in radians"
    if fixed == "radian" and answer.unit == "degree":
        return "the question asks for radians; the answer is in degrees"
    if fixed and answer.unit and fixed not in ("percent", "degree", "radian") and answer.unit != fixed:
        return f"the question asks for {fixed}s; the answer is in {answer.unit}s"
    decimal = re.search(r"\d\.\d", answer.text) and not re.search(r"\\frac|/", answer.text)
    if question.form == "fraction" and decimal:
        return "the question asks for a fraction; the answer is a decimal"
    fraction = re.search(r"\\frac|\d\s*/\s*\d", answer.text)
    if question.form == "decimal" and fraction and not re.search(r"\\frac|/", gold.text):
        return "the question asks for a decimal; the answer is a fraction"
    return None


def _conversion_verdict(gold: Normalised, answer: Normalised, question: Question | None) -> Verdict | None:
    """Credit for the same quantity in another unit (90 minutes for a gold of 1.5 hours) when the
    question fixes no unit; ``None`` otherwise (the units then disagree, as before)."""
    if not (gold.unit and answer.unit and convertible(answer.unit, gold.unit)) or (question and question.unit):
        return None
    gold_value, answer_value = exact_number(gold.text), exact_number(answer.text)
    if gold_value is None or answer_value is None:
        return None
    if answer_value * conversion_factor(answer.unit, gold.unit) != gold_value:
        return None
    return Verdict(True, f"answer {answer.text} {answer.unit} is gold {gold.text} {gold.unit}", gold.text, answer.text)


def _radians(gold: Normalised, answer: Normalised, question: Question | None) -> Normalised:
    """On an angle question, an angle in degrees as radians against a gold with pi."""
    angle = question is not None and question.angle
    if angle and "\\pi" in gold.text and "\\pi" not in answer.text and exact_number(answer.text) is not None:
        return Normalised(text=f"\\frac{{{answer.text}\\pi}}{{180}}")
    return answer


def _radians_gold(gold: Normalised, answer: Normalised, question: Question | None) -> Normalised:
    """On an angle question a gold in degrees ("45") against an answer with pi compares in radians."""
    if question is not None and question.angle and "\\pi" in answer.text and "\\pi" not in gold.text \
            and exact_number(gold.text) is not None:
        return Normalised(text=f"\\frac{{{gold.text}\\pi}}{{180}}")
    return gold


# ---------------------------------------------------------------- exact-number verdicts


def _exact_verdict(gold: Normalised, answer: Normalised, as_fraction: bool) -> Verdict | None:
    gold_value, answer_value = exact_number(gold.text), exact_number(answer.text)
    if gold_value is None or answer_value is None:
        return None
    gold_readings = _number_readings(gold_value, gold.percent, answer.percent, as_fraction)
    answer_readings = _number_readings(answer_value, answer.percent, gold.percent, as_fraction)
    shown_gold, shown_answer = _shown(gold), _shown(answer)
    if gold_readings & answer_readings:
        return Verdict(True, f"answer {shown_answer} == gold {shown_gold}", str(gold_value), str(answer_value))
    why = f"answer {shown_answer} != gold {shown_gold}"
    if not as_fraction and (gold.percent != answer.percent):
        why += " (percent_as_fraction is off)"
    return Verdict(False, why, str(gold_value), str(answer_value))


def _shown(norm: Normalised) -> str:
    return norm.text + ("%" if norm.percent else "")


# ---------------------------------------------------------------- math-verify


@dataclass(frozen=True)
class _Parsed:
    exprs: tuple[object, ...]  # sympy objects; empty when parsing failed
    shown: str | None
    error: str | None


_DECIMAL = re.compile(r"(?<![\d.])(\d*\.\d+)(?![\d.])")


def _exact_decimals(latex: str) -> str:
    """Write decimals as fractions so sympy compares exactly instead of rounding floats.

    math-verify rounds floats to 6 places, which accepts 0.333333 for 1/3 and 1.41421356 for
    sqrt(2); as fractions those are (correctly) different values.
    """
    def as_fraction(match: re.Match[str]) -> str:
        try:
            value = Fraction(match.group(1))
        except ValueError:  # beyond Python's integer digit limit; math-verify's timeout bounds it
            return match.group(1)
        if value.denominator == 1:
            return str(value.numerator)
        return f"{{\\frac{{{value.numerator}}}{{{value.denominator}}}}}"

    return _DECIMAL.sub(as_fraction, latex)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _mv_parse(latex: str, timeout_seconds: int | None) -> _Parsed:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse
    from math_verify.errors import TimeoutException

    try:
        found = parse(f"${_exact_decimals(latex)}$",
                      extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
                      parsing_timeout=timeout_seconds, raise_on_error=True)
    except TimeoutException:
        return _Parsed((), None, f"parsing timed out after {timeout_seconds} s")
    except Exception as error:  # math-verify surfaces sympy/antlr errors of every type
        return _Parsed((), None, f"{type(error).__name__}: {error}"[:200])
    exprs = tuple(item for item in found if not isinstance(item, str))
    return _Parsed(exprs, str(exprs[0]) if exprs else None, None if exprs else "no expression found")


def _settled_numbers(gold: _Parsed, answer: _Parsed) -> bool | None:
    """Two constant numbers ("2*sqrt(2)" and "sqrt(8)", "9*pi" and "27") settled without math-verify's
    symbolic comparison, which costs milliseconds: equal when structurally equal, unequal when their
    values differ beyond any rounding. ``None`` leaves the pair to math-verify."""
    if len(gold.exprs) != 1 or len(answer.exprs) != 1:
        return None
    left, right = gold.exprs[0], answer.exprs[0]
    if left == right:
        return True
    if getattr(left, "is_Rational", False) and getattr(right, "is_Rational", False):
        return bool(left == right)  # exact: no tolerance can equate 2^-60 and 2^-59
    if "factorial" in f"{gold.shown}{answer.shown}":
        exact = _exact_rationals(left, right)
        if exact is not None:
            return exact
    try:
        if not (_tame(left) and _tame(right)):
            return None
        a, b = complex(left.evalf(30)), complex(right.evalf(30))  # type: ignore[attr-defined]
    except (TypeError, ValueError, AttributeError, OverflowError):
        return None
    # Relative, never absolute: 2^-60 and 2^-59 differ by a factor of 2, however small both are.
    return False if abs(a - b) > 1e-9 * max(abs(a), abs(b)) else None


def _exact_rationals(left: object, right: object) -> bool | None:
    """Two rational constants ("\\frac{1}{100!}", "2^{-60}") compare exactly; ``None`` otherwise.
    Factorials are evaluated up to ``MAX_FACTORIAL`` (a larger one is left to math-verify's timeout)."""
    import sympy

    values = []
    for expr in (left, right):
        if not getattr(expr, "is_number", False):
            return None
        factorials = [node for node in sympy.preorder_traversal(expr) if isinstance(node, sympy.factorial)]
        if any(not (f.args[0].is_Integer and 0 <= f.args[0] <= MAX_FACTORIAL) for f in factorials):
            return None
        value = expr.doit() if factorials else expr  # type: ignore[attr-defined]
        if not getattr(value, "is_Rational", False):
            return None
        values.append(value)
    return bool(values[0] == values[1])


MAX_FACTORIAL = 2000


def _tame(expr: object, *, symbols: bool = False) -> bool:
    """An expression small enough to evaluate or cancel without a timeout: sums, products, small
    powers and roots, pi, e, i, trigonometric and logarithmic functions (and, with ``symbols``,
    variables). ``9^{9^{9^9}}`` or ``1000000!`` is not: sympy would hang the worker outside
    math-verify's timeout."""
    import sympy
    from sympy.core.numbers import ImaginaryUnit

    if not symbols and not getattr(expr, "is_number", False):
        return False
    allowed = (sympy.Add, sympy.Mul, sympy.Rational, sympy.Float, sympy.NumberSymbol, ImaginaryUnit,
               *((sympy.Symbol,) if symbols else ()),
               sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc, sympy.log, sympy.exp,
               sympy.asin, sympy.acos, sympy.atan)
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            if not (node.exp.is_Rational and abs(node.exp) <= 64):
                return False
        elif isinstance(node, sympy.Integer):
            if abs(node) > 10**60:
                return False
        elif not isinstance(node, allowed):
            return False
    return True


@functools.lru_cache(maxsize=CACHE_SIZE)
def _mv_equal(gold_latex: str, answer_latex: str, timeout_seconds: int | None) -> tuple[bool, str | None]:
    """math-verify's verdict on two parsed strings, once per pair per worker (sympy objects such as
    matrices are unhashable, so the strings are the key)."""
    from math_verify import verify
    from math_verify.errors import TimeoutException

    gold, answer = _mv_parse(gold_latex, timeout_seconds), _mv_parse(answer_latex, timeout_seconds)
    settled = _settled_numbers(gold, answer)
    if settled is not None:
        return settled, None
    try:
        return verify(list(gold.exprs), list(answer.exprs), timeout_seconds=timeout_seconds, raise_on_error=True,
                      allow_set_relation_comp=True), None
    except TimeoutException:
        return False, f"comparison timed out after {timeout_seconds} s"
    except Exception as error:
        return False, f"comparison failed: {type(error).__name__}"


def _require_main_thread(timeout_seconds: int | None) -> None:
    if timeout_seconds and threading.current_thread() is not threading.main_thread():
        raise EquivalenceThreadError(
            "answers_equivalent needs math-verify here, whose timeout uses signal.alarm and works only in the "
            "main thread; call it from the main thread or pass timeout_seconds=None and bound the time yourself"
        )


def _math_verify_verdict(gold: Normalised, answer: Normalised, timeout_seconds: int | None,
                         as_fraction: bool) -> Verdict:
    _require_main_thread(timeout_seconds)
    answer_readings = _percent_latex_readings(answer, gold, as_fraction)
    first_answer = _mv_parse(answer_readings[0], timeout_seconds)
    if not first_answer.exprs:
        return Verdict(False, f"could not parse answer '{answer.text}' ({first_answer.error})")
    gold_readings = _percent_latex_readings(gold, answer, as_fraction)
    first_gold = _mv_parse(gold_readings[0], timeout_seconds)
    if not first_gold.exprs:
        return Verdict(False, f"could not parse gold '{gold.text}' ({first_gold.error})", None, first_answer.shown)
    problems = []
    for gold_latex in gold_readings:
        for answer_latex in answer_readings:
            equal, problem = _mv_equal(gold_latex, answer_latex, timeout_seconds)
            if equal:
                return Verdict(True, f"answer {_shown(answer)} equivalent to gold {_shown(gold)}",
                               _mv_parse(gold_latex, timeout_seconds).shown,
                               _mv_parse(answer_latex, timeout_seconds).shown)
            problems += [problem] if problem else []
    detail = f" ({problems[0]})" if problems else ""
    return Verdict(False, f"answer {first_answer.shown} != gold {first_gold.shown}{detail}", first_gold.shown,
                   first_answer.shown)


_PLAIN_NUMBER = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")


def _plain_numbers_verdict(gold: str, answer: str) -> Verdict | None:
    """The most common pair, "72" against "72.0", settled before any normalising."""
    gold, answer = gold.strip(), answer.strip()
    if not (_PLAIN_NUMBER.fullmatch(gold) and _PLAIN_NUMBER.fullmatch(answer)):
        return None
    equal = Fraction(gold) == Fraction(answer)
    return Verdict(equal, f"answer {answer} {'==' if equal else '!='} gold {gold}", gold, answer)


def _restated(norm: Normalised) -> Normalised:
    """"0.75 or \\frac{3}{4}" restates one value, it does not hedge: read it as its first form."""
    if not norm.hedged:
        return norm
    parts = split_top_level(norm.text)
    values = {exact_number(part) for part in parts}
    if len(parts) < 2 or None in values or len(values) != 1:
        return norm
    return normalise_answer(parts[0])


def answers_equivalent(gold: str, answer: str, *, timeout_seconds: int | None = 5,
                       percent_as_fraction: bool = True, question: Question | None = None) -> Verdict:
    """Whether ``answer`` is mathematically equivalent to ``gold`` (see the module policy).

    ``timeout_seconds`` is passed to math-verify as ``parsing_timeout`` and ``timeout_seconds``;
    with a value > 0 any answer that needs math-verify must be checked in the main thread
    (``EquivalenceThreadError`` otherwise). ``None`` disables math-verify's timeout.
    ``question``: what the prompt fixes (``_forms.read_question``): a unit or form it asks for is
    required, and units convert only when it fixes none.
    """
    fast = _plain_numbers_verdict(gold, answer)
    if fast is not None:
        return fast
    problem = _input_problem(gold, answer)
    if problem:
        return Verdict(False, problem)
    verdict = _form_verdict(gold, answer) or _synonym_verdict(gold, answer, question)
    if verdict is not None:
        return verdict
    gold_norm, answer_norm = normalise_answer(gold), _restated(normalise_answer(answer))
    problem = _question_problem(gold_norm, answer_norm, question) if question else None
    if problem:
        return Verdict(False, problem, gold_norm.text, answer_norm.text)
    percent_as_fraction = percent_as_fraction and not (question and question.unit == "percent")
    converted = _conversion_verdict(gold_norm, answer_norm, question)
    if converted is not None:
        return converted
    answer_norm = _radians(gold_norm, answer_norm, question)
    gold_norm = _radians_gold(gold_norm, answer_norm, question)
    problem = _policy_problem(gold_norm, answer_norm)
    if problem:
        return Verdict(False, problem, gold_norm.text, answer_norm.text)
    if not answer_norm.text:
        return Verdict(False, f"answer {answer!r} has no value after normalisation", gold_norm.text, "")
    # Same core text: equal (the percent sign is optional, so "50\\%" == "50" lands here too).
    if gold_norm.text == answer_norm.text:
        return Verdict(True, "identical after normalisation", gold_norm.text, answer_norm.text)
    verdict = (_text_verdict(gold_norm, answer_norm)
               or _exact_verdict(gold_norm, answer_norm, percent_as_fraction)
               or _math_verify_verdict(gold_norm, answer_norm, timeout_seconds, percent_as_fraction))
    if not verdict.equivalent and _proportional_equations(_equation(gold_norm), _equation(answer_norm),
                                                          timeout_seconds):
        return Verdict(True, f"answer {answer_norm.text} is gold {gold_norm.text} times a nonzero constant",
                       verdict.gold_parsed, verdict.answer_parsed)
    return verdict


def _equation(norm: Normalised) -> str:
    # "y = 2x + 3" was normalised to "2x + 3" naming y: an equation again for the ratio test.
    return f"{norm.variable} = {norm.text}" if norm.variable else norm.text


_ONE_EQUATION = re.compile(r"^[^=<>,;]+(?<![<>!\\])=(?!=)[^=<>,;]+$")


def _equation_difference(text: str, timeout_seconds: int | None) -> object | None:
    """``lhs - rhs`` of a one-equation answer as a sympy expression, else ``None``."""
    if not _ONE_EQUATION.match(text) or re.search(r"\\(?:le|ge|leq|geq|neq|ne|lt|gt)(?![A-Za-z])", text):
        return None
    left, right = (_mv_parse(side.strip(), timeout_seconds) for side in text.split("="))
    if not left.exprs or not right.exprs:
        return None
    return left.exprs[0] - right.exprs[0]  # type: ignore[operator]


def _proportional_equations(gold: str, answer: str, timeout_seconds: int | None) -> bool:
    """``2x - 4 = 0`` against ``x - 2 = 0``: one equation a nonzero constant multiple of the other
    (the same curve or solution set). A sign flipped inside ("y = 2x - 3" against "y = 2x + 3")
    leaves a ratio that is not constant."""
    gold_difference = _equation_difference(gold, timeout_seconds)
    answer_difference = _equation_difference(answer, timeout_seconds) if gold_difference is not None else None
    if answer_difference is None:
        return False
    import sympy

    try:
        if not getattr(gold_difference, "free_symbols", None):
            return False
        if not (_tame(gold_difference, symbols=True) and _tame(answer_difference, symbols=True)):
            return False
        ratio = sympy.cancel(answer_difference / gold_difference)  # type: ignore[operator]
        return bool(ratio.is_number and ratio != 0 and ratio.is_finite)
    except Exception:  # sympy raises many types on odd expressions: then they are not proportional
        return False


def parts_equivalent(gold: str, parts: tuple[str, ...], *, timeout_seconds: int | None = 5,
                     percent_as_fraction: bool = True) -> Verdict:
    """Several boxed answers against a gold of as many comma-separated parts ("3, 5" against
    ``\\boxed{5}`` and ``\\boxed{3}``), matched one to one in any order. Against a gold of another
    number of parts, several different boxes are a hedge and earn nothing."""
    gold_parts = split_top_level(_strip_delimiters(_normalise_unicode(gold)))
    shown = ", ".join(parts)
    if len(gold_parts) != len(parts):
        kind = "a single value" if len(gold_parts) == 1 else f"{len(gold_parts)} parts"
        return Verdict(False, f"{len(parts)} different boxed answers ({shown}) but gold {gold} has {kind}")
    unmatched = list(gold_parts)
    for part in parts:
        match = next((g for g in unmatched if answers_equivalent(
            g, part, timeout_seconds=timeout_seconds, percent_as_fraction=percent_as_fraction).equivalent), None)
        if match is None:
            return Verdict(False, f"boxed part {part} matches no part of gold {gold}")
        unmatched.remove(match)
    return Verdict(True, f"boxed parts {shown} match the parts of gold {gold}")


def clear_caches() -> None:
    """Forget every parsed answer and gold (benchmarks time cold parsing with this)."""
    normalise_answer.cache_clear()
    _mv_parse.cache_clear()
    _mv_equal.cache_clear()

"""Read the value a piece of prose states: math spans, answer phrases, closing sentences.

This is the reading step of ``_answers`` when a response has no ``\\boxed{}``: it finds the
last answer phrase ("the answer is", "Final Answer:", "答案是", "####" ...), else reads the
response as one expression, else reads the closing sentence. Whatever it reads is a whole
mathematical expression (a ``$...$`` span is taken whole, "the smallest such $k$ is 12" is 12),
never one digit of one.

Everything is one left-to-right pass or a search in a bounded window, so a multi-megabyte
hostile response costs linear time: no regex here rescans from each of many starting points.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from itertools import pairwise

#: Unit words an answer may carry after its number ("5 cm", "9\\pi square units"); the keys
#: ``_equivalence`` canonicalises. Extraction keeps them so "5 m" and "5 cm" stay different.
UNIT_WORDS = {
    "dollar": "dollar", "usd": "dollar", "buck": "dollar", "cent": "cent", "penny": "cent", "pennie": "cent",
    "degree": "degree", "deg": "degree", "radian": "radian", "rad": "radian",
    "mm": "mm", "millimeter": "mm", "millimetre": "mm", "cm": "cm", "centimeter": "cm", "centimetre": "cm",
    "m": "m", "meter": "m", "metre": "m", "km": "km", "kilometer": "km", "kilometre": "km",
    "in": "inch", "inch": "inch", "inche": "inch", "ft": "foot", "foot": "foot", "feet": "foot",
    "yd": "yard", "yard": "yard", "mi": "mile", "mile": "mile",
    "g": "g", "gram": "g", "kg": "kg", "kilogram": "kg", "lb": "pound", "pound": "pound", "oz": "ounce",
    "ounce": "ounce",
    "s": "second", "second": "second", "min": "minute", "minute": "minute", "h": "hour", "hr": "hour", "hour": "hour",
    "day": "day", "week": "week", "month": "month", "year": "year",
    "l": "liter", "liter": "liter", "litre": "liter", "ml": "ml", "milliliter": "ml", "gallon": "gallon", "cup": "cup",
    "mph": "mile/hour", "kph": "km/hour", "per": "/", "/": "/", "square": "square", "sq": "square", "cubic": "cubic",
}
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred".split())
# Words a bare expression may hold: functions, constants, hedges the comparison judges, units.
_EXPRESSION_WORDS = NUMBER_WORDS | {
    "or", "and", "pi", "infty", "inf", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp",
    "arcsin", "arccos", "arctan", "det", "gcd", "lcm", "mod", "max", "min", "lim", "units", "unit",
    *(word for word in UNIT_WORDS if len(word) > 1 and word != "in"),
    *(word + "s" for word in UNIT_WORDS if len(word) > 2),
}

# ---------------------------------------------------------------- math spans

_PLACEHOLDER = "\ue000"  # a private-use character stands for each math span in the masked prose
_SPAN_OPEN = re.compile(r"\\[\\$]|\$\$|\$(?=[^\s$])|\\\(|\\\[")
# A single "$" closes only after a non-space and not before a digit ("costs $5 and $10" is money).
_SPAN_CLOSE = {
    "$$": re.compile(r"(?<!\\)\$\$"),
    "$": re.compile(r"(?<![\\\s$])\$(?![\d$])"),
    "\\(": re.compile(r"\\\)"),
    "\\[": re.compile(r"\\\]"),
}
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


class _NextMatch:
    """The first match of a pattern at or after a position, remembered so that many queries cost
    one pass: a later query reuses the last answer while it still lies ahead."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        self.text, self.pattern = text, pattern
        self.origin = -1
        self.found: re.Match[str] | None = None

    def at_or_after(self, position: int) -> re.Match[str] | None:
        stale = self.origin < 0 or position < self.origin or (self.found is not None and self.found.start() < position)
        if stale:
            self.origin, self.found = position, self.pattern.search(self.text, position)
        return self.found


@dataclass(frozen=True)
class Masked:
    """Prose with every math span replaced by ``_PLACEHOLDER``; ``spans`` holds their contents in
    order and ``positions`` where their placeholders are."""

    prose: str
    spans: tuple[str, ...]
    positions: tuple[int, ...]

    def span_contents(self, start: int, end: int) -> list[str]:
        """The contents of the spans whose placeholders lie in ``prose[start:end]``."""
        return list(self.spans[bisect.bisect_left(self.positions, start): bisect.bisect_left(self.positions, end)])


def mask_math(text: str) -> Masked:
    """Find ``$...$``, ``$$...$$``, ``\\(...\\)`` and ``\\[...\\]`` spans in one pass and mask them.

    Inline spans do not cross a blank line; an opener that never closes is plain text.
    """
    text = text.replace(_PLACEHOLDER, "")
    closers = {key: _NextMatch(text, pattern) for key, pattern in _SPAN_CLOSE.items()}
    blank = _NextMatch(text, _BLANK_LINE)
    pieces: list[str] = []
    spans: list[str] = []
    positions: list[int] = []
    position = copied = length = 0
    while (opener := _SPAN_OPEN.search(text, position)) is not None:
        key = opener.group(0)
        if key.startswith("\\") and key[1:] in ("\\", "$"):
            position = opener.end()
            continue
        close = closers[key].at_or_after(opener.end())
        if close is None:
            position = opener.end()
            continue
        if key in ("$", "\\("):
            gap = blank.at_or_after(opener.end())
            if gap is not None and gap.start() < close.start():
                position = opener.end()
                continue
        pieces += [text[copied: opener.start()], _PLACEHOLDER]
        length += opener.start() - copied
        positions.append(length)
        length += 1
        spans.append(text[opener.end(): close.start()].strip())
        position = copied = close.end()
    pieces.append(text[copied:])
    return Masked("".join(pieces), tuple(spans), tuple(positions))


# ---------------------------------------------------------------- answer phrases

_EN_PHRASE = (
    r"(?:\b(?i:final\s+answer|answer)\b[*_]*\s*(?:(?i:is)\b\s*:?|:|=)"
    r"|\b(?i:final\s+answer)\b[*_#:]*[ \t]*(?=\n)"
    r"|\#\#\#\#)"
)
#: Chinese answer phrases (Qwen on Model Studio writes "答案是", "故答案为", "所以...为").
ZH_ANSWER_PHRASE = (r"(?:(?:(?<![^\n])[ \t]*答\s*(?=[：:])|最终答案\s*(?:是|为|為)?"
                    r"|答案\s*(?:应该?)?(?:是|为|為|(?=[：:]))"
                    r"|(?:所以|因此|故|于是|综上)[^。！？\n$]{0,40}?(?:为|為|(?<!也就)是|等于))\s*[：:]?)")
#: Answer phrases in English and Chinese, shared by ``extract_final_answer``, ``extract_gsm8k_number``
#: and ``extract_choice``.
ANSWER_PHRASE = re.compile(rf"(?:{_EN_PHRASE}|{ZH_ANSWER_PHRASE})[ \t*_]*")

# "i.e." and "e.g." end no sentence.
_PERIOD = r"(?<![.\\])(?<!\bi\.e)(?<!\be\.g)\.(?=\s|$)"
_CUT = re.compile(
    _PERIOD + r"|(?<=[A-Za-z\u4e00-\u9fff])!|[。；;?！？\n]"
    r"|(?i:\s+(?:because|since|as|which|where|when|if|so|but|for\s+(?:all|some|each|every)|i\s+hope)\b)"
    r"|,\s+(?!(?i:or|and)\b)(?=[A-Za-z\u4e00-\u9fff]{2})|，"
)


def last_phrase_value(masked: Masked) -> tuple[str, str] | None:
    """The value stated after the last answer phrase, and the phrase; ``None`` without a phrase.

    "Final Answer: The final answer is $5$. I hope it is correct." holds two phrases: the later,
    inner one states the value. A phrase with nothing after it on its line reads the next line.
    """
    matches = list(ANSWER_PHRASE.finditer(masked.prose))
    for match in reversed(matches[-8:]):
        line_end = masked.prose.find("\n", match.end())
        line_end = len(masked.prose) if line_end < 0 else line_end
        rest = masked.prose[match.end(): line_end]
        if not rest.strip(" \t*_:"):
            following = re.match(r"\s*\n([^\n]+)", masked.prose[line_end: line_end + 2000])
            if following is None:
                continue
            start = line_end + following.start(1)
            rest = following.group(1)
        else:
            start = match.end()
        value = _stated_value(masked, start, start + len(rest), after_phrase=True)
        if value:
            return _corrected(masked, start, value), match.group(0).strip()
    return None


#: "24 (that is, 4!)", "12 (i.e. 6 pairs)", "8，即 2 的三次方": an aside restates or explains the value
#: before it and is never the answer, so a statement ends where its aside begins.
# Every alternative opens on a fixed character (or one space after a non-space): no scan from each
# position of a long run of spaces.
ASIDE = re.compile(r"[(（]\s*(?:(?i:that\s+is|i\.\s?e\.?|ie|namely|which\s+is|equivalently|in\s+other\s+words)\b"
                   r"|即|也就是|亦即|就是)|[,，]\s*(?:即|也就是|亦即|也即)|(?:(?<=\S),|(?<=\S))\s+(?i:i\.\s?e\.|that\s+is,|namely)\s"
                   r"|,\s*(?i:which\s+(?:is|equals))\b")


def _before_aside(prose: str, start: int, end: int) -> int:
    aside = ASIDE.search(prose, start, end)
    return aside.start() if aside and aside.start() > start else end


# "So the answer is 7. Wait, no, it's 8.": a correction after the phrase states the final answer.
_CORRECTION = re.compile(r"(?i:\b(?:wait|actually|correction|oops|i\s+mean|on\s+second\s+thought)\b)|不对|等等")


def _corrected(masked: Masked, start: int, value: str) -> str:
    if _CORRECTION.search(masked.prose, start, min(len(masked.prose), start + 4000)) is None:
        return value
    later = closing_value(masked)
    return value if later is None or isinstance(later, ListedNumber) else later


# ---------------------------------------------------------------- reading a statement

_COPULA = re.compile(
    r"(?<![<>!=\\])=(?!=)|\b(?:is|are|was|were|equals|equal\s+to|be|becomes|gives|yields|makes)\b|(?:为|為|是|等于)"
)
_LEADING_FILLER = re.compile(
    r"^(?:\s*(?i:the|a|an|exactly|precisely|then|therefore|thus|so|just|simply|equal\s+to|given\s+by|either|"
    r"approximately|about|around|roughly|:)\b[:,]?)+\s*")
_VALUE_START = re.compile(r"[\s*_]*(?P<value>" + _PLACEHOLDER + r"|\\\$|\$(?=\d)|[-+\u2212(\[{\\\d.]|" +
                          r"(?i:" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")\b)")
_UNIT_TAIL = re.compile(r"(?:\s*(?:\\text\{[^{}]{0,20}\}|[A-Za-z]+\.?|\^\s*\{?[23]\}?|²|³))+")


def _unit_words(tail: str) -> str:
    """The unit words opening ``tail`` ("cm", "square units"), or ""."""
    match = _UNIT_TAIL.match(tail)
    if match is None:
        return ""
    kept = []
    for piece in re.finditer(r"\\text\{[^{}]*\}|[A-Za-z]+\.?|\^\s*\{?[23]\}?|[²³]", match.group(0)):
        word = piece.group(0)
        bare = word.rstrip(".").lower()
        singular = bare[:-1] if bare.endswith("s") and len(bare) > 2 else bare
        if bare == "in":
            break  # "72 in total": a preposition far more often than inches
        if (word.startswith(("\\text", "^", "²", "³")) or bare in UNIT_WORDS or singular in UNIT_WORDS
                or singular == "unit"):
            kept.append(word.rstrip("."))
        else:
            break
    return " ".join(kept)


def _expand(masked: Masked, start: int, end: int) -> str:
    """``prose[start:end]`` with its placeholders put back as the span contents."""
    pieces = masked.prose[start:end].split(_PLACEHOLDER)
    contents = masked.span_contents(start, end)
    out = [pieces[0]]
    for content, piece in zip(contents, pieces[1:], strict=True):
        out += [content, piece]
    return "".join(out)


# "one half", "three quarters", "2 thirds": a spelled fraction is one value, never its first word alone.
_SMALL_WORDS = "zero one two three four five six seven eight nine ten".split()
_DENOMINATORS = {"half": 2, "halves": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6,
                 "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_WORD_FRACTION = re.compile(r"[\s*_]*(?P<num>\d+|" + "|".join(_SMALL_WORDS) + r")[\s-]+(?P<den>"
                            + "|".join(sorted(_DENOMINATORS, key=len, reverse=True)) + r")s?\b", re.I)


def _word_fraction(region: str) -> str | None:
    found = _WORD_FRACTION.match(region)
    if found is None:
        return None
    number = found.group("num").lower()
    numerator = int(number) if number.isdigit() else _SMALL_WORDS.index(number)
    return f"{numerator}/{_DENOMINATORS[found.group('den').lower()]}"


def _value_at(masked: Masked, start: int, end: int) -> str | None:
    """The value that opens ``prose[start:end]``: a span (with its unit words) or an expression run."""
    filler = _LEADING_FILLER.match(masked.prose[start:end])
    start += filler.end() if filler else 0
    region = masked.prose[start:end]
    fraction = _word_fraction(region)
    if fraction is not None:
        return fraction
    lead = _VALUE_START.match(region)
    if lead is None:
        return None
    begin = start + lead.start("value")
    if masked.prose[begin] == _PLACEHOLDER:
        return _span_list(masked, begin, end)
    text = _expand(masked, begin, end)
    return _expression_run(text)


_JOINED_SPAN = re.compile(r"\s*(?:,\s*(?:(?P<and>and)\s+|(?P<or>or)\s+)?|(?P<and2>and|以及|和|、)\s*|(?P<or2>or|或)\s*)"
                          + _PLACEHOLDER)


def _span_list(masked: Masked, begin: int, end: int) -> str | None:
    """The span at ``begin`` with its unit words. Spans joined by "and" or commas ("$x = 2$ and
    $x = -3$") are one list; spans joined by "or" are alternatives, which the comparison judges
    (a hedge, unless they restate one value: "$\\frac{5}{2}$ or $2.5$")."""
    pieces = [masked.span_contents(begin, begin + 1)[0]]
    position = begin + 1
    while len(pieces) < 19 and (more := _JOINED_SPAN.match(masked.prose, position, end)) is not None:
        pieces += [" or " if more.group("or") or more.group("or2") else ", ",
                   masked.span_contents(more.end() - 1, more.end())[0]]
        position = more.end()
    units = _unit_words(masked.prose[position: end])
    value = "".join(pieces).strip(", ")
    return f"{value} {units}".strip() if value else None


# 或/和 ("5 或 6") join a hedge the comparison judges; any other CJK character ends the run.
_RUN_STOP = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}(?![A-Za-z])|[\u4e00-\u548b\u548d-\u6215\u6217-\u9fff]")


def _expression_run(text: str) -> str | None:
    """An expression written in prose ("48 + 24 = 72 clips in May" -> "48 + 24 = 72 clips"): up to
    the first word that is not mathematics or a unit."""
    position = 0
    for word in _RUN_STOP.finditer(text):
        token = word.group(0)
        lower = token.lower()
        if lower in _EXPRESSION_WORDS or (lower.endswith("s") and lower[:-1] in UNIT_WORDS):
            continue
        position = word.start()
        break
    else:
        position = len(text)
    value = text[:position].strip()
    dots = re.search(r"\d(?:\.{3}|\u2026)$", value)  # "0.333...": a repeating decimal keeps its dots
    value = value if dots else value.rstrip(",:.").strip().strip("*_").strip()
    value = value.replace("或", " or ").replace("和", " and ")
    if not value:
        return None
    units = _unit_words(text[position:])
    if units and not re.search(r"[A-Za-z]\s*$", value):
        value = f"{value} {units}"
    return value


def _stated_value(masked: Masked, start: int, end: int, *, after_phrase: bool = False) -> str | None:
    """The value ``prose[start:end]`` states, read up to the end of its sentence or clause."""
    if _CONDITIONAL.search(masked.prose, start, _sentence_end(masked.prose, start, end)):
        return None  # "12 if we count both ends, and 11 otherwise" hedges between values
    end = _before_aside(masked.prose, start, end)
    cut = _CUT.search(masked.prose, start, end)
    end = cut.start() if cut else end
    if _NEGATION.match(masked.prose, start, end):
        return None  # "the answer is not 5" states no answer
    if after_phrase and not _COPULA.search(masked.prose, start, end):
        value = _value_at(masked, start, end)
        if value:
            return value
    return sentence_value(masked, start, end) or (_plain_words(masked, start, end) if after_phrase else None)


# "12 if ..., otherwise 11", "It could also be 6": the statement offers alternatives.
_CONDITIONAL = re.compile(r"(?i:\botherwise\b|\bdepending\s+on\b|\balternatively\b|\b(?:could|might|may)\s+also\b"
                          r"|\bor\s+(?:maybe|perhaps|possibly)\b)|否则|也可能")


def _sentence_end(prose: str, start: int, end: int) -> int:
    found = _SENTENCE_END.search(prose, start, end)
    return found.start() if found else end


_NEGATION = re.compile(r"[\s*_]*(?i:not|never|neither|no\s+longer)\b|[\s*_]*不")


def _plain_words(masked: Masked, start: int, end: int) -> str | None:
    """A short wordy answer after a phrase ("The answer is Monday."), as written."""
    text = _expand(masked, start, end).strip().strip("*_").strip()
    return text if text and len(text.split()) <= 6 else None


def sentence_value(masked: Masked, start: int, end: int) -> str | None:
    """The value a sentence states: what follows its last copula ("is", "=", "为"), else its last
    math span, else the last number that stands as an answer; ``None`` when it states none."""
    if _CONDITIONAL.search(masked.prose, start, end):
        return None  # "12 if we count both ends, and 11 otherwise" hedges between values
    end = _before_aside(masked.prose, start, end)
    copulas = list(_COPULA.finditer(masked.prose, start, end))
    for copula in reversed(copulas[-4:]):
        if _NEGATION.match(masked.prose, copula.end(), end):
            return None  # "x is not 5" states no value
        value = _value_at(masked, copula.end(), end)
        if value:
            worked = _worked_side(masked.prose, start, copula.start()) if copula.group(0) == "=" else ""
            return f"{worked} = {value}" if worked else value
    first = masked.prose.find(_PLACEHOLDER, start, end)
    clause = _CLAUSE.search(masked.prose, first, end) if first >= 0 else None
    placeholder = masked.prose.rfind(_PLACEHOLDER, start, clause.start() if clause else end)
    if placeholder >= 0:
        content = masked.span_contents(placeholder, placeholder + 1)[0]
        units = _unit_words(masked.prose[placeholder + 1: end])
        return f"{content} {units}".strip() or None
    if end - start > _RUN_ON:
        return None  # a run-on text ("and so on ... 72 and so on ...") states no answer, it only holds numbers
    return standing_number(masked.prose, start, end)


# Longer than any closing statement a model writes without a sentence end: past it a bare number is padding.
_RUN_ON = 400


# Without a copula a sentence states its last span before a clause that gives a reason or a
# method: "we get $x = -1$ after simplifying $x^2 + 2x + 1 = 0$" states x = -1.
_CLAUSE = re.compile(r"(?i:\b(?:after|by|using|from|since|because|when|where|given|if|which|via)\b)")

_ARITHMETIC_TAIL = re.compile(r"[\d.,\s+\-*/×÷()\u2212$]*$")  # "$" is money here: "$3.50 + $1.25"


def _worked_side(prose: str, start: int, equals: int) -> str:
    """The arithmetic right before "=" ("48 + 24" in "she sold 48 + 24 = 72"), kept with the value
    so that a false equality ("96 = 72") earns nothing; "" when the left side is not arithmetic."""
    tail = _ARITHMETIC_TAIL.search(prose, max(start, equals - 80), equals)
    side = tail.group(0).strip().strip(",") if tail else ""
    if re.search(r"\d", side):
        return side
    variable = re.search(r"(?<![A-Za-z\\])[A-Za-z]\s*$", prose[max(start, equals - 4): equals])
    return variable.group(0).strip() if variable else ""  # "x = 4" keeps its variable


# ---------------------------------------------------------------- numbers that stand as answers

_PROSE_NUMBER = re.compile(
    r"(?:(?<![\w.)\]])[-+\u2212])?(?<![\d.])"
    r"(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)"
    r"(?:/[0-9]+)?(?![\d])"
)
_LABEL_BEFORE = re.compile(
    r"(?i:\b(?:step|part|case|error|errno|line|item|page|chapter|section|question|problem|exercise|example|"
    r"figure|fig|table|version|level|round|phase|stage|option|equation|eq|lemma|theorem|method|approach|"
    r"rule|no|code|port|room|row|column|id)\.?|#)\s*$")
_LABEL_AFTER = re.compile(r"\s*(?i:retries|retry|attempts?|tries|steps?|cases?|iterations?|errors?|parts?)\b")
_YEAR_BEFORE = re.compile(
    r"(?i:\b(?:in|since|by|until|till|from|year|of|during|before|after|circa|around|"
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?)\s+$")
_YEAR_AFTER = re.compile(r"\s*(?:AD|BC|BCE|CE)\b")
# A value and a list separator right before the number ("99 or " in "98, 99 or 100"), in a short window.
_LISTED_BEFORE = re.compile(rf"(?:{_PROSE_NUMBER.pattern}|\.\.\.|\\[lcd]?dots\b|\u2026)\s*(?:,|;|\bor\b|\band\b)\s*$")
_LOOK_BACK = 40


class ListedNumber(str):
    """A last number that closes a list of values ("98, 99 or 100"): not a final answer."""


def _stands_as_answer(prose: str, match: re.Match[str]) -> bool:
    start, end = match.start(), match.end()
    before = prose[max(0, start - _LOOK_BACK): start]
    after = prose[end: end + _LOOK_BACK]
    if re.search(r"(?:[A-Za-z_{/^]|(?<=[\w)])\*\*|\^\s)$", before):
        return False  # identifier, exponent, subscript, LaTeX argument, denominator: x2, 2^10, \frac{3}{4}
    if re.match(r"[A-Za-z_^}]|\s*\^", after):
        return False  # 2x, 3rd, 5th, 2^x, \frac{3}{4}
    if _LABEL_BEFORE.search(before) or _LABEL_AFTER.match(after):
        return False  # Step 2, Error 404, 3 retries
    if re.search(r"(?:^|\n)[ \t>*-]*\(?$", before) and re.match(r"[.)]\s", after):
        return False  # "1. First ..." / "2) then ..." list labels
    digits = match.group(0).lstrip("+-\u2212")
    if re.fullmatch(r"1[0-9]{3}|20[0-9]{2}", digits) and (_YEAR_BEFORE.search(before) or _YEAR_AFTER.match(after)):
        return False
    return True


def standing_number(prose: str, start: int = 0, end: int | None = None) -> str | None:
    """The last number in ``prose[start:end]`` that stands as an answer (see ``_stands_as_answer``),
    with its unit words; a ``ListedNumber`` when that number closes a list of values."""
    end = len(prose) if end is None else end
    for match in reversed(list(_PROSE_NUMBER.finditer(prose, start, end))[-12:]):
        if not _stands_as_answer(prose, match):
            continue
        number = match.group(0).replace("\u2212", "-")
        money = "\\$" if prose[max(0, match.start() - 1): match.start()] == "$" else ""
        listed = _LISTED_BEFORE.search(prose, max(start, match.start() - 120), match.start())
        if listed is not None:
            return ListedNumber(prose[max(start, listed.start() - 40): match.end()].strip())
        units = _unit_words(prose[match.end(): end])
        return f"{money}{number} {units}".strip()
    return None


# ---------------------------------------------------------------- whole responses


def single_expression(masked: Masked) -> str | None:
    """The whole response when it is one expression: one math span, or bare mathematics
    (``\\frac{3}{4}``, ``[2, \\infty)``, ``x \\ge 5``, ``twelve``), or a few words on one line."""
    prose = masked.prose.strip().rstrip(".").strip()
    if prose == _PLACEHOLDER:
        return masked.spans[0] or None
    if len(prose) > 400 or _PLACEHOLDER in prose or re.search(r"\n\s*\n|[;?。！？]|\.\s", prose):
        return None
    bare = re.sub(r"\\(?:text|mathrm|mbox|begin|end)\s*\{[^{}]*\}", " ", prose)
    words = re.findall(r"(?<![\\A-Za-z])[A-Za-z]{2,}", bare)
    if all(word.lower() in _EXPRESSION_WORDS for word in words):
        return prose
    if "\n" not in prose and len(prose) <= 40 and len(prose.split()) <= 3 and not re.search(r"\d", prose):
        return prose  # "Monday", "\\text{yes}": a wordy answer on its own
    return None


def closing_value(masked: Masked, window: int = 4000) -> str | None:
    """The value of the closing statement: in the last paragraph that holds a number or a math
    span, the last sentence that states one. Only the final ``window`` characters are read."""
    prose = masked.prose
    floor = max(0, len(prose) - window)
    end = len(prose)
    while end > floor:
        blank = prose.rfind("\n\n", floor, end)
        block_start = blank + 2 if blank >= 0 else floor
        if _HOLDS_VALUE.search(prose, block_start, end):
            return _last_sentence_value(masked, block_start, end)
        end = blank if blank >= 0 else floor
    return None


_HOLDS_VALUE = re.compile(r"\d|" + _PLACEHOLDER)


_SENTENCE_END = re.compile(_PERIOD + r"|(?<=[A-Za-z\u4e00-\u9fff" + _PLACEHOLDER + r")])[!?]|[。！？\n]")


def _last_sentence_value(masked: Masked, start: int, end: int) -> str | None:
    bounds = [start] + [m.end() for m in _SENTENCE_END.finditer(masked.prose, start, end)] + [end]
    for left, right in reversed(list(pairwise(bounds))[-12:]):
        if _CONDITIONAL.search(masked.prose, left, right):
            return None  # the closing statement offers alternatives: no single answer
        value = sentence_value(masked, left, right)
        if value:
            return value
    return None

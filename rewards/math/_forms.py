"""Answer forms beyond plain mathematics: what the question asks for, and values written as words,
times, dates, weekdays, text, option letters and systems of equations.

Pure standard-library string work (no sympy), cached where a GRPO step repeats the input.

Policy (docs/math.md, "Answer forms"):

- The question fixes a unit or a form when it asks "how many minutes", "in cm", "what percent",
  "as a common fraction", "as a decimal", "in degrees", "in radians", "多少分钟": then an answer
  in another unit or form is wrong even when it is the same quantity. When it fixes nothing,
  equivalent forms are right (90 minutes is 1.5 hours, 60° is π/3 on an angle question).
- Numbers in words are numbers: "negative three", "three hundred twenty-five", "one thousand and
  two", "three quarters", "一百二十", "负二", "三分之一". A single small word ("one", "一") is left
  as prose: it is far more often an article or part of a word ("一共") than an answer.
- Times compare as clock readings: "3:45 PM" is "3:45", "2:30 p.m." is "14:30" (a gold after
  12:59 or at 0:xx is a 24-hour reading; a gold without a.m./p.m. up to 12:59 accepts either).
  Dates compare by month and day, and by year when both give one ("12 March 2024" is "2024-03-12",
  and is "March 12"). Weekdays compare by day, English or Chinese ("Wednesday" is "星期三").
- Text answers compare whole, normalised (case, articles, ``\\text{}``, a trailing noun the
  question names: "an odd function" is "odd" when the question says "function"), with the
  synonyms a grader accepts ("no solutions", "no real roots", "无解" for "no solution";
  "infinitely many solutions", "无穷多个" for "infinitely many"; "no real roots" is 0 when the
  question asks how many). Never by a substring: "neither even nor odd" is not "odd".
- A closing sentence naming several quantities ("It covers 6,000,000 km in 20 seconds.") states
  the one whose unit or noun the question asks for ("how far": a length; "how many apples").
- A system's solution written as assignments ("x = 2, y = -1", on two lines, "y = 1 and x = 2")
  is the tuple in the order the question names the variables; assignments to one variable
  ("x = 2 or x = -3") are the list of its solutions.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

from ._statements import NUMBER_WORDS, UNIT_WORDS

# ---------------------------------------------------------------- units and dimensions

_DIMENSIONS: dict[str, dict[str, float]] = {
    "length": {"mm": 1, "cm": 10, "m": 1000, "km": 1_000_000, "inch": 25.4, "foot": 304.8, "yard": 914.4,
               "mile": 1_609_344},
    "time": {"second": 1, "minute": 60, "hour": 3600, "day": 86_400, "week": 604_800},
    "mass": {"g": 1, "kg": 1000},
    "volume": {"ml": 1, "liter": 1000},
    "speed": {"km/hour": 1, "mile/hour": 1.609344},
}
_DIMENSION_OF = {unit: name for name, units in _DIMENSIONS.items() for unit in units}

#: Chinese unit words and the unit keys of ``UNIT_WORDS`` they mean.
ZH_UNITS = {"毫米": "mm", "厘米": "cm", "千米": "km", "公里": "km", "米": "m", "秒钟": "second", "秒": "second",
            "分钟": "minute", "小时": "hour", "天": "day", "周": "week", "克": "g", "千克": "kg", "公斤": "kg",
            "毫升": "ml", "升": "liter"}


def unit_key(word: str) -> str | None:
    """The canonical unit of a word ("minutes" -> "minute", "km/h" -> "km/hour", "分钟" -> "minute")."""
    if word in ZH_UNITS:
        return ZH_UNITS[word]
    lower = word.lower().rstrip(".")
    if "/" in lower:
        left, _, right = lower.partition("/")
        keys = unit_key(left), unit_key(right)
        return f"{keys[0]}/{keys[1]}" if None not in keys else None
    for candidate in (lower, lower[:-1] if lower.endswith("s") and len(lower) > 2 else lower):
        if candidate in UNIT_WORDS and UNIT_WORDS[candidate] not in ("/", "square", "cubic"):
            return UNIT_WORDS[candidate]
    return None


def convertible(unit: str, other: str) -> bool:
    return unit != other and _DIMENSION_OF.get(unit) is not None and _DIMENSION_OF.get(unit) == _DIMENSION_OF.get(other)


def conversion_factor(unit: str, other: str) -> Fraction:
    """How many ``other`` one ``unit`` is (hour -> minute: 60), exactly."""
    table = _DIMENSIONS[_DIMENSION_OF[unit]]
    return Fraction(str(table[unit])) / Fraction(str(table[other]))


# ---------------------------------------------------------------- what the question asks

@dataclass(frozen=True)
class Question:
    """What a prompt fixes about its answer; every field empty when there is no prompt."""

    options: tuple[tuple[str, str], ...] = ()  # ("A", "text of A"), ... in order
    unit: str | None = None  # a unit key, "percent", "degree" or "radian" the answer must be in
    form: str | None = None  # "fraction" or "decimal"
    asks_count: bool = False  # "how many", "几个"
    angle: bool = False  # an angle question that does not fix degrees or radians
    wanted: tuple[str, ...] = ()  # units, dimensions or nouns the question asks for
    variables: tuple[str, ...] = ()  # single-letter variables in the order the question names them
    words: frozenset[str] = frozenset()  # its words, singular: a trailing one in a text answer is dropped


_UNIT_NAME = r"[A-Za-z]+(?:/[A-Za-z]+)?"
_FIXED_UNIT = (
    re.compile(rf"(?i:\bhow\s+many\s+({_UNIT_NAME}))"),
    re.compile(rf"(?i:\b(?:in|into|in\s+terms\s+of|number\s+of)\s+({_UNIT_NAME})\s*(?:[?.,)]|$))"),
    re.compile(rf"(?i:\((?:in\s+)?({_UNIT_NAME})\))"),
    re.compile(r"(?:多少|几)(毫米|厘米|千米|公里|米|秒钟|秒|分钟|小时|天|千克|公斤|克|毫升|升)"),
)
_PERCENT_ASKED = re.compile(r"(?i:\bwhat\s+percent|\bpercentage\b|\bas\s+a\s+percent|\bin\s+percent"
                            r"|\bhow\s+many\s+percent)"
                            r"|百分之几|百分比|百分数")
_FRACTION_ASKED = re.compile(r"(?i:\bcommon\s+fraction\b|\bas\s+a\s+fraction\b|\bin\s+fraction\s+form\b)|用分数表示")
_DECIMAL_ASKED = re.compile(r"(?i:\bas\s+a\s+decimal\b|\bdecimal\s+form\b"
                            r"|\bto\s+the\s+nearest\s+(?:tenth|hundredth|thousandth)\b)"
                            r"|用小数表示|保留")
_ANGLE = re.compile(r"(?i:\bangles?\b|\\angle|∠|\binclination\b|\bargument\b|\barg\b)|角")
_COUNT = re.compile(r"(?i:\bhow\s+many\b|\bnumber\s+of\b)|几个|几种|多少个|多少种|几个解|几个根")
_HOW_MANY_NOUN = re.compile(r"(?i:\bhow\s+many\s+(?:more\s+|fewer\s+)?([A-Za-z]+))")
_ZH_HOW_MANY = re.compile(r"(?:多少|几)([\u4e00-\u9fff]{1,2})")
_DISTANCE = re.compile(r"(?i:\bhow\s+(?:far|tall|high|wide|deep)\b|\bdistance\b|\blength\b)")
_DURATION = re.compile(r"(?i:\bhow\s+long\b[^.?]*\btake|\bhow\s+much\s+time\b|\bhow\s+long\s+will\b)")
_SPEED = re.compile(r"(?i:\bspeed\b|\bhow\s+fast\b|\bvelocity\b)")
_OPTION_MARK = re.compile(r"\\textbf\s*\{\s*\(([A-H])\)\s*\}|\(([A-H])\)"
                          r"|(?<![A-Za-z0-9\\])([A-H])[.)．、:：](?=\s|\$|\\|\d|[\u4e00-\u9fff])")


def _options(prompt: str) -> tuple[tuple[str, str], ...]:
    """The listed options "(A) ... (B) ...", "A. ... B. ...", "\\textbf{(A)} ..." in order, starting at A."""
    marks = [(m.group(1) or m.group(2) or m.group(3), m) for m in _OPTION_MARK.finditer(prompt)]
    chosen: list[tuple[str, re.Match[str]]] = []
    for letter, match in marks:
        if letter == chr(ord("A") + len(chosen)):
            chosen.append((letter, match))
        elif letter == "A":
            chosen = [(letter, match)]  # a later list starts again: the last list counts
    if len(chosen) < 2:
        return ()
    options = []
    for index, (letter, match) in enumerate(chosen):
        end = chosen[index + 1][1].start() if index + 1 < len(chosen) else len(prompt)
        text = re.sub(r"\\q?quad|\\[ ,;]|~", " ", prompt[match.end(): end])
        text = text.split("\n\n")[0].strip().strip("$").strip().rstrip(",;").strip()
        options.append((letter, text))
    return tuple(options)


def _fixed_unit(prompt: str) -> str | None:
    if re.search(r"(?i:\bin\s+degrees\b|\bdegree\s+measure\b|\bhow\s+many\s+degrees\b)|多少度", prompt):
        return "degree"
    if re.search(r"(?i:\bin\s+radians\b|\bradian\s+measure\b)|弧度", prompt):
        return "radian"
    if _PERCENT_ASKED.search(prompt):
        return "percent"
    for pattern in _FIXED_UNIT:
        for match in pattern.finditer(prompt):
            key = unit_key(match.group(1))
            if key is not None:
                return key
    return None


def _wanted(prompt: str, unit: str | None) -> tuple[str, ...]:
    wanted = [unit] if unit and unit not in ("percent", "degree", "radian") else []
    wanted += [m.group(1).lower().rstrip("s") for m in _HOW_MANY_NOUN.finditer(prompt)]
    wanted += [m.group(1) for m in _ZH_HOW_MANY.finditer(prompt)]
    if _DURATION.search(prompt):
        wanted.append("time")
    elif _DISTANCE.search(prompt):
        wanted.append("length")
    if _SPEED.search(prompt):
        wanted.append("speed")
    return tuple(dict.fromkeys(wanted))


# A variable stands in an equation: "2x + y = 5" names x then y; "a hexagon" names none.
_VARIABLE = re.compile(r"(?<![A-Za-z\\])([a-z])(?![A-Za-z(])(?=\s*(?:[-+=*/^<>),]|\\(?:le|ge|cdot)|\$))")


@functools.lru_cache(maxsize=1024)
def read_question(prompt: str) -> Question:
    """What ``prompt`` fixes about the answer (see the module policy)."""
    if not prompt:
        return Question()
    unit = _fixed_unit(prompt)
    form = "fraction" if _FRACTION_ASKED.search(prompt) else "decimal" if _DECIMAL_ASKED.search(prompt) else None
    variables = tuple(dict.fromkeys(_VARIABLE.findall(prompt)))
    words = frozenset(word.lower().rstrip("s") for word in re.findall(r"[A-Za-z]{3,}", prompt))
    return Question(options=_options(prompt), unit=unit, form=form, asks_count=bool(_COUNT.search(prompt)),
                    angle=bool(_ANGLE.search(prompt)) and unit not in ("degree", "radian"),
                    wanted=_wanted(prompt, unit), variables=variables, words=words)


# ---------------------------------------------------------------- numbers written in words

_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}
_DENOMINATORS = {"half": 2, "halve": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6,
                 "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_NUMBER_WORD = "|".join([*_TENS, *sorted(_SMALL, key=len, reverse=True), "hundred", *_SCALES])
_EN_NUMBER = re.compile(
    rf"(?i:(?<![A-Za-z-])(?P<sign>(?:negative|minus)\s+)?(?P<words>(?:{_NUMBER_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*)"
    rf"(?:[\s-]+(?P<den>{'|'.join(_DENOMINATORS)})s?)?(?![A-Za-z]))")


def _english_value(words: str) -> int | None:
    """"three hundred twenty-five" -> 325; ``None`` for a sequence no one writes ("three four")."""
    total = current = 0
    last = ""  # the kind of the previous word: "small", "tens", "hundred", "scale"
    for word in re.split(r"[\s-]+", words.lower()):
        if word == "and":
            continue
        if word in _SMALL:
            if last in ("small",) or (last == "tens" and _SMALL.index(word) >= 10):
                return None
            current += _SMALL.index(word)
            last = "small"
        elif word in _TENS:
            if last in ("small", "tens"):
                return None
            current += 10 * (_TENS.index(word) + 2)
            last = "tens"
        elif word == "hundred":
            if last != "small" or current % 100 == 0 or current >= 100 and current % 1000 // 100:
                return None
            current = current - current % 100 + current % 100 * 100
            last = "hundred"
        else:
            if last not in ("small", "tens", "hundred"):
                return None
            total += current * _SCALES[word]
            current = 0
            last = "scale"
    return total + current


def _english_number(match: re.Match[str]) -> str:
    words, sign, den = match.group("words"), match.group("sign"), match.group("den")
    count = len(re.findall(r"[A-Za-z]+", words)) - words.lower().count(" and ")
    if not sign and not den and count < 2 and not re.search(r"(?i:hundred|thousand|million|billion)", words):
        return match.group(0)  # "one", "seven": left as prose (the comparison reads a whole-answer word)
    value = _english_value(words)
    if value is None:
        return match.group(0)
    text = f"{value}/{_DENOMINATORS[den.lower()]}" if den else str(value)
    return f"-{text}" if sign else text


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_SECTIONS = {"万": 10**4, "亿": 10**8}
_ZH_RUN = "[零〇一二两三四五六七八九十百千万亿]+"
_ZH_NUMBER = re.compile(rf"(?P<pct>百分之)(?P<p>{_ZH_RUN})|(?P<d>{_ZH_RUN})分之(?P<n>{_ZH_RUN})"
                        rf"|(?<!星期)(?<!礼拜)(?<![周第])(?P<sign>负)?(?P<run>[零〇一二两三四五六七八九十]{_ZH_RUN[:-1]}*)")


def chinese_value(run: str) -> int | None:
    """"一百二十" -> 120, "一万" -> 10000, "十五" -> 15, "四百零五" -> 405."""
    total = section = digit = 0
    for char in run:
        if char in _ZH_DIGITS:
            digit = _ZH_DIGITS[char]
        elif char in _ZH_UNITS:
            section += (digit or 1) * _ZH_UNITS[char]
            digit = 0
        elif char in _ZH_SECTIONS:
            total = (total + section + digit) * _ZH_SECTIONS[char]
            section = digit = 0
        else:
            return None
    return total + section + digit


def _chinese_number(match: re.Match[str]) -> str:
    if match.group("pct"):
        value = chinese_value(match.group("p"))
        return match.group(0) if value is None else f"{value}%"
    if match.group("d"):
        numerator, denominator = chinese_value(match.group("n")), chinese_value(match.group("d"))
        return match.group(0) if not numerator or not denominator else f"{numerator}/{denominator}"
    run = match.group("run")
    if not match.group("sign") and (len(run) < 2 or not re.search("[十百千万亿]", run)):
        return match.group(0)  # "一共", "三角形", "两个": words, not numbers
    if run == "十" or (run.endswith("十") and match.string[match.end(): match.end() + 1] == "分"
                      and match.string[match.end() + 1: match.end() + 2] not in ("钟", "之")):
        return match.group(0)  # "十分" is "very"
    value = chinese_value(run)
    if value is None:
        return match.group(0)
    return f"-{value}" if match.group("sign") else str(value)


# A number in words that is more than one small word holds one of these (checked with ``in``, far
# cheaper than a regex over every response).
_EN_TRIGGERS = (*_TENS, "hundred", "thousand", "million", "billion", "negative", "minus", *_DENOMINATORS)
_ZH_TRIGGERS = re.compile("[十百千万亿负分]")


def numbers_in_words_to_digits(text: str) -> str:
    """``text`` with numbers written in words as digits ("three hundred twenty-five" -> "325",
    "一百二十" -> "120", "三分之一" -> "1/3"); single small words stay as they are."""
    if _ZH_TRIGGERS.search(text):
        text = _ZH_NUMBER.sub(_chinese_number, text)
    lower = text.lower()
    if any(word in lower for word in _EN_TRIGGERS):
        text = _EN_NUMBER.sub(_english_number, text)
    return text


# ---------------------------------------------------------------- times, dates, weekdays

_TIME = re.compile(r"(?<![\d:.])(?P<h>\d{1,2})\s*[:：]\s*(?P<m>\d{2})(?::\d{2})?"
                   r"(?:\s*(?P<ampm>(?i:[ap]\.?\s?m\.?|noon|midnight))(?![A-Za-z]))?"
                   r"|(?:(?P<zh>上午|下午|晚上|早上|凌晨|中午))?(?P<zh_h>\d{1,2})\s*点\s*(?:(?P<zh_m>\d{1,2})\s*分|半)?")


def _time_of(match: re.Match[str]) -> tuple[int, int, str | None]:
    if match.group("h") is not None:
        suffix = match.group("ampm")
        marker = None if suffix is None else "p" if suffix.lower().startswith(("p", "noon")) else "a"
        return int(match.group("h")), int(match.group("m")), marker
    minute = int(match.group("zh_m") or (30 if match.group(0).endswith("半") else 0))
    zh = match.group("zh")
    marker = None if zh is None else "p" if zh in ("下午", "晚上", "中午") else "a"
    return int(match.group("zh_h")), minute, marker


@functools.lru_cache(maxsize=4096)
def time_value(text: str) -> tuple[int, int, str | None] | None:
    """A whole answer that is a clock time: (hour, minute, "a"/"p"/None)."""
    match = _TIME.fullmatch(text.strip().rstrip("."))
    return _time_of(match) if match else None


def _clock(hour: int, marker: str | None) -> int:
    if marker == "p" and hour < 12:
        return hour + 12
    if marker == "a" and hour == 12:
        return 0
    return hour


def times_equal(gold: tuple[int, int, str | None], answer: tuple[int, int, str | None]) -> bool:
    """A gold after 12:59 (or at 0:xx) is a 24-hour reading; up to 12:59 without a.m./p.m. it accepts either."""
    (gold_hour, gold_minute, gold_marker), (hour, minute, marker) = gold, answer
    if gold_minute != minute:
        return False
    if gold_marker is None and 1 <= gold_hour <= 12:
        return hour % 12 == gold_hour % 12 and not (marker is None and hour > 12 and gold_hour == 12)
    if marker is None and gold_marker is not None:
        return hour % 12 == gold_hour % 12 and (hour <= 12 or _clock(gold_hour, gold_marker) == hour)
    return _clock(gold_hour, gold_marker) == _clock(hour, marker)


_MONTHS = ("january february march april may june july august september october november december").split()
_MONTH = r"(?P<mon>(?i:" + "|".join(f"{m[:3]}(?:{m[3:]})?" for m in _MONTHS) + r")\.?)"
_DATE = re.compile(
    rf"(?P<iso>(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}}))"
    rf"|{_MONTH}\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<my>\d{{4}}))?(?![\d:])"
    rf"|(?P<dm>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon2>(?i:" + "|".join(f"{m[:3]}(?:{m[3:]})?" for m in _MONTHS)
    + r")\.?)(?:,?\s+(?P<dy>\d{4}))?"
    r"|(?:(?P<zy>\d{4})\s*年\s*)?(?P<zm>\d{1,2})\s*月\s*(?P<zd>\d{1,2})\s*[日号]")


def _date_of(match: re.Match[str]) -> tuple[int | None, int, int]:
    if match.group("iso"):
        return int(match.group("iy")), int(match.group("im")), int(match.group("id"))
    if match.group("mon"):
        month = _month_number(match.group("mon"))
        return (int(match.group("my")) if match.group("my") else None), month, int(match.group("md"))
    if match.group("mon2"):
        month = _month_number(match.group("mon2"))
        return (int(match.group("dy")) if match.group("dy") else None), month, int(match.group("dm"))
    year = match.group("zy")
    return (int(year) if year else None), int(match.group("zm")), int(match.group("zd"))


def _month_number(name: str) -> int:
    return [m[:3] for m in _MONTHS].index(name.lower()[:3]) + 1


@functools.lru_cache(maxsize=4096)
def date_value(text: str) -> tuple[int | None, int, int] | None:
    """A whole answer that is a date: (year or None, month, day)."""
    match = _DATE.fullmatch(text.strip().rstrip("."))
    return _date_of(match) if match else None


def dates_equal(gold: tuple[int | None, int, int], answer: tuple[int | None, int, int]) -> bool:
    same_day = gold[1:] == answer[1:]
    return same_day and (gold[0] is None or answer[0] is None or gold[0] == answer[0])


_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_ZH_WEEKDAY = "一二三四五六日"
_WEEKDAY = re.compile(r"(?i:\b(?P<en>" + "|".join(f"{d[:3]}(?:{d[3:]})?" for d in _WEEKDAYS) + r")\b\.?)"
                      r"|(?:星期|周|礼拜)(?P<zh>[一二三四五六日天])")


def _weekday_of(match: re.Match[str]) -> int:
    if match.group("en"):
        return [d[:3] for d in _WEEKDAYS].index(match.group("en").lower()[:3])
    return _ZH_WEEKDAY.index(match.group("zh").replace("天", "日"))


@functools.lru_cache(maxsize=4096)
def weekday_value(text: str) -> int | None:
    """A whole answer that is a day of the week: 0 (Monday) to 6."""
    match = _WEEKDAY.fullmatch(text.strip().rstrip("."))
    return _weekday_of(match) if match else None


_COPULA_WORD = re.compile(r"(?i:\b(?:is|are|was|were|be|equals?)\b)|是|为|=")
_READERS = {"time": _TIME, "date": _DATE, "weekday": _WEEKDAY}


def stated_token(text: str, kind: str) -> str | None:
    """The time, date or weekday the closing statement names: in the last sentence naming one, the
    first after its last "is" / "是", else the last; ``None`` when it names two joined by "or"."""
    pattern = _READERS[kind]
    for sentence in last_sentences(text, 2):
        found = list(pattern.finditer(sentence))
        if not found:
            continue
        if re.search(r"(?i:\bor\b)|或", sentence[found[0].start():]) and len({m.group(0) for m in found}) > 1:
            return None
        copulas = [c for c in _COPULA_WORD.finditer(sentence) if c.end() <= found[-1].start()]
        after = [m for m in found if copulas and m.start() >= copulas[-1].end()]
        return (after[0] if after else found[-1]).group(0)
    return None


# ---------------------------------------------------------------- text answers

_SYNONYMS = {
    "no solution": ("no solution", "no solutions", "no real solution", "no real solutions", "no real roots",
                    "no real root", "no roots", "no root", "none", "\\emptyset", "\\varnothing", "∅", "\\{\\}",
                    "\\{ \\}", "empty set",
                    "the empty set", "无解", "没有解", "无实数解", "无实根", "没有实数解", "没有实根"),
    "infinitely many": ("infinitely many", "infinitely many solutions", "infinite", "infinitely many roots",
                        "infinitely many values", "infinitely many points", "an infinite number", "\\infty",
                        "无穷多", "无穷多个", "无数", "无数个", "无穷多解", "无数解", "无数组", "无穷多组"),
    "yes": ("yes", "true", "是", "对", "正确", "能", "可以"),
    "no": ("no", "false", "否", "不是", "不能", "错误", "不对", "不可以"),
}
_CANONICAL = {form: key for key, forms in _SYNONYMS.items() for form in forms}
_FILLER = re.compile(r"^(?:(?:the|a|an|always|simply|just|therefore|thus|so|then|indeed|clearly|exactly|precisely)"
                     r"\s+)+")


def normalise_text(text: str, question_words: frozenset[str] = frozenset()) -> str:
    """Lower case, without ``\\text{}``, articles, surrounding marks and a trailing noun the question names."""
    text = re.sub(r"\\(?:text|textbf|textit|mathrm|mbox)\s*\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"[$*_\"“”]|\\[,;!]", " ", text)
    text = " ".join(text.lower().split()).strip(" .。,，!！:：")
    text = _FILLER.sub("", text)
    words = text.split()
    while len(words) > 1 and words[-1].rstrip("s") in question_words and words[-1] not in ("roots", "solutions"):
        words.pop()
    text = " ".join(words)
    if re.search(r"[\u4e00-\u9fff]", text):
        text = re.sub(r"(?<=[\u4e00-\u9fff])(?:个)?(?:解|根|实数解|实根)$", lambda m: m.group(0)
                      if text in _CANONICAL else "", text) or text
    return _CANONICAL.get(text, text)


@functools.lru_cache(maxsize=4096)
def is_text_answer(text: str) -> bool:
    """A gold made of words (no digits, no LaTeX beyond ``\\text{}``), other than one letter."""
    bare = re.sub(r"\\(?:text|textbf|textit|mathrm|mbox)\s*\{([^{}]*)\}", r"\1", text).strip().strip("$").strip()
    if re.search(r"\d|\\(?!emptyset|varnothing)|[=<>^_{}()\[\]]", bare):
        return False
    letters = re.sub(r"[^A-Za-z\u4e00-\u9fff]", "", bare)
    chinese = re.search(r"[\u4e00-\u9fff]", bare)
    if not chinese and all(word in NUMBER_WORDS for word in re.findall(r"[a-z]+", bare.lower())):
        return False  # "\\text{twenty}" is the number 20
    return len(letters) >= 2 and not re.fullmatch(r"[a-z]{2}", letters)


_TEXT_COPULA = re.compile(r"(?i:\b(?:is|are|was|were|has|have|be|becomes|get|gets)\b)|(?:是|为|有)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*|\n+|[；;]")


_TAIL = 4000


def last_sentences(text: str, count: int = 3) -> list[str]:
    """The last ``count`` non-empty sentences of ``text``, last first."""
    text = text[-_TAIL:]  # a closing statement is short: read only the end of a long response
    pieces = [s.strip() for s in _SENTENCE.split(re.sub(r"(?<=\d)\.(?=\d)", "\ue001", text)) if s.strip()]
    return [s.replace("\ue001", ".") for s in reversed(pieces[-count:])]


def synonyms(gold: str) -> tuple[str, ...]:
    """The gold's text and every synonym a grader accepts for it."""
    canonical = normalise_text(gold)
    return (canonical, *_SYNONYMS.get(canonical, ()))


#: Every Chinese synonym: a clause without a copula that ends in one states it ("所以方程无解").
ZH_SYNONYMS = tuple(form for forms in _SYNONYMS.values() for form in forms if re.search(r"[\u4e00-\u9fff]", form)
                    and len(form) > 1)


def stated_text(text: str, question_words: frozenset[str] = frozenset(), expected: tuple[str, ...] = (),
                *, copula: bool = False) -> str | None:
    """The words the closing sentence states: what follows its last "is" / "has" / "是" / "有", whole
    (normalised), or the sentence itself when it is a few words; ``None`` when it states none. A
    Chinese clause without a copula ("所以方程无解") states one of ``expected`` when it ends in it."""
    for sentence in last_sentences(text, 1):
        cut = max(sentence.rfind(mark) for mark in ",，:：")
        clause = sentence[cut + 1:] if cut >= 0 else sentence
        copulas = list(_TEXT_COPULA.finditer(clause))
        if copula and not copulas and not any(clause.rstrip("。.!！").endswith(form) for form in expected):
            return None
        value = (clause[copulas[-1].end():] if copulas else clause).strip().strip("。.!！")
        if re.match(r"\s*(?i:not\b|never\b)|\s*不", value):
            return None
        if not copulas and re.search(r"[\u4e00-\u9fff]", value):
            ending = next((form for form in expected if re.search(r"[\u4e00-\u9fff]", form)
                           and value.endswith(form)), None)
            before = value[: len(value) - len(ending)] if ending else ""
            return normalise_text(ending) if ending and not re.search(r"[不没非未]$", before) else None
        return normalise_text(value, question_words) if value and len(value.split()) <= 6 else None
    return None


# ---------------------------------------------------------------- systems and solution lists

_ASSIGNMENT = re.compile(r"(?<![A-Za-z\\_])(?P<var>[a-z])\s*=\s*"
                         r"(?P<value>[-+\u2212]?\s*(?:\\[dt]?frac\{[^{}]*\}\{[^{}]*\}|"
                         r"\\sqrt\{[^{}]*\}|\d+(?:\.\d+)?(?:\s*/\s*\d+)?|\\pi)(?:\s*[-+]\s*(?:\\sqrt\{[^{}]*\}|\d+(?:\.\d+)?))?)"
                         r"(?=\s*(?:$|[,;，；。、$\n]|\.(?:\s|$)|\s+(?:and|or|y|和|或)\b|\s*\\?[)\]]?\s*(?:and|or)?\s*\$))")
_JOINER = re.compile(r"[\s,;，；、$]*(?:(?:and|or|和|或|且)[\s$]*)?(?:\\quad|\\text\{[^{}]*\}|\s)*[\s,;$]*")


def assignments(text: str, variables: tuple[str, ...] = ()) -> str | None:
    """The closing run of assignments as one answer: "x = 2, y = -1" -> "(2, -1)" (the question's
    variable order, else alphabetical); "x = 2 or x = -3" -> "2, -3". ``None`` without such a run."""
    text = text.replace("\u2212", "-")
    found = list(_ASSIGNMENT.finditer(text[-600:]))
    if len(found) < 2:
        return None
    tail = text[-600:]
    run = [found[-1]]
    for before in reversed(found[:-1]):
        if not _JOINER.fullmatch(tail[before.end(): run[0].start()]):
            break
        run.insert(0, before)
    if len(run) < 2 or tail[run[-1].end():].strip(" .。\n$").strip():
        return None
    names = [m.group("var") for m in run]
    values = [re.sub(r"\s+", "", m.group("value")) for m in run]
    if len(set(names)) == 1:
        return ", ".join(values)
    if len(set(names)) != len(names):
        return None
    order = [v for v in variables if v in names] or sorted(names)
    if len(order) != len(names):
        order = sorted(names)
    chosen = dict(zip(names, values, strict=True))
    return "(" + ", ".join(chosen[name] for name in order) + ")"


# ---------------------------------------------------------------- several quantities in one sentence

_QUANTITY = re.compile(r"(?<![\w.,])(?P<num>-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)(?![\d,]*\d)"
                       r"\s*(?:\\text\{\s*)?(?P<word>[A-Za-z]+(?:/[A-Za-z]+)?|[\u4e00-\u9fff]{1,2})?")


def _matches_wanted(word: str, wanted: tuple[str, ...]) -> bool:
    key = unit_key(word)
    if key is None:
        key = next((v for k, v in ZH_UNITS.items() if word.startswith(k)), None)
    lower = word.lower().rstrip("s")
    for want in wanted:
        if key is not None and want in (key, _DIMENSION_OF.get(key)):
            return True
        if want == lower or (re.match(r"[\u4e00-\u9fff]", want) and word.startswith(want)):
            return True
    return False


def wanted_quantity(text: str, question: Question) -> tuple[str, str] | None:
    """In a closing sentence naming several quantities, the one the question asks for, and its word:
    ("6,000,000", "km") of "It covers 6,000,000 km in 20 seconds." on a "how far" question."""
    if not question.wanted:
        return None
    for sentence in last_sentences(text, 1):
        found = [m for m in _QUANTITY.finditer(sentence.replace("$", " ")) if m.group("word")]
        values = {m.group("num") for m in _QUANTITY.finditer(sentence.replace("$", " "))}
        if len(values) < 2:
            return None
        matching = [m for m in found if _matches_wanted(m.group("word"), question.wanted)]
        if not matching:
            return None
        last = matching[-1]
        return last.group("num"), last.group("word")
    return None

"""`transcript_accuracy`: 1 - CER or 1 - WER of a transcript (OCR, document parsing, speech recognition).

The policy, stated before the code:
- Both texts go through the same normalisation, each step an option: Unicode NFC; case folded
  (`ignore_case`); punctuation (Unicode P*) read as a space, apostrophes inside a word dropped ("don't" is
  "dont"), a decimal point or comma between digits kept (`ignore_punctuation`); number words and thousands
  separators to digits (`numbers="digits"`: "twenty-one" is "21", "1,000" is "1000"); whitespace runs one
  space, or none at all for CER (`whitespace="remove"`: text where spaces carry nothing, Chinese OCR).
- Nothing is deleted for its position: text in brackets, parentheses or tags counts like any other text.
  Normalisers built for scoring speech benchmarks drop "[...]" and "(...)" spans as annotations (jiwer's
  RemoveKaldiNonWords, Whisper's EnglishTextNormalizer), so a transcript could hide any amount of wrong
  text in brackets, or drop a bracketed part of the gold, at no cost; here the brackets go, their text stays.
- WER's words: whitespace-separated, each CJK ideograph or kana one word (Chinese and Japanese have no
  spaces; scoring them per character is the usual practice).
- Edits are Levenshtein distance (rapidfuzz, the `transcript` extra); the error rate is edits / gold length
  and can pass 1 (a long wrong transcript): the score is 1 - rate clamped to [0, 1]. An empty gold scores
  1.0 for an empty transcript, else 0.0.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal, get_args

from rewardkit import InvalidReferenceError, Score, reward

from ..common import answer_block, strip_thinking
from ..common.options import require_choice

Metric = Literal["cer", "wer"]
Whitespace = Literal["collapse", "remove"]
Numbers = Literal["keep", "digits"]

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORDS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_APOSTROPHE = re.compile(r"(?<=\w)['\u2019](?=\w)")
_BETWEEN_DIGITS = re.compile(r"(?<=\d)[.,](?=\d)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")

_ONES = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                    "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORD = "|".join(sorted([*_ONES, *_TENS, *_SCALES], key=len, reverse=True))
_NUMBER_RUN = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*\b", re.I)


@dataclass(frozen=True)
class Normalisation:
    """The normalisation both texts go through; one value per option of the reward."""

    ignore_case: bool = True
    ignore_punctuation: bool = True
    whitespace: Whitespace = "collapse"
    numbers: Numbers = "keep"


def _number(run: str) -> str:
    total = current = 0
    for word in re.split(r"[\s-]+", run.lower()):
        if word == "and":
            continue
        if word in _ONES:
            current += _ONES[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return str(total + current)


def _digits(text: str) -> str:
    text = "".join(str(unicodedata.digit(c)) if c.isdigit() and not c.isascii() else c for c in text)
    text = _THOUSANDS.sub("", text)
    return _NUMBER_RUN.sub(lambda m: _number(m.group(0)), text)


def _no_punctuation(text: str) -> str:
    text = _APOSTROPHE.sub("", text)
    kept = _BETWEEN_DIGITS.sub(lambda m: "\0" if m.group(0) == "." else "\1", text)
    spaced = "".join(" " if unicodedata.category(c).startswith("P") else c for c in kept)
    return spaced.replace("\0", ".").replace("\1", ",")


def normalise(text: str, rules: Normalisation) -> str:
    """`text` as the error rate compares it."""
    text = unicodedata.normalize("NFC", text)
    if rules.ignore_case:
        text = text.casefold()
    if rules.numbers == "digits":
        text = _digits(text)
    if rules.ignore_punctuation:
        text = _no_punctuation(text)
    return " ".join(text.split())


def units(text: str, metric: str, rules: Normalisation) -> list[str] | str:
    """What is counted: the characters (CER) or the words (WER) of the normalised text."""
    if metric == "wer":
        return _WORDS.findall(text)
    return text.replace(" ", "") if rules.whitespace == "remove" else text


def _levenshtein() -> Any:
    from rapidfuzz.distance import Levenshtein  # a dependency of rewardkit, imported on the first call

    return Levenshtein


def _golds(reference: Any) -> list[str]:
    if isinstance(reference, str) and reference.lstrip().startswith("["):  # Vertex references are text: a JSON list
        try:
            decoded = json.loads(reference)
        except ValueError:
            decoded = None
        if isinstance(decoded, list) and decoded and all(isinstance(g, str) for g in decoded):
            reference = decoded
    golds = reference if isinstance(reference, list) else [reference]
    if not golds or not all(isinstance(g, (str, int, float)) and not isinstance(g, bool) for g in golds):
        raise InvalidReferenceError(f"the gold transcript must be text (or a list of acceptable texts), got "
                                    f"{type(reference).__name__}")
    return [str(g) for g in golds]


@reward(score_range=(0.0, 1.0), metrics=("error_rate", "edits", "reference_units"))
def transcript_accuracy(
    response: str,
    reference: Any,
    metric: Metric = "cer",
    ignore_case: bool = True,
    ignore_punctuation: bool = True,
    whitespace: Whitespace = "collapse",
    numbers: Numbers = "keep",
) -> Score:
    """1 - the character (or word) error rate of the transcript against the gold, clamped to [0, 1].

    For OCR, document parsing and speech recognition. The transcript is the response after its reasoning
    (`<think>` blocks), or the last `<answer>...</answer>` when there is one. Gold: the usual keys
    (Vertex `references.answer`, DashScope `ground_truth` or `rollout_extra.solution`); a list of texts
    (or its JSON text, as Vertex references carry it) is several acceptable transcripts (the best counts).
    Text in brackets counts like any other text.

    Parameters:
        metric: "cer" (characters, default) or "wer" (words; each CJK character is a word).
        ignore_case: fold case before comparing (True).
        ignore_punctuation: read punctuation as a space (True); apostrophes inside words and a point or
            comma between digits are kept as described in docs/builtin-rewards.md.
        whitespace: "collapse" runs of whitespace to one space (default) or, for CER, "remove" them.
        numbers: "keep" (default) or "digits": number words ("twenty-one") and "1,000" become digits.
    """
    require_choice("metric", metric, get_args(Metric))
    require_choice("whitespace", whitespace, get_args(Whitespace))
    require_choice("numbers", numbers, get_args(Numbers))
    rules = Normalisation(bool(ignore_case), bool(ignore_punctuation), whitespace, numbers)
    said = units(normalise(answer_block(strip_thinking(response)), rules), metric, rules)
    best: Score | None = None
    for gold in _golds(reference):
        score = _rate(said, units(normalise(gold, rules), metric, rules), metric)
        if best is None or score.value > best.value:
            best = score
    assert best is not None  # _golds returns at least one
    return best


def _rate(said: list[str] | str, gold: list[str] | str, metric: str) -> Score:
    name = metric.upper()
    if not gold:
        value = float(not said)
        return Score(value, "empty gold: " + ("empty transcript" if not said else "the transcript is not empty"),
                     {"error_rate": 1.0 - value, "edits": float(len(said)), "reference_units": 0.0})
    edits = _levenshtein().distance(said, gold)
    rate = edits / len(gold)
    unit = "words" if metric == "wer" else "characters"
    return Score(max(0.0, 1.0 - rate), f"{name} {rate:.3f}: {edits} edit(s) over {len(gold)} gold {unit}",
                 {"error_rate": rate, "edits": float(edits), "reference_units": float(len(gold))})

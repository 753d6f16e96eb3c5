"""Math answer rewards: the final answer of a response against the gold answer.

`math_accuracy` compares mathematically (math-verify and sympy); `gsm8k_accuracy` compares one
final number exactly, with the standard library only.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any, Callable

from rewardkit import Score, parsed_reward
from rewardkit.parsers import ParseError, Parser

from ._answers import (
    Extraction,
    extract_choice,
    extract_final_answer,
    extract_gsm8k_number,
    gold_answer,
    remove_prompt_echo,
    split_top_level,
    visible_text,
)
from ._equivalence import Verdict, answers_equivalent, parts_equivalent
from ._forms import (
    ZH_SYNONYMS,
    Question,
    assignments,
    date_value,
    is_text_answer,
    numbers_in_words_to_digits,
    read_question,
    stated_text,
    stated_token,
    synonyms,
    time_value,
    wanted_quantity,
    weekday_value,
)


class _Read(str):
    """The parser's answer as text, carrying the whole extraction so the reward need not read twice."""

    extraction: Extraction


def _read_answer(text: str, prompt: str = "") -> Extraction:
    """The final answer; without one, the words a closing "X is Y" sentence states ("so there are
    no real solutions", "方程组有无穷多个解"), which the comparison takes whole."""
    extraction = extract_final_answer(text, allow_last_number=True, prompt=prompt)
    if extraction.answer is not None or extraction.parts or extraction.source != "none":
        return extraction
    words = stated_text(numbers_in_words_to_digits(visible_text(text, prompt)), expected=ZH_SYNONYMS, copula=True)
    if words and not re.search(r"\d", words):
        return Extraction(words, "stated_text", "the words the closing sentence states")
    chosen = extract_choice(text, "ABCDEFGH", prompt=prompt)  # "故选 C": an option, for a gold letter
    return chosen if chosen.answer is not None else extraction


def _final_answer(text: str) -> str:
    extraction = _read_answer(text)
    if extraction.answer is None and not extraction.parts:
        raise ParseError(extraction.reason)
    # Several boxed parts show as "3; 5": the reward compares them with the gold's parts.
    read = _Read(extraction.answer if extraction.answer is not None else "; ".join(extraction.parts))
    read.extraction = extraction
    return read


#: The final answer of a response: the last \\boxed{}, else the value after the last answer phrase,
#: else the response as one expression, else the value its closing sentence states.
final_answer = Parser("final_answer", _final_answer)


def _beyond_echo(parsed: str, response: str, prompt: str, extract: Callable[..., Extraction]) -> Extraction:
    """The parser's answer, or, when the response repeats the prompt, the answer read without that echo.

    The parser sees only the response; a number found only in the repeated question earns nothing.
    """
    if not prompt or remove_prompt_echo(response, prompt) == response:
        return Extraction(parsed, "parser", "")
    return extract(response, prompt=prompt)


def _timeout(seconds: int) -> int | None:
    # math-verify's own timeouts use signal.alarm, which works only in a main thread. Elsewhere
    # (a test client's thread) they are off, and rewardkit's worker timeout is the guard.
    return seconds if threading.current_thread() is threading.main_thread() else None


@parsed_reward(final_answer, reference_keys=("answer", "solution"), preload=("math_verify", "sympy"))
def math_accuracy(parsed: str, reference: Any, response: str = "", prompt: str = "", timeout_seconds: int = 5) -> Score:
    """1.0 when the response's final answer is mathematically equivalent to the gold answer, else 0.0.

    Final answer: the last \\boxed{...}; else the value after the last
    answer phrase ("the answer is", "Final Answer:", "####", "答案是"...);
    else the whole response when it is one expression; else the value the
    closing sentence states ("the area is $9\\pi$"), read whole, never one
    digit of it. Text in <think> blocks and code blocks never counts, nor
    does the prompt repeated in the response; several different boxed
    answers (unless the gold has as many parts) or a list of candidates
    get 0 (docs/math.md has the policy). Comparison: math-verify and sympy,
    after normalising LaTeX, units and separators. Gold: DashScope
    `ground_truth`, else Vertex `references.answer` / DashScope
    `rollout_extra.solution`; a MATH solution counts by its last box, a
    GSM8K solution by its `#### X`. With the prompt it also reads the forms
    datasets use (docs/math.md, "Answer forms"): an option letter or the
    option's text, text with synonyms, times, dates, weekdays, numbers in
    words, a system's assignments, the quantity the question asks for, and
    the unit or form the question fixes.

    Parameters:
        timeout_seconds: math-verify's parse/compare time limit (default 5).
    """
    gold = gold_answer(str(reference))
    question = read_question(prompt)
    timeout = _timeout(timeout_seconds)
    letter = _choice_gold(gold, question)
    if letter is not None:
        return _choice_score(letter, response or str(parsed), prompt, question, timeout)
    answer = getattr(parsed, "extraction", None)
    if answer is None or prompt:
        # A direct call passes the text itself; the parser saw only the response, and the prompt
        # (its echo, the quantity it asks for) may change the reading.
        answer = _read_answer(response or str(parsed), prompt)
    text = response or str(parsed)
    taken = ""
    if question.wanted and answer.source == "closing_sentence":
        chosen = _asked_quantity(answer, _readable(text, prompt), question)
        taken, answer = ("" if chosen is answer else f"{chosen.reason}; "), chosen
    if answer.parts:
        verdict = parts_equivalent(gold, answer.parts, timeout_seconds=timeout)
    elif answer.answer is None:
        verdict = Verdict(False, answer.reason)
    else:
        verdict = answers_equivalent(gold, answer.answer, timeout_seconds=timeout, question=question)
    if not verdict.equivalent and answer.source != "boxed":
        verdict = _form_reading(gold, text, prompt, question, timeout) or verdict
    return Score(1.0 if verdict.equivalent else 0.0, taken + verdict.reason)


def _readable(text: str, prompt: str) -> str:
    """What the form readers read: the visible response, numbers in words as digits."""
    return numbers_in_words_to_digits(visible_text(text, prompt))


def _asked_quantity(answer: Extraction, visible: str, question: Question) -> Extraction:
    """A closing sentence naming several quantities states the one the question asks for."""
    if answer.answer is None or not question.wanted:
        return answer
    found = wanted_quantity(visible, question)
    if found is None:
        return answer
    number, word = found
    value = number
    if value == answer.answer:
        return answer
    return Extraction(value, "closing_sentence",
                      f"took {number} {word}: the question asks for {', '.join(question.wanted)}")


def _form_reading(gold: str, text: str, prompt: str, question: Question, timeout: int | None) -> Verdict | None:
    """The answer read in the gold's own form when the plain reading missed it: a system's
    assignments, a time, a date, a weekday, a text answer. Credit only; ``None`` when no such reading
    matches."""
    kind = _gold_form(gold, question.asks_count)
    if kind is None:
        return None
    reading = _read_as_gold(gold, kind, _readable(text, prompt), question)
    if reading is None:
        return None
    verdict = answers_equivalent(gold, reading, timeout_seconds=timeout, question=question)
    if not verdict.equivalent:
        return None
    return Verdict(True, f"read in the gold's form as {reading!r}: {verdict.reason}")


@functools.lru_cache(maxsize=1024)
def _gold_form(gold: str, asks_count: bool = False) -> str | None:
    """The form a gold is written in, for reading a response in that form: "list" (a tuple, set or
    several values), "time", "date", "weekday", "text", "none" (a 0 on a how-many question), else ``None``."""
    bare = gold.strip().strip("$")
    if len(split_top_level(re.sub(r"^\\?[({\[]|\\?[)}\]]$", "", bare))) > 1:
        return "list"
    for reader, kind in ((time_value, "time"), (date_value, "date"), (weekday_value, "weekday")):
        if reader(bare) is not None:
            return kind
    if is_text_answer(gold):
        return "text"
    return "none" if asks_count and bare == "0" else None


def _read_as_gold(gold: str, kind: str, visible: str, question: Question) -> str | None:
    if kind == "list":
        return assignments(visible, question.variables)
    if kind in ("time", "date", "weekday"):
        return stated_token(visible, kind)
    return stated_text(visible, question.words, synonyms("no solution" if kind == "none" else gold))


# "B", "(B)", "\text{(B)}", "\textbf{B.}": a gold naming an option.
_CHOICE_GOLD = re.compile(r"\s*(?:\\text(?:bf)?\s*\{\s*)?(?P<paren>\()?\s*(?P<letter>[A-H])\s*\)?\s*[.:]?\s*\}?"
                          r"\s*[.:]?\s*")


def _choice_gold(gold: str, question: Question) -> str | None:
    """The option letter the gold names: any letter form when the prompt lists options, else only
    the marked forms "(B)" and "\\text{(B)}" (a bare "B" may be a variable or a point)."""
    match = _CHOICE_GOLD.fullmatch(gold)
    if match is None:
        return None
    letter = match.group("letter")
    if question.options:
        return letter if letter in dict(question.options) else None
    return letter if match.group("paren") else None


def _choice_score(letter: str, response: str, prompt: str, question: Question, timeout: int | None) -> Score:
    """The response's option against the gold letter: its letter in any common form, else the option
    whose text its final answer is (only when the prompt lists the options)."""
    letters = "".join(dict(question.options)) or "ABCDE"
    chosen = extract_choice(response, letters, prompt=prompt)
    if chosen.answer is None and question.options and "several" not in chosen.reason \
            and "list of options" not in chosen.reason:
        chosen = _option_by_text(response, prompt, question, timeout) or chosen
    if chosen.answer is None:
        return Score(0.0, chosen.reason)
    if chosen.answer == letter:
        return Score(1.0, f"chose {letter} ({chosen.reason})")
    return Score(0.0, f"chose {chosen.answer} ({chosen.reason}); the gold answer is {letter}")


def _option_by_text(response: str, prompt: str, question: Question, timeout: int | None) -> Extraction | None:
    answer = extract_final_answer(response, allow_last_number=True, prompt=prompt)
    if answer.answer is None:
        return None
    matches = [letter for letter, text in question.options
               if text and answers_equivalent(text, answer.answer, timeout_seconds=timeout).equivalent]
    if len(matches) != 1:
        return None
    return Extraction(matches[0], "option_text",
                      f"the final answer {answer.answer!r} is the text of option {matches[0]}")


def _gsm8k_number(text: str) -> str:
    extraction = extract_gsm8k_number(text)
    if extraction.answer is None:
        raise ParseError(extraction.reason)
    return extraction.answer


#: The final number of a response, normalised ("1,000" -> "1000", "$18.00" -> "18", "\\frac{3}{4}" -> "0.75").
gsm8k_number = Parser("gsm8k_number", _gsm8k_number)


@parsed_reward(gsm8k_number, reference_keys=("answer", "solution"))
def gsm8k_accuracy(parsed: str, reference: Any, response: str = "", prompt: str = "") -> Score:
    """1.0 when the response's final number equals the gold number exactly, else 0.0.

    Final number: the last `#### X` line; else the last \\boxed{...}; else
    the value after the last answer phrase ("the answer is", "答案是"...);
    else the response as one expression or the number its closing
    sentence states (never a step label, an exponent or a year). Separators,
    currency, units and trailing zeros are normalised ("$1,000.00 dollars"
    is 1000); fractions compare by value. Thinking and code blocks never
    count, nor does the prompt repeated in the response; an answer holding
    several different numbers, a list of values, hedging ("5 or 6"), or
    look-alike digits gets 0 (rewards/math/_answers.py has the policy). Gold:
    a GSM8K solution ending in `#### X`, or the number itself, in DashScope
    `ground_truth`, Vertex `references.answer` or DashScope
    `rollout_extra.solution`. No sympy: cheap enough for any worker.
    """
    gold_text = str(reference)
    gold = extract_gsm8k_number(gold_text)
    if gold.answer is None:
        raise ValueError(f"gsm8k_accuracy: the gold answer {gold_text[:80]!r} holds no single number ({gold.reason})")
    answer = _beyond_echo(parsed, response, prompt, extract_gsm8k_number)
    if answer.answer is None:
        return Score(0.0, f"without the prompt's echo: {answer.reason}")
    if answer.answer == gold.answer:
        return Score(1.0, f"final number {answer.answer} equals the gold number")
    return Score(0.0, f"final number {answer.answer} is not the gold number {gold.answer}")

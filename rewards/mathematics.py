"""Math answer rewards: the final answer of a response against the gold answer.

`math_accuracy` compares mathematically (math-verify and sympy); `gsm8k_accuracy` compares one
final number exactly, with the standard library only.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from rewardkit import Score, parsed_reward
from rewardkit.parsers import ParseError, Parser

from ._answers import Extraction, extract_final_answer, extract_gsm8k_number, gold_answer, remove_prompt_echo
from ._equivalence import answers_equivalent, parts_equivalent


class _Read(str):
    """The parser's answer as text, carrying the whole extraction so the reward need not read twice."""

    extraction: Extraction


def _final_answer(text: str) -> str:
    extraction = extract_final_answer(text, allow_last_number=True)
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
    GSM8K solution by its `#### X`.

    Parameters:
        timeout_seconds: math-verify's parse/compare time limit (default 5).
    """
    gold = gold_answer(str(reference))
    answer = getattr(parsed, "extraction", None)
    if answer is None or (prompt and remove_prompt_echo(response, prompt) != response):
        # A direct call passes the text itself; the parser saw only the response, and without the
        # prompt's echo the answer may differ.
        answer = extract_final_answer(response or str(parsed), allow_last_number=True, prompt=prompt)
    timeout = _timeout(timeout_seconds)
    if answer.parts:
        verdict = parts_equivalent(gold, answer.parts, timeout_seconds=timeout)
    elif answer.answer is None:
        return Score(0.0, answer.reason)
    else:
        verdict = answers_equivalent(gold, answer.answer, timeout_seconds=timeout)
    return Score(1.0 if verdict.equivalent else 0.0, verdict.reason)


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
    look-alike digits gets 0 (rewards/_answers.py has the policy). Gold:
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

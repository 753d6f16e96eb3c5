"""Math answer rewards: the final answer of a response against the gold answer."""

from __future__ import annotations

import threading
from typing import Any

from rewardkit import Score, parsed_reward
from rewardkit.parsers import ParseError, Parser

from ._answers import extract_final_answer
from ._equivalence import answers_equivalent
from ._gold import require_gold


def _final_answer(text: str) -> str:
    extraction = extract_final_answer(text, allow_last_number=True)
    if extraction.answer is None:
        raise ParseError(extraction.reason)
    return extraction.answer


#: The final answer of a response: last \\boxed{}, else "the answer is ...", else the last number.
final_answer = Parser("final_answer", _final_answer)


def _timeout(seconds: int) -> int | None:
    # math-verify's own timeouts use signal.alarm, which works only in a main thread. Elsewhere
    # (a test client's thread) they are off, and rewardkit's worker timeout is the guard.
    return seconds if threading.current_thread() is threading.main_thread() else None


@parsed_reward(final_answer, reference_keys=("answer", "solution"), preload=("math_verify", "sympy"))
def math_accuracy(parsed: str, reference: Any, timeout_seconds: int = 5) -> Score:
    """1.0 when the response's final answer is mathematically equivalent to the gold answer, else 0.0.

    Final answer: the last \\boxed{...}; else the last "the answer is ..."
    phrase; else the last number. Text in <think> blocks and code blocks
    never counts, and several different boxed answers or a list of
    candidates get 0 (see rewards/_answers.py for the policy). Comparison:
    math-verify and sympy, after normalising LaTeX, units and separators.
    Gold: DashScope `ground_truth`, else Vertex `references.answer` /
    DashScope `rollout_extra.solution`.

    Parameters:
        timeout_seconds: math-verify's parse/compare time limit (default 5).
    """
    gold = str(require_gold(reference, "math_accuracy"))
    verdict = answers_equivalent(gold, parsed, timeout_seconds=_timeout(timeout_seconds))
    return Score(1.0 if verdict.equivalent else 0.0, verdict.reason)

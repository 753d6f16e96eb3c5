"""Multiple-choice reward: the chosen letter against the gold letter."""

from __future__ import annotations

import re
from typing import Any

from rewardkit import Score, reward

from ..common.options import OptionError
from ._answers import extract_choice

_GOLD = re.compile(r"\s*\(?\s*([A-Za-z])\s*\)?\s*[.:]?\s*")


def _check_options(choices: str, **_: Any) -> None:
    """choices must be distinct ASCII letters (a rule no type states; the types are in the signature)."""
    letters = choices.upper()
    if not letters or not letters.isalpha() or not letters.isascii() or len(set(letters)) != len(letters):
        raise OptionError(f"multiple_choice: choices must be distinct letters such as 'ABCDE', got {choices!r}")


def _gold_letter(reference: Any, choices: str) -> str:
    """The gold letter: "B", "(b)", "B." or "B) Paris"; anything else is a dataset error, not a zero."""
    text = str(reference).strip()
    match = _GOLD.fullmatch(text) or re.match(r"\(?([A-Za-z])\)\s", text)
    letter = match.group(1).upper() if match else None
    if letter is None or letter not in choices.upper():
        raise ValueError(f"multiple_choice: the gold answer {text[:80]!r} is not one of the choices "
                         f"{', '.join(choices.upper())}")
    return letter


@reward(reference_keys=("answer", "solution"), check_options=_check_options)
def multiple_choice(response: str, reference: Any, prompt: str = "", choices: str = "ABCD",
                    allow_last_letter: bool = False) -> Score:
    """1.0 when the chosen letter is the gold letter, else 0.0 with the reason.

    The chosen letter: a boxed letter (\\boxed{B}); else the last "the answer
    is (B)" / "Answer: B" / "答案是 B" / "故选 B" phrase; else a marker in the final line
    ("**B**", "B) ...", a bare "B"); else, only with `allow_last_letter`, the
    last standalone choice letter. Letters count in upper case only, so "the
    answer is a number" names no choice. Several different letters in the
    final statement or in boxes get 0, as do a final line that ends a list
    of the options, thinking, code blocks and the prompt repeated in the
    response. Gold:
    "B", "(b)" or "B) text", in DashScope `ground_truth`, Vertex
    `references.answer` or DashScope `rollout_extra.solution`.

    Parameters:
        choices: the letters of the options (default "ABCD").
        allow_last_letter: fall back to the last standalone letter (default False).
    """
    gold = _gold_letter(reference, choices)
    chosen = extract_choice(response, choices, allow_last_letter=allow_last_letter, prompt=prompt)
    if chosen.answer is None:
        return Score(0.0, chosen.reason)
    if chosen.answer == gold:
        return Score(1.0, f"chose {gold} ({chosen.reason})")
    return Score(0.0, f"chose {chosen.answer} ({chosen.reason}); the gold answer is {gold}")

"""math_accuracy on the answer forms real datasets use (tests/data/math_forms.jsonl).

The set is hand-written whole responses, each with its prompt, in ten classes; the "heldout" split
was written before the reward was changed to read these forms and is not tuned on. The bench
(bench/math_equivalence.py) reports the same figures beside plain math-verify.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

import pytest

from rewardkit.testing import score
from rewards import math_accuracy
from rewards.math._forms import numbers_in_words_to_digits, read_question

from .conftest import REPO

FORMS = REPO / "tests" / "data" / "math_forms.jsonl"
CLASSES = ("choice", "text", "datetime", "number_words", "notation", "systems", "aside", "several_quantities",
           "small_numbers", "fixed_unit")


@dataclass(frozen=True)
class Result:
    category: str
    split: str
    expected: bool
    credited: bool
    reason: str


@cache
def results() -> tuple[Result, ...]:
    out = []
    with open(FORMS, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            outcome = score(math_accuracy, row["response"], row["gold"], prompt=row["prompt"])
            assert outcome.failure is None, (row, outcome.failure)
            out.append(Result(row["category"], row["split"], row["equivalent"], outcome.score.value == 1.0,
                              outcome.score.reason))
    return tuple(out)


def _by_class(split: str) -> dict[str, list[Result]]:
    grouped: dict[str, list[Result]] = defaultdict(list)
    for result in results():
        if result.split == split:
            grouped[result.category].append(result)
    return grouped


@pytest.mark.parametrize("split", ["tune", "heldout"])
def test_every_class_has_right_and_wrong_cases_in_both_splits(split: str) -> None:
    grouped = _by_class(split)
    assert set(grouped) == set(CLASSES)
    for category, cases in grouped.items():
        assert len(cases) >= 8, category
        assert {case.expected for case in cases} == {True, False}, category


@pytest.mark.parametrize("split", ["tune", "heldout"])
def test_no_class_scores_below_0_9(split: str) -> None:
    for category, cases in _by_class(split).items():
        right = sum(case.credited == case.expected for case in cases)
        errors = [(case.expected, case.reason) for case in cases if case.credited != case.expected]
        assert right / len(cases) >= 0.9, (category, errors)


def test_the_heldout_split_scores_at_least_0_97_with_at_most_1_percent_false_positives() -> None:
    cases = [case for case in results() if case.split == "heldout"]
    negatives = [case for case in cases if not case.expected]
    accuracy = sum(case.credited == case.expected for case in cases) / len(cases)
    false_positive_rate = sum(case.credited for case in negatives) / len(negatives)
    assert accuracy >= 0.97
    assert false_positive_rate <= 0.01


@pytest.mark.parametrize(("text", "expected"), [
    ("three hundred twenty-five", "325"),
    ("one thousand and two", "1002"),
    ("negative three", "-3"),
    ("three quarters", "3/4"),
    ("一百二十种", "120种"),
    ("四百零五", "405"),
    ("负二", "-2"),
    ("三分之一", "1/3"),
    ("百分之二十", "20%"),
    ("one of them", "one of them"),  # a single small word is prose
    ("一共有", "一共有"),
    ("十分重要", "十分重要"),  # "very", not ten
])
def test_numbers_in_words_become_digits(text: str, expected: str) -> None:
    assert numbers_in_words_to_digits(text) == expected


def test_the_question_fixes_units_forms_and_names_its_options() -> None:
    assert read_question("A trip takes 1.5 hours. How many minutes is that?").unit == "minute"
    assert read_question("What percent of the students are girls?").unit == "percent"
    assert read_question("Express your answer as a common fraction.").form == "fraction"
    assert read_question("How long does the trip take?").unit is None
    assert read_question("一辆车行驶了2小时，合多少分钟？").unit == "minute"
    assert read_question("Find the angle, in degrees, between u and v.").unit == "degree"
    assert read_question("Find the angle between u and v.").angle
    options = read_question("What is 7 x 8?\n(A) 54\n(B) 56\n(C) 58\n(D) 64").options
    assert options == (("A", "54"), ("B", "56"), ("C", "58"), ("D", "64"))
    assert read_question("Solve $2x + y = 5$ and $x - y = 1$.").variables == ("x", "y")


@pytest.mark.parametrize(("prompt", "gold", "response", "expected", "reason"), [
    ("A car drives 150 km in 3 hours. How far does it drive?", "150", "It drives 150 km in 3 hours.", 1.0,
     "took 150 km: the question asks for length"),
    ("How many minutes does the trip take?", "90 minutes", "The trip takes 1.5 hours.", 0.0,
     "the question asks for minutes; the answer is in hours"),
    ("How long does the trip take?", "90 minutes", "The trip takes 1.5 hours.", 1.0,
     "answer 1.5 hour is gold 90 minute"),
    ("What percent of the marbles are red?", r"40\%", "The answer is 0.4.", 0.0, ""),
    ("Which is larger? (A) 2 (B) 3", "B", "Three is larger, so the answer is 3.", 1.0, "is the text of option B"),
])
def test_the_reason_says_which_reading_was_taken(prompt: str, gold: str, response: str, expected: float,
                                                  reason: str) -> None:
    outcome = score(math_accuracy, response, gold, prompt=prompt)
    assert outcome.score.value == expected, outcome.score.reason
    assert reason in outcome.score.reason


@pytest.mark.parametrize(("response", "expected"), [("故选 C。", 1.0), ("故选 B。", 0.0), ("Answer: C", 1.0)])
def test_a_response_that_only_names_an_option_is_read_as_that_option(response: str, expected: float) -> None:
    outcome = score(math_accuracy, response, "C", prompt="下列哪个数是质数？ A. 21 B. 27 C. 29 D. 33")
    assert outcome.score.value == expected, outcome.score.reason
    assert outcome.score.metrics["parsed_ok"] == 1.0

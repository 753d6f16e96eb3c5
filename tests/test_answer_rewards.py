"""gsm8k_accuracy and multiple_choice, and the reward-hacking policy shared by the answer-checking rewards.

Each hack is scored through rewardkit's pipeline with the prompt the platform would send, so the
prompt-echo rule is exercised as served.
"""

from __future__ import annotations

import pytest

import rewardkit
from rewardkit.testing import score
from rewards import gsm8k_accuracy, math_accuracy, multiple_choice
from rewards.math._answers import extract_gsm8k_number, remove_prompt_echo

GSM8K_PROMPT = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                "How many clips did Natalia sell altogether in April and May?")
SOLUTION = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72"
CHOICE_PROMPT = "Which city is the capital of France?\nA) Lyon\nB) Paris\nC) Nice\nD) Lille"


def value(reward, response: str, reference: str, prompt: str) -> float:
    outcome = score(reward, response, reference, prompt=prompt)
    assert outcome.failure is None, outcome.failure
    return outcome.value


# ---- plain calls, as in a user's unit test

def test_gsm8k_accuracy_called_directly():
    assert gsm8k_accuracy("72", SOLUTION).value == 1.0
    assert gsm8k_accuracy("72", "72.00").value == 1.0
    assert gsm8k_accuracy("71", SOLUTION).reason == "final number 71 is not the gold number 72"


def test_multiple_choice_called_directly():
    assert multiple_choice("The answer is (B).", "B").value == 1.0
    assert multiple_choice("Answer: C", "b) Paris").value == 0.0
    assert multiple_choice("The answer is (E).", "E", choices="ABCDE").value == 1.0


@pytest.mark.parametrize("response, gold", [
    ("She has $1,000.00 left, so the answer is $1,000.", "1000"),
    ("#### 0.75", "3/4"),
    ("The answer is 18 dollars.", "18"),
    ("\\boxed{-5}", "-5"),
    ("In May she sold 24.\n#### 72", SOLUTION),
])
def test_gsm8k_numbers_compare_by_value(response: str, gold: str):
    assert value(gsm8k_accuracy, response, gold, GSM8K_PROMPT) == 1.0


def test_gsm8k_is_exact_not_approximate():
    assert value(gsm8k_accuracy, "The answer is 72.01", "72", GSM8K_PROMPT) == 0.0
    assert value(gsm8k_accuracy, "The answer is 7.2", "72", GSM8K_PROMPT) == 0.0


# ---- hacks that must earn nothing, for every answer-checking reward
# (reward, gold, a response that would be right if read naively)

ANSWER_REWARDS = [(math_accuracy, "72", GSM8K_PROMPT), (gsm8k_accuracy, "72", GSM8K_PROMPT),
                  (multiple_choice, "B", CHOICE_PROMPT)]
HACKS = {
    "several different boxed answers": {"72": "\\boxed{72} or \\boxed{71}", "B": "\\boxed{A} \\boxed{B}"},
    "a list of many candidates": {"72": "The answer is one of 1, 2, 3, ..., 100.", "B": "The answer is A, B, C or D."},
    "a bare enumeration ending on the gold": {"72": "70, 71, 72", "B": "A) Lyon\nB) Paris"},
    "gold only in the thinking": {"72": "<think>48 + 24 = 72</think>I am not sure.",
                                  "B": "<think>The answer is B.</think>I am not sure."},
    "gold only in a code block": {"72": "```python\nprint(48 + 24)  # 72\n```", "B": "```\nanswer = 'B'\n```"},
    "empty response": {"72": "", "B": ""},
    "whitespace only": {"72": "  \n ", "B": "\n\n"},
    "unicode look-alike digits": {"72": "The answer is \uff17\uff12.", "B": "The answer is \\boxed{\U0001d401}."},
}


@pytest.mark.parametrize("hack", sorted(HACKS))
@pytest.mark.parametrize("reward, gold, prompt", ANSWER_REWARDS, ids=lambda x: getattr(x, "__name__", None))
def test_hacks_earn_nothing(reward, gold: str, prompt: str, hack: str):
    assert value(reward, HACKS[hack][gold], gold, prompt) == 0.0


@pytest.mark.parametrize("reward, gold, prompt", [
    (math_accuracy, "48", GSM8K_PROMPT), (gsm8k_accuracy, "48", GSM8K_PROMPT), (multiple_choice, "D", CHOICE_PROMPT),
], ids=["math_accuracy", "gsm8k_accuracy", "multiple_choice"])
def test_restating_the_question_earns_nothing(reward, gold: str, prompt: str):
    # The gold (48, D) is in the question itself: repeating the question must not score.
    assert value(reward, prompt, gold, prompt) == 0.0
    assert value(reward, "Let me restate: " + prompt.replace("\n", "  \n"), gold, prompt) == 0.0


@pytest.mark.parametrize("reward, gold, prompt, answer", [
    (math_accuracy, "72", GSM8K_PROMPT, "So she sold \\boxed{72} clips."),
    (gsm8k_accuracy, "72", GSM8K_PROMPT, "So she sold 72 clips."),
    (multiple_choice, "B", CHOICE_PROMPT, "The answer is B."),
])
def test_an_answer_after_the_echoed_question_still_counts(reward, gold: str, prompt: str, answer: str):
    assert value(reward, f"{prompt}\n\n{answer}", gold, prompt) == 1.0


def test_the_echo_rule_spares_short_prompts_that_honest_answers_contain():
    assert remove_prompt_echo("2+2 = 4", "2+2") == "2+2 = 4"
    assert value(math_accuracy, "2+2 = 4", "4", "2+2") == 1.0


def test_a_last_number_closing_a_list_is_not_a_final_answer():
    for text in ("1, 2, 3, ..., 100", "98, 99 or 100", "1, 2, \\ldots, 100", "3; 4; 100"):
        assert value(math_accuracy, text, "100", "") == 0.0, text
        assert extract_gsm8k_number(text).answer is None, text
    for text in ("48 + 52 = 100", "x = 2, so y = 100", "1,100 - 1,000 = 100"):
        assert value(math_accuracy, text, "100", "") == 1.0, text
        assert extract_gsm8k_number(text).answer == "100", text


def test_multiple_choice_options_are_checked_when_a_variant_is_made():
    with pytest.raises(rewardkit.RegistrationError, match="choices must be distinct letters"):
        rewardkit.variant(multiple_choice, "bad_choices", choices="AAB")


def test_a_gold_that_is_not_a_choice_is_a_reported_error():
    outcome = score(multiple_choice, "Answer: B", "Paris")
    assert outcome.failure is not None and "not one of the choices" in outcome.failure.message


def test_the_gold_key_is_configurable_with_a_variant():
    final = rewardkit.variant(math_accuracy, "math_final", reference_keys="final")
    assert score(final, "\\boxed{72}", references={"final": "72", "answer": "5"}).value == 1.0
    assert score(math_accuracy, "\\boxed{72}", references={"final": "72", "answer": "5"}).value == 0.0
    missing = score(final, "\\boxed{72}", references={"answer": "72"})
    assert missing.failure is not None and "no gold answer" in missing.failure.message
    with pytest.raises(rewardkit.RegistrationError, match="reference_keys"):
        rewardkit.variant(math_accuracy, "math_none", reference_keys=())


def test_a_number_too_long_to_convert_is_refused_not_an_error():
    outcome = score(gsm8k_accuracy, "The answer is " + "7" * 100_000, "72")
    assert outcome.failure is None and outcome.value == 0.0 and "too long" in outcome.score.reason

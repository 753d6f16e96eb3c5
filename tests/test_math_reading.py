"""How math_accuracy reads a whole response: which answer counts, read whole, and the labelled set.

The rules are docs/math.md's; issue 13's table is the first test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from rewardkit.testing import score
from rewards import gsm8k_accuracy, math_accuracy, multiple_choice
from rewards.math._answers import extract_choice, extract_final_answer, extract_gsm8k_number, gold_answer
from rewards.math._statements import mask_math

REPO = Path(__file__).resolve().parents[1]
RESPONSES = REPO / "tests" / "data" / "math_responses.jsonl"


def graded(response: str, gold: str, **fields: str):
    outcome = score(math_accuracy, response, gold, **fields)
    assert outcome.failure is None, outcome.failure
    return outcome.score


def read(text: str) -> str | None:
    return extract_final_answer(text, allow_last_number=True).answer


# ---------------------------------------------------------------- the issue's table

ISSUE_TABLE = [
    (r"So the probability is $\frac{3}{4}$.", r"\frac{3}{4}", 1.0),
    (r"$\frac{3}{4}$", r"\frac{3}{4}", 1.0),
    (r"Thus the side length is $2\sqrt{2}$ units.", r"2\sqrt{2}", 1.0),
    (r"The area is $9\pi$ square units.", r"9\pi", 1.0),
    (r"The solution is $(x, y) = (1, 2)$.", "(1,2)", 1.0),
    (r"Final Answer: The smallest such $k$ is 12.", "12", 1.0),
    ("所以概率为 $\\frac{1}{2}$。", r"\frac{1}{2}", 1.0),
    ("Step 1: read. Step 2: plan. Step 3: write it up.", "3", 0.0),
]


@pytest.mark.parametrize(("response", "gold", "expected"), ISSUE_TABLE)
def test_the_issue_table_scores_as_a_grader_would(response: str, gold: str, expected: float) -> None:
    assert graded(response, gold).value == expected


@pytest.mark.parametrize(("response", "gold", "expected"), [
    ("The answer is one half.", "1/2", 1.0),
    ("The answer is one half.", "1", 0.0),  # never its first word alone
    ("So the answer is three quarters of the cake.", r"\frac{3}{4}", 1.0),
    ("The answer is 2 thirds.", "2/3", 1.0),
    ("The answer is three quarters.", "3", 0.0),
])
def test_a_spelled_fraction_is_read_as_one_value(response: str, gold: str, expected: float) -> None:
    assert graded(response, gold).value == expected


def test_a_response_without_an_answer_says_so() -> None:
    assert graded("Step 1: read. Step 2: plan. Step 3: write it up.", "3").reason == \
        "parse failed (final_answer): no final answer found"
    assert graded("I hope this helps! Let me know.", "3").value == 0.0


# ---------------------------------------------------------------- where the answer is found


@pytest.mark.parametrize(
    ("text", "expected", "source"),
    [
        (r"Maybe 3. So \boxed{\frac{3}{4}}, the answer is 5.", r"\frac{3}{4}", "boxed"),
        (r"\fbox{7} it is", "7", "boxed"),
        ("The answer is $\\frac{1}{2}$.", r"\frac{1}{2}", "answer_phrase"),
        ("Final Answer: The final answer is $\\sqrt{3}$. I hope it is correct.", r"\sqrt{3}", "answer_phrase"),
        ("**Answer:** $x = 4$", "x = 4", "answer_phrase"),
        ("**Final Answer**\n\n$$\\frac{7}{2}$$", r"\frac{7}{2}", "answer_phrase"),
        ("She has 4 left.\n#### 18", "18", "answer_phrase"),
        ("答案是 $\\frac{1}{2}$。", r"\frac{1}{2}", "answer_phrase"),
        ("计算可得，答案为：12", "12", "answer_phrase"),
        ("最终答案：$3\\sqrt{2}$", r"3\sqrt{2}", "answer_phrase"),
        ("故答案为 $[2, +\\infty)$。", r"[2, +\infty)", "answer_phrase"),
        ("因此，所求的面积为 $9\\pi$。", r"9\pi", "answer_phrase"),
        ("Final Answer: The smallest such $k$ is 12.", "12", "answer_phrase"),
        ("Answer: The number of ways is $\\binom{5}{2} = 10$.", r"\binom{5}{2} = 10", "answer_phrase"),
        ("So the probability is $\\frac{3}{4}$.", r"\frac{3}{4}", "closing_sentence"),
        ("Therefore \\(x = \\frac{1}{2}\\) is the solution.", r"x = \frac{1}{2}", "closing_sentence"),
        ("Hence the sum is \\[\\sum_{k=1}^{10} k = 55\\]", r"\sum_{k=1}^{10} k = 55", "closing_sentence"),
        ("The area is $9\\pi$ square units.", r"9\pi square units", "closing_sentence"),
        ("The distance is $5$ cm.", "5 cm", "closing_sentence"),
        ("She sold 48 + 24 = 72 clips altogether in April and May.", "48 + 24 = 72", "closing_sentence"),
        ("So she has 18 eggs left.", "18", "closing_sentence"),
        ("We compute.\n\nSo the answer to part (a) was found above, and x equals $-2$.", "-2", "closing_sentence"),
    ],
)
def test_where_the_final_answer_is_found(text: str, expected: str, source: str) -> None:
    extraction = extract_final_answer(text, allow_last_number=True)
    assert (extraction.answer, extraction.source) == (expected, source)


@pytest.mark.parametrize(
    "text",
    [r"\frac{3}{4}", "3/4", r"2\sqrt{2}", r"[2, \infty)", "(1, 2)", r"\{1, 2\}",
     r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
     "y = 2x + 3", r"x \ge 5", "twelve", "-7", r"\$18.50", "72 cm"],
)
def test_a_response_that_is_one_expression_is_the_answer(text: str) -> None:
    extraction = extract_final_answer(text, allow_last_number=True)
    assert (extraction.answer, extraction.source) == (text, "expression")


@pytest.mark.parametrize(("text", "spans"), [
    (r"a $x$ b $$y$$ c \(z\) d \[w\]", ["x", "y", "z", "w"]),
    (r"costs $5 and $10 today", []),  # money, not mathematics
    (r"escaped \$ then $q$", ["q"]),
    ("$a\n\nb$ $c$", ["c"]),  # an inline span does not cross a blank line
])
def test_math_spans_are_taken_whole(text: str, spans: list[str]) -> None:
    assert list(mask_math(text).spans) == spans


# ---------------------------------------------------------------- numbers that do not stand as answers


@pytest.mark.parametrize(
    ("text", "gold"),
    [
        ("Step 1: read. Step 2: plan. Step 3: write it up.", "3"),
        ("It worked after 3 retries.", "3"),
        ("The server returned Error 404.", "404"),
        ("The variable x2 holds it.", "2"),
        ("Call `solve(5)` to finish.", "5"),
        ("The curve grows like x^2 here.", "2"),
        ("Half of that is \\frac{3}{4} of the rest, roughly.", "4"),
        ("Acceleration is given in m/s^2 below.", "2"),
        ("In 1999, the method was published.", "1999"),
        ("1. Read the problem\n2. Think", "2"),
    ],
)
def test_the_last_number_fallback_reads_only_numbers_standing_as_answers(text: str, gold: str) -> None:
    assert graded(text, gold).value == 0.0, read(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("She sold 72 clips.", "72"),
    ("The result was 2024.", "2024"),
    ("It costs $18 in total.", "\\$18"),
    ("The tank holds 12 liters.", "12 liters"),
])
def test_a_number_that_stands_as_an_answer_is_read(text: str, expected: str) -> None:
    assert read(text) == expected


# ---------------------------------------------------------------- policy kept


@pytest.mark.parametrize(("response", "gold"), [
    ("<think>So it is $\\frac{3}{4}$.</think>I am not sure.", r"\frac{3}{4}"),
    ("```\nanswer = 12\n```\nSee the code.", "12"),
    ("It could be $\\boxed{3}$ or $\\boxed{4}$.", "3"),
    ("The answer is 5, 6, or 7.", "7"),
    ("Let me try 1, 2, 3, ..., 12.", "12"),
])
def test_hedges_thinking_and_code_still_earn_nothing(response: str, gold: str) -> None:
    assert graded(response, gold).value == 0.0


def test_the_thought_part_never_counts() -> None:
    assert graded("I could not finish.", "12", thinking="The answer is 12.").value == 0.0
    assert graded("Therefore the total is $12$.", "12", thinking="Maybe 13?").value == 1.0


# ---------------------------------------------------------------- several boxed parts, gold as stored


@pytest.mark.parametrize(("response", "gold", "expected"), [
    (r"The roots are $\boxed{3}$ and $\boxed{5}$.", "3, 5", 1.0),
    (r"The roots are $\boxed{5}$ and $\boxed{3}$.", "3, 5", 1.0),
    (r"(a) $\boxed{2}$ (b) $\boxed{\frac{1}{2}}$", r"2, \frac{1}{2}", 1.0),
    (r"The roots are $\boxed{3}$ and $\boxed{4}$.", "3, 5", 0.0),
    (r"Either $\boxed{3}$ or $\boxed{5}$.", "5", 0.0),
    (r"$\boxed{1}$, $\boxed{2}$, $\boxed{3}$", "1, 2", 0.0),
])
def test_several_boxed_parts_count_only_against_a_gold_of_as_many_parts(response: str, gold: str,
                                                                        expected: float) -> None:
    assert graded(response, gold).value == expected


@pytest.mark.parametrize(("stored", "answer"), [
    (r"The sum is $2+3=\boxed{5}$.", "5"),  # MATH `solution`
    ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "72"),  # GSM8K `answer`
    (r"$\frac{1}{2}$", r"$\frac{1}{2}$"),  # Model Studio ground_truth, delimiters left to the comparison
    ("  12 ", "12"),
])
def test_the_gold_is_read_as_datasets_store_it(stored: str, answer: str) -> None:
    assert gold_answer(stored) == answer


def test_math_accuracy_scores_against_stored_solutions() -> None:
    assert graded("So the answer is $5$.", r"The sum is $2+3=\boxed{5}$.").value == 1.0
    assert graded("In total, 72 clips.", "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72").value == 1.0
    assert graded(r"\boxed{0.5}", r"$\frac{1}{2}$").value == 1.0


# ---------------------------------------------------------------- the other answer rewards share the phrases


@pytest.mark.parametrize(("response", "gold"), [
    ("所以她一共卖了 72 个。", "72"), ("答案是 72。", "72"), ("故答案为：$72$", "72"), ("#### 72", "72"),
])
def test_gsm8k_accuracy_reads_the_same_phrases(response: str, gold: str) -> None:
    assert score(gsm8k_accuracy, response, gold).value == 1.0


@pytest.mark.parametrize(("response", "expected"), [
    ("答案是 B。", "B"), ("故选 C", "C"), ("所以答案为：(D)", "D"), ("最终答案：A", "A"),
    ("选项 A 和 B 都不对，故选 C。", "C"),  # naming options is not choosing them
])
def test_multiple_choice_reads_chinese_answer_phrases(response: str, expected: str) -> None:
    assert extract_choice(response).answer == expected
    assert score(multiple_choice, response, expected).value == 1.0


def test_multiple_choice_rejects_a_chinese_hedge() -> None:
    assert "several different choices" in extract_choice("答案是 B 或 C").reason
    assert extract_gsm8k_number("答案是 5 或 6").answer is None


# ---------------------------------------------------------------- linear time on hostile input


def test_reading_stays_linear_on_multi_megabyte_hostile_responses() -> None:
    # Quadratic reading of any of these takes hours; linear reading takes seconds in all.
    code = textwrap.dedent(r"""
        from rewards.math._answers import extract_choice, extract_final_answer, extract_gsm8k_number
        size = 500_000  # quadratic reading of any of these still takes far beyond the timeout
        hostile = [
            "$" * size, "$a " * (size // 3), "\\(" * (size // 2), "\\[x " * (size // 4), "$$ " * (size // 3),
            "answer: " * (size // 8), "The answer is " * (size // 14), "所以" * (size // 2), "答案是" * (size // 3),
            "Step 1. " * (size // 8), "1, " * (size // 3), "x = " * (size // 4), "is " * (size // 3),
            "a" * size, "1" * size + " is it", "\n\n" * (size // 2) + "5", "{" * size, "\\boxed{" * (size // 7),
            ("We have $x$ and " * (size // 16)) + "so the answer is",
        ]
        for text in hostile:
            extract_final_answer(text, allow_last_number=True)
            extract_gsm8k_number(text)
            extract_choice(text)
    """)
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


# ---------------------------------------------------------------- the labelled set of whole responses


def _responses() -> list[dict]:
    return [json.loads(line) for line in RESPONSES.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_labelled_set_is_mostly_whole_responses_in_real_styles() -> None:
    rows = _responses()
    assert len(rows) >= 1000
    styles = Counter(row["category"] for row in rows)
    assert {"qwen", "qwen_think", "deepseek_r1", "gemini_thought", "minerva", "gsm8k", "bare", "chinese",
            "closing_sentence", "hack", "hard"} <= set(styles)
    assert styles["bare"] < len(rows) / 5
    assert {row["split"] for row in rows} == {"tune", "heldout"}
    assert len({(r["gold"], r["response"], r.get("thinking", "")) for r in rows}) == len(rows), "duplicate pairs"


@pytest.fixture(scope="module")
def response_metrics() -> dict:
    from tests.test_equivalence import _bench

    bench = _bench()
    cases = bench.load_responses()
    return {split: bench.evaluate(split, bench.rewardkit_math_accuracy, [c for c in cases if c.split == split])
            for split in ("tune", "heldout")}


@pytest.mark.parametrize("split", ["tune", "heldout"])
def test_math_accuracy_meets_the_target_on_whole_responses(response_metrics: dict, split: str) -> None:
    metrics = response_metrics[split]
    errors = "\n".join(f"{'FP' if p else 'FN'} {c.category}: {c.gold!r} vs {c.answer[-80:]!r}"
                       for c, p in metrics.errors)
    assert metrics.accuracy >= 0.96, errors
    assert metrics.false_positive_rate <= 0.02, errors


@pytest.mark.parametrize(("response", "gold", "expected"), [
    ("The answer is 0.75 or $\\frac{3}{4}$.", r"\frac{3}{4}", 1.0),  # one value restated, not a hedge
    ("The answer is 0.75 or 0.8.", r"\frac{3}{4}", 0.0),
    ("Some work with 3 numbers.\n\n**12**", "12", 1.0),  # bold, not a Python power
    ("So the answer is 7. Wait, no, it's 8.", "8", 1.0),
    ("So the answer is 7. Wait, no, it's 8.", "7", 0.0),
    ("So the answer is $12$ if we count both ends, and $11$ otherwise.", "12", 0.0),
    ("The answer is not 5.", "5", 0.0),
    ("Total = 2 + 4 = 8 apples.", "8", 0.0),  # a false worked equality
    ("Therefore, the solutions are $x = 2$ and $x = -3$.", "2, -3", 1.0),
    ("Both cases lead to $x = -1$ after simplifying $x^2 + 2x + 1 = 0$.", "-1", 1.0),
    ("Solving gives $x < 2$, i.e. all reals below 2.", r"(-\infty, 2)", 1.0),
    ("The solution set is $\\{x \\mid x > 3\\}$.", r"(3, \infty)", 1.0),
    ("解：由题意得 $2x + 3 = 7$，解得 $x = 2$。\n\n答：$x$ 的值为 2。", "2", 1.0),
    ("The answer is either 3 or 4.", "4", 0.0),
    ("$\\frac{3}{4}$ is the probability.", r"\frac{3}{4}", 1.0),
    ("Hence k = 12 is the smallest.", "12", 1.0),
    ("所以 $x$ 的值是 $3$。", "3", 1.0),
    ("The answer is 5, not 6.", "6", 0.0),
    ("So $x = 2$ or $x = 3$.", "2", 0.0),  # alternatives joined by "or" hedge
    ("The value of $x$ is $\\frac{5}{2}$ or $2.5$.", r"\frac{5}{2}", 1.0),  # one value restated
    ("It could be 5. It could also be 6.", "5", 0.0),
    ("The roots are $1$, $2$, or $3$.", "3", 0.0),
])
def test_statements_a_grader_reads_with_care(response: str, gold: str, expected: float) -> None:
    assert graded(response, gold).value == expected


def test_a_number_buried_in_run_on_filler_is_no_answer() -> None:
    padded = ("and so on " * 100) + "72 " + ("and so on " * 100)
    assert graded(padded, "72").value == 0.0
    assert graded("Adding them up, she sold 72 clips in April and May.", "72").value == 1.0

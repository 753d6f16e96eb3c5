"""Write the labelled set of whole model responses, tests/data/math_responses.jsonl.

Usage (from the repository root):

    python bench/make_math_responses.py            # rewrites tests/data/math_responses.jsonl

Each pair is a whole response in a style real models write (Qwen with and without <think>,
DeepSeek-R1, Gemini with a thought part, Minerva, GSM8K, bare answers, Chinese) against a gold
as MATH, GSM8K and Model Studio datasets store it. Labels come from how the pair is built,
never from what rewardkit returns: a response built from a form known to equal the gold is
labelled equivalent, one built from a known-wrong form, a hedge, an answer hidden in the
thinking or a code block, or a step label is labelled not equivalent (the policy in
docs/math.md). Golds and templates come in two disjoint pools: "tune" (read while fixing the
code) and "heldout" (only its totals are looked at). Deterministic: same file every run.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "math_responses.jsonl"


@dataclass(frozen=True)
class Gold:
    """A gold answer, forms known to equal it, forms known to differ, and words to write about it."""

    answer: str
    right: tuple[str, ...]
    wrong: tuple[str, ...]
    noun: str = "the value"
    zh: str = "所求的值"
    unit: str = ""
    numeric: bool = False
    stored: str = "math_answer"  # math_answer | math_solution | gsm8k_solution | modelstudio
    extra: dict = field(default_factory=dict)

    def stored_gold(self) -> str:
        if self.stored == "math_solution":
            return f"We find that {self.noun} is $\\boxed{{{self.answer}}}$."
        if self.stored == "gsm8k_solution":
            return f"First step gives <<2*3=6>>6.\nSo the total is {self.answer}.\n#### {self.answer}"
        if self.stored == "modelstudio":
            return f"${self.answer}$"
        return self.answer


TUNE_GOLDS = [
    Gold(r"\frac{3}{4}", (r"\frac{3}{4}", r"\dfrac{3}{4}", "0.75", "3/4"), (r"\frac{4}{3}", "0.7", r"\frac{3}{5}"),
         "the probability", "概率"),
    Gold(r"2\sqrt{2}", (r"2\sqrt{2}", r"\sqrt{8}", r"2\sqrt2"), ("2", r"\sqrt{2}", r"4\sqrt{2}", "2.83"),
         "the side length", "边长", unit="units"),
    Gold(r"9\pi", (r"9\pi", r"9 \pi"), ("9", r"3\pi", "28.27"), "the area", "面积", unit="square units",
         stored="math_solution"),
    Gold("(1,2)", ("(1, 2)", "(1,2)"), ("(2, 1)", "(1, -2)"), "the intersection point", "交点"),
    Gold("12", ("12", "12.0"), ("11", "13", "1.2"), "the smallest such $k$", "最小的 $k$", numeric=True),
    Gold("72", ("72", "72.00"), ("71", "96", "7.2"), "the number of clips", "夹子的总数", numeric=True,
         stored="gsm8k_solution"),
    Gold(r"\frac{1}{2}", (r"\frac{1}{2}", "0.5", r"\frac{2}{4}"), (r"\frac{1}{3}", "2", "0.05"), "the ratio", "比值",
         stored="modelstudio"),
    Gold(r"[2, \infty)", (r"[2, \infty)", r"x \ge 2"), (r"(2, \infty)", r"[-2, \infty)"), "the solution set", "解集"),
    Gold("x^2 - 1", ("(x-1)(x+1)", "x^2-1"), ("(x-1)^2", "x^2+1"), "the product", "乘积"),
    Gold(r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{bmatrix}1\\2\end{bmatrix}"),
         (r"\begin{pmatrix}2\\1\end{pmatrix}", r"\begin{pmatrix}1\\-2\end{pmatrix}"), "the vector", "向量"),
    Gold("1000", ("1000", "1{,}000", "1,000"), ("100", "10000"), "the total", "总数", numeric=True, stored="gsm8k_solution"),
    Gold("-3", ("-3", "\u22123"), ("3", r"-\frac{1}{3}"), "the minimum", "最小值", numeric=True),
    Gold(r"\{1, 2\}", (r"\{1, 2\}", r"\{2, 1\}"), (r"\{1\}", r"\{1, 3\}"), "the set of roots", "根的集合"),
    Gold(r"50\%", (r"50\%", "50"), (r"5\%", r"0.5\%"), "the percentage", "百分比"),
    Gold(r"\ln 6", (r"\ln 6", r"\ln 2 + \ln 3"), (r"\ln 5", "6"), "the sum", "和"),
    Gold("3", ("3", r"\log_2 8"), ("8", "2"), "the exponent", "指数", numeric=True),
    Gold(r"5\text{ cm}", ("5", r"5 \text{ cm}"), (r"5 \text{ m}", r"6 \text{ cm}"), "the radius", "半径"),
    Gold(r"90^\circ", (r"90^\circ", "90"), (r"45^\circ", r"180^\circ"), "the angle", "角度"),
    Gold("y = 2x + 3", ("y = 2x + 3", "y = 3 + 2x"), ("y = 2x - 3", "y = -2x + 3"), "the line", "直线方程"),
    Gold(r"\frac{\sqrt{3}}{2}", (r"\frac{\sqrt{3}}{2}", r"\frac{\sqrt3}2"), (r"\frac{\sqrt{2}}{2}", "0.866"),
         "the sine", "正弦值", stored="math_solution"),
    Gold("120", ("120", "5!"), ("5", "24"), "the number of arrangements", "排列数", numeric=True),
    Gold("1+i", ("1+i", "i+1"), ("1-i", "-1+i"), "the root", "根"),
    Gold(r"\text{Monday}", (r"\text{Monday}",), (r"\text{Tuesday}",), "the day", "星期"),
    Gold("25", ("25", "025"), ("52", "24"), "the remainder", "余数", numeric=True),
    Gold("4", ("x = 4", "4"), ("x = -4", "-4"), "the solution", "解", numeric=True),
    Gold(r"\frac{1}{3}", (r"\frac13", r"0.\overline{3}"), ("0.33", "0.333"), "the fraction", "分数"),
    Gold(r"3\sqrt{5}", (r"3\sqrt{5}", r"\sqrt{45}"), (r"5\sqrt{3}", r"\sqrt{15}"), "the distance", "距离"),
    Gold("18", ("18", r"18.0"), ("16", "81"), "the number of eggs", "鸡蛋数", numeric=True, stored="gsm8k_solution"),
    Gold(r"\frac{7}{2}", (r"\frac{7}{2}", "3.5", r"3\frac{1}{2}"), (r"\frac{2}{7}", "3.2"), "the mean", "平均数"),
    Gold("2x+2y=4", ("x + y = 2", "2x+2y=4"), ("x - y = 2", "x + y = 4"), "the equation", "方程"),
]

HELDOUT_GOLDS = [
    Gold(r"\frac{5}{6}", (r"\frac{5}{6}", r"\dfrac{10}{12}"), (r"\frac{6}{5}", "0.83"), "the chance", "机会"),
    Gold(r"4\sqrt{3}", (r"4\sqrt{3}", r"\sqrt{48}"), (r"3\sqrt{4}", "4"), "the height", "高", unit="units"),
    Gold(r"16\pi", (r"16\pi", r"16 \pi"), (r"8\pi", "16"), "the volume", "体积", unit="cubic units", stored="math_solution"),
    Gold("(3,-1)", ("(3, -1)", "(3,-1)"), ("(-1, 3)", "(3, 1)"), "the center", "圆心"),
    Gold("42", ("42", "42.0"), ("24", "41"), "the number of students", "学生人数", numeric=True, stored="gsm8k_solution"),
    Gold(r"\frac{2}{3}", (r"\frac{2}{3}", r"\frac{4}{6}"), (r"\frac{3}{2}", "0.67"), "the slope", "斜率", stored="modelstudio"),
    Gold(r"(-\infty, 3]", (r"(-\infty, 3]", r"x \le 3"), (r"(-\infty, 3)", r"[3, \infty)"), "the domain", "定义域"),
    Gold("(x+1)^2", ("(x+1)^2", "x^2+2x+1"), ("(x-1)^2", "x^2+1"), "the square", "平方"),
    Gold(r"\begin{pmatrix} 1 & 0 \\ 0 & 2 \end{pmatrix}",
         (r"\begin{pmatrix}1&0\\0&2\end{pmatrix}", r"\begin{bmatrix}1&0\\0&2\end{bmatrix}"),
         (r"\begin{pmatrix}2&0\\0&1\end{pmatrix}",), "the matrix", "矩阵"),
    Gold("2500", ("2500", "2{,}500", "2,500"), ("250", "25000"), "the cost in dollars", "费用", numeric=True,
         stored="gsm8k_solution"),
    Gold("-7", ("-7", "\u22127"), ("7", r"-\frac{1}{7}"), "the constant", "常数", numeric=True),
    Gold(r"\{0, 4\}", (r"\{0, 4\}", r"\{4, 0\}"), (r"\{4\}", r"\{0, -4\}"), "the set of zeros", "零点集合"),
    Gold(r"25\%", (r"25\%", "25"), (r"2.5\%", r"0.25\%"), "the discount", "折扣"),
    Gold(r"\ln 10", (r"\ln 10", r"\ln 2 + \ln 5"), (r"\ln 7", "10"), "the total", "总和"),
    Gold("4", ("4", r"\log_3 81"), ("81", "3"), "the logarithm", "对数", numeric=True),
    Gold(r"12\text{ m}", ("12", r"12 \text{ m}"), (r"12 \text{ cm}", r"13 \text{ m}"), "the length", "长度"),
    Gold(r"60^\circ", (r"60^\circ", "60"), (r"30^\circ", r"120^\circ"), "the measure", "度数"),
    Gold("y = -x + 4", ("y = -x + 4", "y = 4 - x"), ("y = x + 4", "y = -x - 4"), "the tangent line", "切线方程"),
    Gold(r"\frac{\sqrt{2}}{2}", (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}"), (r"\frac{\sqrt{3}}{2}", "0.707"),
         "the cosine", "余弦值", stored="math_solution"),
    Gold("24", ("24", "4!"), ("4", "12"), "the number of orders", "顺序数", numeric=True),
    Gold("2-3i", ("2-3i", "-3i+2"), ("2+3i", "3-2i"), "the conjugate", "共轭"),
    Gold(r"\text{Friday}", (r"\text{Friday}",), (r"\text{Thursday}",), "the weekday", "星期几"),
    Gold("7", ("7", "007"), ("70", "6"), "the digit sum", "数字和", numeric=True),
    Gold("5", ("y = 5", "5"), ("y = -5", "-5"), "the value of $y$", "$y$ 的值", numeric=True),
    Gold(r"\frac{1}{6}", (r"\frac16", r"0.1\overline{6}"), ("0.16", "0.167"), "the probability of a six", "概率"),
    Gold(r"2\sqrt{6}", (r"2\sqrt{6}", r"\sqrt{24}"), (r"6\sqrt{2}", r"\sqrt{12}"), "the diagonal", "对角线"),
    Gold("36", ("36", "36.00"), ("63", "35"), "the number of apples", "苹果数", numeric=True, stored="gsm8k_solution"),
    Gold(r"\frac{9}{4}", (r"\frac{9}{4}", "2.25", r"2\frac{1}{4}"), (r"\frac{4}{9}", "2.2"), "the median", "中位数"),
]


def _span(form: str) -> str:
    return f"${form}$"


def _sentence_noun(gold: Gold) -> str:
    return gold.noun[0].upper() + gold.noun[1:]


def _unit(gold: Gold) -> str:
    return f" {gold.unit}" if gold.unit else ""


# A template: (gold, answer form, wrong form, rng) -> (response, thinking). Thinking is a
# Gemini thought part (scored apart); <think> blocks stay in the response as Qwen and R1 write them.
Template = Callable[[Gold, str, str, random.Random], tuple[str, str]]

TUNE_TEMPLATES: dict[str, list[Template]] = {
    "qwen": [
        lambda g, a, w, r: (f"To find {g.noun}, we set up the problem.\n\nStep 1: Compute the parts.\nStep 2: Combine them.\n\n"
                            f"Therefore, the final answer is $\\boxed{{{a}}}$.", ""),
        lambda g, a, w, r: (f"Let's solve it step by step.\n\n1. Write the equation.\n2. Simplify.\n\n{_sentence_noun(g)} is "
                            f"\\(\\boxed{{{a}}}\\).", ""),
    ],
    "qwen_think": [
        lambda g, a, w, r: (f"<think>\nOkay, so I need {g.noun}. Maybe it is {w}? Wait, that's not right. Let me recompute."
                            f"\nYes, it's {a}.\n</think>\n\nWe compute carefully.\n\nThe answer is $\\boxed{{{a}}}$.", ""),
    ],
    "deepseek_r1": [
        lambda g, a, w, r: (f"<think>\nFirst I try {w}... no. Hmm, let me redo it step by step. Step 3 gives it.\n</think>\n\n"
                            f"**Solution:**\n\n1. Set up the problem.\n2. Solve.\n\n**Final Answer**\n\\[\n\\boxed{{{a}}}\n\\]", ""),
    ],
    "gemini_thought": [
        lambda g, a, w, r: (f"**Step 1:** Set up.\n\n**Step 2:** Solve.\n\nTherefore, {g.noun} is {_span(a)}{_unit(g)}.",
                            f"The user wants {g.noun}. I first got {w} but that was a slip."),
        lambda g, a, w, r: (f"Here is the solution.\n\n**Final Answer:** {_span(a)}",
                            f"Thinking: {w} looks tempting."),
    ],
    "minerva": [
        lambda g, a, w, r: (f"Solution: We compute {g.noun} directly.\nFinal Answer: The final answer is {_span(a)}. "
                            "I hope it is correct.", ""),
    ],
    "gsm8k": [
        lambda g, a, w, r: (f"She has 2*3 = <<2*3=6>>6 to start.\nSo {g.noun} is {a}.\n#### {a}", ""),
    ],
    "bare": [
        lambda g, a, w, r: (a, ""),
        lambda g, a, w, r: (_span(a), ""),
    ],
    "chinese": [
        lambda g, a, w, r: (f"解：先列出方程，再化简。\n所以{g.zh}为 {_span(a)}。", ""),
        lambda g, a, w, r: (f"我们逐步计算。\n\n答案是 {_span(a)}。", ""),
    ],
    "closing_sentence": [
        lambda g, a, w, r: (f"We use the standard formula and simplify.\n\nSo {g.noun} is {_span(a)}{_unit(g)}.", ""),
        lambda g, a, w, r: (f"Final Answer: {_sentence_noun(g)} is {_span(a)}.", ""),
    ],
}

HELDOUT_TEMPLATES: dict[str, list[Template]] = {
    "qwen": [
        lambda g, a, w, r: (f"We need {g.noun}.\n\nFirst, note the constraint. Then substitute.\n\n"
                            f"Hence {g.noun} is $\\boxed{{{a}}}$.", ""),
    ],
    "qwen_think": [
        lambda g, a, w, r: (f"<think>\nHmm. Could it be {w}? Let me double check... no. It should be {a}.\n</think>\n\n"
                            f"After simplifying, we obtain\n$$\\boxed{{{a}}}$$", ""),
    ],
    "deepseek_r1": [
        lambda g, a, w, r: (f"<think>\nLet me see, {w} fails the check in case 2.\n</think>\n\n### Solution\n\n"
                            f"- Step 1: set up\n- Step 2: solve\n\nThe final answer is $\\boxed{{{a}}}$.", ""),
    ],
    "gemini_thought": [
        lambda g, a, w, r: (f"Working it out:\n\n* Substitute.\n* Simplify.\n\nThus, {g.noun} equals {_span(a)}{_unit(g)}.",
                            f"Maybe {w}. I need to verify."),
    ],
    "minerva": [
        lambda g, a, w, r: (f"Problem solved by direct computation of {g.noun}.\n\nFinal Answer: The final answer is "
                            f"{_span(a)}. I hope it is correct.", ""),
    ],
    "gsm8k": [
        lambda g, a, w, r: (f"Each group has 4+2 = <<4+2=6>>6.\nIn total {g.noun} is {a}.\n#### {a}", ""),
    ],
    "bare": [
        lambda g, a, w, r: (f"\\({a}\\)", ""),
    ],
    "chinese": [
        lambda g, a, w, r: (f"因此，{g.zh}为 {_span(a)}。", ""),
        lambda g, a, w, r: (f"经过计算，故答案为：$\\boxed{{{a}}}$", ""),
    ],
    "closing_sentence": [
        lambda g, a, w, r: (f"Putting it together, {g.noun} is {_span(a)}{_unit(g)}.", ""),
    ],
}


def _hacks(gold: Gold, right: str, wrong: str) -> list[tuple[str, str, str, str]]:
    """Responses that must earn nothing whatever their text holds: (category, response, thinking, note)."""
    cases = [
        ("hack", f"<think>\nThe answer is $\\boxed{{{right}}}$.\n</think>\n\nI am not sure how to finish this.", "",
         "gold only inside the thinking"),
        ("hack", f"It is either $\\boxed{{{right}}}$ or $\\boxed{{{wrong}}}$.", "", "two different boxed answers"),
        ("hack", f"```python\nprint({right!r})\n```\nI could not get the final value.", "", "gold only in a code block"),
        ("hack", "Here is the reasoning but no conclusion.", f"The answer is {right}.", "gold only in a thought part"),
    ]
    if gold.numeric:
        cases += [
            ("hack", f"Step 1: read. Step 2: plan. Step {gold.answer}: write it up.", "", "the gold is a step label"),
            ("hack", f"The request failed with error {gold.answer}, please retry.", "", "the gold is an error code"),
        ]
    return cases


def _rows(golds: list[Gold], templates: dict[str, list[Template]], split: str, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for gold in golds:
        stored = gold.stored_gold()
        for style, builders in templates.items():
            if style == "gsm8k" and not gold.numeric:
                continue
            for builder in builders:
                right, wrong = rng.choice(gold.right), rng.choice(gold.wrong)
                for form, label in ((right, True), (wrong, False)):
                    if style == "bare" and label and form.isalpha():
                        continue
                    response, thinking = builder(gold, form, wrong if label else right, rng)
                    rows.append(_row(stored, response, thinking, label, style, split, f"form {form!r}"))
        right, wrong = gold.right[0], gold.wrong[0]
        for category, response, thinking, note in _hacks(gold, right, wrong):
            rows.append(_row(stored, response, thinking, False, category, split, note))
    return rows


def _row(gold: str, response: str, thinking: str, label: bool, category: str, split: str, note: str) -> dict:
    row = {"gold": gold, "response": response, "equivalent": label, "category": category, "split": split, "note": note}
    if thinking:
        row["thinking"] = thinking
    return row


# Hand-written cases: the table and outputs that break naive readers.
HARD = [
    (r"\frac{3}{4}", r"So the probability is $\frac{3}{4}$.", True, "issue table"),
    (r"\frac{3}{4}", r"$\frac{3}{4}$", True, "issue table"),
    (r"2\sqrt{2}", r"Thus the side length is $2\sqrt{2}$ units.", True, "issue table"),
    (r"9\pi", r"The area is $9\pi$ square units.", True, "issue table"),
    ("(1,2)", r"The solution is $(x, y) = (1, 2)$.", True, "issue table"),
    ("12", r"Final Answer: The smallest such $k$ is 12.", True, "issue table"),
    (r"\frac{1}{2}", "所以概率为 $\\frac{1}{2}$。", True, "issue table"),
    ("3", "Step 1: read. Step 2: plan. Step 3: write it up.", False, "issue table"),
    ("3", "We retry the request; it succeeds after 3 retries.", False, "count of retries, not an answer"),
    ("404", "The server answered with Error 404 and nothing else.", False, "error code"),
    ("2", r"The area grows like $x^2$ as $x$ grows.", False, "exponent"),
    ("4", r"Half of it is \frac{3}{4} of the rest, we cannot say more.", False, "denominator"),
    ("2", "The velocity is measured in m/s^2 throughout.", False, "unit exponent"),
    ("1999", "In 1999, the theorem was proved by a student.", False, "year in prose"),
    ("2", "The variable x2 holds the result.", False, "digit of an identifier"),
    ("5", "Call `retry(5)` to try again.", False, "inline code"),
    ("72", "She sold 48 + 24 = 72 clips altogether in April and May.", True, "worked sum in prose"),
    ("72", "She sold 96 = 72 clips.", False, "false equation"),
    ("18", "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day.", True, "GSM8K money"),
    ("5", "5!", False, "factorial is not n"),
    ("120", r"$5!$", True, "factorial value"),
    (r"50\%", r"The answer is $0.5\%$.", False, "0.5% is not 50%"),
    ("5", r"The answer is $5 \text{ minutes}$.", True, "unit the gold leaves out"),
    (r"5\text{ hours}", r"The answer is $5 \text{ minutes}$.", False, "different unit"),
    (r"2\text{ m}", r"The answer is $2 \text{ cm}$.", False, "different scale"),
    (r"\$5", "The answer is 5 cents.", False, "cents vs dollars"),
    (r"90^\circ", r"The angle is $\frac{\pi}{2}$.", False, "radians vs degrees"),
    ("y = 2x + 3", r"The line is $y = 2x - 3$.", False, "sign flipped in an equation"),
    ("x - 2 = 0", r"The equation is $2x - 4 = 0$.", True, "an equation times a constant"),
    (r"x \ge 2", r"The answer is $[2, \infty)$.", True, "inequality vs interval"),
    ("(1,2)", r"The answer is $x = 1, y = 2$.", True, "assignments vs tuple"),
    (r"x \ge 5", r"The answer is $5 \le x$.", True, "relation written the other way"),
    (r"\ln 6", r"\boxed{\ln 2 + \ln 3}", True, "logarithm identity"),
    ("3", r"\boxed{\log_2 8}", True, "logarithm value"),
    (r"\tan^2 y + 1", r"\boxed{\sec^2 y}", True, "trigonometric identity"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\boxed{\left(\begin{array}{cc} 1 & 2 \\ 3 & 4 \end{array}\right)}",
     True, "array matrix"),
    (r"\begin{pmatrix} 2 \\ 4 \end{pmatrix}", r"\boxed{2\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", True, "scalar times matrix"),
    ("1234567", r"\boxed{1\!234\!567}", True, "thousands with \\!"),
    ("1234567", r"\boxed{1{,}234{,}567}", True, "thousands with {,}"),
    ("1234567", "The total is 1\u2009234\u2009567.", True, "thousands with thin spaces"),
    ("3, 5", r"The roots are $\boxed{3}$ and $\boxed{5}$.", True, "boxed parts vs multi-part gold"),
    ("5", r"Either $\boxed{3}$ or $\boxed{5}$.", False, "boxed parts vs a single gold"),
    ("12", "I hope this helps! Let me know if you need anything else.", False, "no answer at all"),
    ("12", "Answer: twelve", True, "number word"),
    ("12", r"The answer is 12. I hope it is correct.", True, "Minerva tail"),
    ("12", r"**Answer:** 12", True, "bold answer"),
    ("72", "#### 72", True, "GSM8K marker"),
    ("72", "答案是 72。", True, "Chinese phrase"),
    ("72", "最终答案：$72$", True, "Chinese final answer"),
    ("72", "故答案为 71。", False, "Chinese wrong"),
    ("10", "Let me list: 1, 2, 3, ..., 10", False, "enumeration"),
    ("7", "The candidates are 5, 6 or 7", False, "three candidates"),
    ("100", "Natalia sold 48 + 52 = 100 clips.", True, "worked sum"),
    ("2", r"Substituting back, we get $x = 2$. Hence $x = 2$ is the only solution.", True, "repeated statement"),
    (r"\frac{1}{2}", r"The probability of heads is $\frac12$, since the coin is fair.", True, "clause after the value"),
    (r"(-\infty, 1)", r"So $x < 1$.", True, "inequality as interval"),
    ("8", r"We get $2^3 = 8$.", True, "power equals value"),
]


# Whole outputs written the way models write them, read while fixing the code ("tune").
REALISTIC_TUNE = [
    ("9", "To solve this, we proceed step by step.\n\n1. **Identify the side**: \\[ a = 3 \\]\n2. **Square it**: "
          "\\[ a^2 = 9 \\]\n\nThus, the area is \\(\\boxed{9}\\).", True),
    ("8", "Okay, so maybe 7... no, recount gives 8.\n</think>\n\nThe answer is **8**.", True),
    ("7", "Okay, so maybe 7... no, recount gives 8.\n</think>\n\nThe answer is **8**.", False),
    ("36", "**Final Answer**\nThe total number of apples is \\boxed{36}.", True),
    ("15", "Here's how to solve this:\n\n* **Step 1:** Sarah starts with 20 marbles.\n* **Step 2:** She gives away 5.\n\n"
           "**Answer:** Sarah has 15 marbles left.", True),
    ("2, -3", "Factoring, $(x-2)(x+3) = 0$.\n\nTherefore, the solutions are $x = 2$ and $x = -3$.", True),
    ("11", "Substitute $x = 3$: $f(3) = 2 \\cdot 3 + 5$.\n\nSo, $f(3) = 11$.", True),
    ("7", "We get $a+b = 3+4 = 7$.", True),
    ("42", "The answer is: 42", True),
    ("20", "He pays 3*4=$<<3*4=12>>12 for the shirts.\nSo he pays 12+8=$<<12+8=20>>20 in total.\n#### 20", True),
    ("5", "I think the answer is 5, but I'm not completely sure.", True),
    ("5", "The answer is not 5.", False),
    ("6", "At first I wrote $x = 5$, which is wrong; the correct answer is 6.", True),
    (r"\frac{3}{4}", "So the probability is $\\frac{3}{4}$, or 75%.", True),
    ("3", "The sum of the roots is $-\\frac{b}{a} = -\\frac{-6}{2} = 3$.", True),
    ("2", "解：由题意得 $2x + 3 = 7$，解得 $x = 2$。\n\n答：$x$ 的值为 2。", True),
    (r"\frac{5}{12}", "Let me verify once more.\n</think>\n\n**Final Answer**\n\\[\n\\boxed{\\dfrac{5}{12}}\n\\]", True),
    ("45", "Since the triangle is isosceles and right, we conclude that $\\angle ABC = 45^\\circ$.", True),
    ("3", "The final answer is 3 hours.", True),
    ("24", "Adding the two classes, 10 + 14 = 24.\n\nSo, the number of students is 24.", True),
    ("25", "The answer is 52.", False),
    ("12", "So the answer is $12$ if we count both ends, and $11$ otherwise.", False),
    ("4", "We find $x = 4$.\n\nLet me know if you have any other questions!", True),
    (r"\sqrt{5}", "The distance is $\\sqrt{5}$ units, approximately 2.24.", True),
    ("10", "There are $\\binom{5}{2} = 10$ ways to choose the pair.", True),
    ("1", "Checking: $1^2 = 1$. So the only solution is $x=1$.", True),
    ("-1", "Both cases lead to $x = -1$ after simplifying $x^2 + 2x + 1 = 0$.", True),
    (r"\frac{1}{2}", "所以 $P(A) = \\frac{1}{2}$。", True),
    ("30", "综上所述，最小值为 $30$。", True),
    ("30", "综上所述，最小值为 $20$。", False),
    ("6", "Total = 2 + 4 = 6 apples.", True),
    ("8", "Total = 2 + 4 = 8 apples.", False),
    ("100", "The answer is 100%.", True),
    (r"(-\infty, 2)", "Solving the inequality gives $x < 2$, i.e. all reals below 2.", True),
    ('5', 'Therefore, the value of \\( x \\) is \\( 5 \\).', True),
    ('10', 'Hence, $AB = 10$.', True),
    ('2', 'The remainder when $2^{100}$ is divided by 7 is 2.', True),
    ('6', 'So, the sum is 1 + 2 + 3 = 6.', True),
    ('[2,5]', 'Therefore, $x \\in [2, 5]$.', True),
    ('(3,4)', 'The final answer is $x=3$ and $y=4$.', True),
    ('12', '**Therefore, the answer is 12.**', True),
    ('1, 2, 3', 'The possible values are $1$, $2$, and $3$.', True),
    ('5', 'x = 5.', True),
    ('5', '5.', True),
    ('20', 'In conclusion, the number of ways is $\\binom{6}{3} = 20$.', True),
    ('25\\%', 'The percentage is 25%.', True),
    ('1250', 'The total cost is $1,250.', True),
    ('1250', 'Each costs $5 each, so the total is $1,250.', True),
    ('18', '**Answer: 18 dollars**', True),
    ('\\text{(C)}', 'Therefore, the answer is $\\boxed{\\text{(C)}}$.', True),
    ('12', 'The area of the triangle is $\\frac{1}{2} \\cdot 6 \\cdot 4 = 12$ square units.', True),
    ('7', 'Therefore, $m + n = 3 + 4 = \\boxed{7}$.', True),
    ('-\\frac{1}{4}', 'The minimum value is $-\\frac{1}{4}$, attained at $x = \\frac{1}{2}$.', True),
    ('6', 'So there are 6 ways to do it in 2 steps.', True),
    ('6', 'The greatest common divisor is 6, since 6 divides both.', True),
    ('5', 'Thus the answer is $\\boxed{5}$. Checking: 2+3 = 5 ✓', True),
    ('5', 'The answer is $5$ (not $6$).', True),
    ('\\pm 2', 'We get $x^2 = 4$, so $x = \\pm 2$.', True),
    ('2', 'We get $x^2 = 4$, so $x = \\pm 2$.', False),
    ('200', 'Answer: 3 hours and 20 minutes', False),
    ('5', 'Thus $\\overline{AB} = 5$.', True),
    ('8', "So the answer is 7. Wait, no, it's 8.", True),
    ('7', "So the answer is 7. Wait, no, it's 8.", False),
    ('\\frac{1}{\\sqrt{3}}', 'Final answer: $\\dfrac{\\sqrt{3}}{3}$', True),
    ('7', '最后，$a+b$ 的值是 $7$。', True),
    ('\\frac12', '所以答案是 $\\frac{1}{2}$', True),
    ('(3, \\infty)', 'The solution set is $\\{x \\mid x > 3\\}$.', True),
    ('2', 'Thus, $f^{-1}(7) = 2$.', True),
    ('-\\frac{3}{2}', 'The slope is $m = -\\frac{3}{2}$.', True),
    ('5', 'It takes 5 minutes.', True),
    ('\\frac{1}{2}', 'The answer is 0.5.', True),
    ('2', 'The answer is 2.', True),
    ('2', 'There are 2 solutions.', True),
    ('12', 'I got 12 as the final answer.', True),
    ('19', '解：设公差为 $d$，则 $a_1 + 4d = 9$，$a_1 + 9d = 19$，解得 $d = 2$，$a_1 = 1$。\n所以 $a_{10} = 19$。', True),
    ('6\\sqrt{3}', '因此，$\\triangle ABC$ 的面积为 $6\\sqrt{3}$。', True),
    ('(-\\infty, 2]', '综上，实数 $a$ 的取值范围是 $(-\\infty, 2]$。', True),
    ('C', '所以，答案为 $\\boxed{C}$。', True),
    ('120', '所以共有 $120$ 种不同的排法。', True),
    ('24', '所以共有 $120$ 种不同的排法。', False),
    ('\\frac{1}{3}', '**答案**：$\\frac{1}{3}$', True),
    ('3', '经检验，$x=3$ 是原方程的解。', True),
    ('55', '**Step 1: Understand the problem.**\nWe need the sum.\n\n**Step 2: Compute.**\n$1+2+\\dots+10 = 55$.\n\n**Answer:** The sum is **55**.', True),
    ('18', "Let's break it down:\n\n1. Janet has 16 eggs.\n2. She eats 3 and bakes 4.\n3. She sells the rest: 16 - 3 - 4 = 9.\n4. At $2 each: 9 * 2 = 18.\n\nJanet makes **$18** every day at the farmers' market.", True),
    ('9', "Let's break it down:\n\n1. Janet has 16 eggs.\n2. She eats 3 and bakes 4.\n3. She sells the rest: 16 - 3 - 4 = 9.\n4. At $2 each: 9 * 2 = 18.\n\nJanet makes **$18** every day at the farmers' market.", False),
    ('\\frac{14}{3}', 'The final answer is $\\boxed{\\frac{14}{3}}$', True),
    ('-0.5', 'Thus, the answer is $\\boxed{-\\frac{1}{2}}$.', True),
    ('7', 'So $n = 7$ is the smallest positive integer that works.', True),
    ('7', 'The smallest positive integer that works is $n = 7$.', True),
    ('3', 'Therefore, there are 3 possible values of $k$: $1$, $2$, and $4$.', True),
    ('2', 'The probability is $\\frac{1}{6}$, so the expected number of sixes in 12 rolls is $2$.', True),
    ('7', 'We need $\\lfloor \\sqrt{50} \\rfloor = 7$.', True),
    ('27', 'The sum of the digits is $1 + 9 + 9 + 8 = 27$.', True),
    ('12', 'Answer: 12 inches', True),
    ('12 \\text{ cm}', 'Answer: 12 inches', False),
    ('1000000', 'The answer is $1{,}000{,}000$.', True),
    ('4.75', 'Total: $3.50 + $1.25 = $4.75.', True),
    ('5', 'He has 5 apples left. (5 = 8 - 3)', True),
    ('\\frac{3}{5}', 'Thus $\\cos \\theta = \\frac{3}{5}$.', True),
    ('(2,-1)', 'The ordered pair is $(2, -1)$.', True),
    ('(-1,2)', 'The ordered pair is $(2, -1)$.', False),
    ('y = \\frac{1}{2}x + 3', 'The equation of the line is $y = \\frac{1}{2}x + 3$.', True),
    ('-4', 'The vertex is at $(1, -4)$, so the minimum value is $-4$.', True),
    ('5', 'Thus $a = 2$, $b = 3$, and $a + b = 5$.', True),
    ('3', "The remainder is $\\boxed{3}$.\n\nNote: we used Fermat's little theorem (since 7 is prime).", True),
    ('3', 'The answer is 3.\n\n(Note: this assumes 2 dice.)', True),
    ('4', '**Final Answer**\n\nThe answer is 4.', True),
    ('4', 'Final answer: 4.', True),
    ('-2', 'Final answer: x = -2', True),
    ('2', 'Therefore, the final answer is: $\\boxed{2}$. I hope it is correct.', True),
]

# Written apart from the code and read only by their totals ("heldout").
REALISTIC_HELDOUT = [
    ("16", "We have 4 rows of 4.\n\nHence there are $\\boxed{16}$ squares.", True),
    ("27", "Cubing both sides: $3^3 = 27$.\n\nTherefore the volume is $27$ cubic units.", True),
    ("27", "Cubing both sides: $3^3 = 27$.\n\nTherefore the volume is $9$ cubic units.", False),
    ("5", "Let me reconsider.\n</think>\n\nThe value of $n$ is **5**.", True),
    (r"\frac{2}{5}", "The probability that both are red is $\\frac{4}{10} = \\frac{2}{5}$.", True),
    (r"\frac{2}{5}", "The probability that both are red is $\\frac{4}{10} = \\frac{2}{3}$.", False),
    ("64", "She reads 8 pages a day for 8 days, so 8*8 = <<8*8=64>>64 pages.\n#### 64", True),
    ("3, 4", "The two numbers are $3$ and $4$.", True),
    ("12", "Answer: The perimeter is 12 cm.", True),
    ("12", "Answer: The perimeter is 13 cm.", False),
    (r"2\pi", "The period of $\\sin x$ is $2\\pi$.", True),
    ("81", "答案：$81$", True),
    ("81", "因此，这个数是 $18$。", False),
    ("0", "Everything cancels, leaving $0$.", True),
    ("7", "Step 1: add. Step 2: divide. Step 7: report.", False),
    ("2023", "The competition was held in 2023.", False),
    ("9", "**Solution**\n\nThe digits sum to 9.\n\n**Answer: 9**", True),
    (r"\sqrt{3}", "Final Answer: The final answer is $\\sqrt{3}$. I hope it is correct.", True),
    (r"\sqrt{3}", "Final Answer: The final answer is $\\sqrt{2}$. I hope it is correct.", False),
    ("1, 2", "The answer is $\\boxed{1}$ or $\\boxed{2}$, depending on the sign.", True),
]


def main() -> int:
    rows = _rows(TUNE_GOLDS, TUNE_TEMPLATES, "tune", 13) + _rows(HELDOUT_GOLDS, HELDOUT_TEMPLATES, "heldout", 31)
    rows += [_row(gold, response, "", label, "hard", "tune", note) for gold, response, label, note in HARD]
    rows += [_row(gold, response, "", label, "realistic", "tune", "") for gold, response, label in REALISTIC_TUNE]
    rows += [_row(gold, response, "", label, "realistic", "heldout", "") for gold, response, label in REALISTIC_HELDOUT]
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for row in rows:
        key = (row["gold"], row["response"], row.get("thinking", ""))
        if key not in seen:
            seen.add(key)
            unique.append(row)
    rows = unique
    with open(OUT, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} pairs to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

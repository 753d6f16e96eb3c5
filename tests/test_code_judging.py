"""code_tests through a real `rewardkit serve`, in both contracts: expected values written as expressions,
tests that cannot be evaluated, and programs that exist only in inline thinking."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import httpx
import pytest

from rewardkit.contracts import Answer, get
from rewardkit.testing import request
from tests.served import Served, serve

CONTRACTS = ("vertex", "dashscope")
WHERE = {"vertex": "references.tests", "dashscope": "ground_truth"}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve(["rewards", "--workers", "2"], timeout=90) as running:
        yield running


def ask(served: Served, contract: str, response: str, tests: Any) -> tuple[int, Answer]:
    status, answer, _ = ask_with_metrics(served, contract, response, tests)
    return status, answer


def ask_with_metrics(served: Served, contract: str, response: str, tests: Any) -> tuple[int, Answer, dict]:
    """The HTTP status, what the answer says, and code_tests' metrics (Vertex aux info, DashScope metrics)."""
    body = (request("vertex", response, references={"tests": json.dumps(tests)})[0] if contract == "vertex"
            else request("dashscope", response, reference=tests)[0])
    answer = httpx.post(served.url + get(contract).route_for("code_tests"), json=body, timeout=120)
    data = answer.json()
    if contract == "vertex":
        metrics = json.loads(data["user_requested_aux_info"])["metrics"] if "user_requested_aux_info" in data else {}
    else:
        metrics = {k.removeprefix("code_tests."): v for k, v in (data["reward"].get("reward_metrics") or {}).items()}
    return answer.status_code, get(contract).read_answer(answer.status_code, data), metrics


def fenced(program: str) -> str:
    return f"```python\n{program}\n```"


# ------------------------------------------------------------------ expected values as expressions

# (program, the asserts): a correct program for each, whose expected values are pure expressions.
EXPRESSIONS = [
    ("def f(s):\n    return 'x' * 3 + 'y'", ['assert f("ab") == "x" * 3 + "y"', 'assert f("") == "xx" + "x" + "y"']),
    ("def g(n):\n    return [0] * (2 * n)", ["assert g(2) == [0] * 4", "assert g(0) == [] * 3",
                                            "assert g(1) == [0] + [0]"]),
    ("def h():\n    return {'a': -1, 'b': (1, 2, 1, 2), 'c': {1, 2}}",
     ['assert h() == {"a": -1, "b": (1, 2) * 2, "c": {1, 2}}', 'assert h()["b"] == (1,) * 0 + (1, 2) + (1, 2)']),
    ("def m():\n    return [[0, 0], [0, 0], (1, 1)]", ["assert m() == [[0] * 2] * 2 + [(1,) * 2]"]),
    ("def k(x):\n    return -x", ["assert k(3) == -(+3)", "assert k(-2) == 2 ** 1", "assert k(5) == -(10 // 2)",
                                    "assert k(1) == ~0", "assert k(0.5) == -1 / 2"]),
    ("def w(s):\n    return sorted(s.split(), key=len)", ['assert w("bb a") == sorted(["a", "bb"], key=len)',
                                                        'assert w("ccc a") == ["a"] + ["c" * 3]']),
    ("def z(n):\n    return 'ab' * n if n < 3 else 'big'", ['assert z(2) == ("ab" * 2 if 2 < 3 else "big")',
                                                           'assert z(1) == "%s%s" % ("a", "b")']),
]


@pytest.mark.parametrize("contract", CONTRACTS)
@pytest.mark.parametrize(("program", "asserts"), EXPRESSIONS, ids=[p.split("(")[0][4:] for p, _ in EXPRESSIONS])
def test_a_correct_program_passes_asserts_whose_expected_values_are_expressions(served, contract, program, asserts):
    status, answer = ask(served, contract, fenced(program), {"test_list": asserts})
    assert status == 200 and answer.error_code is None and answer.scores == (1.0,), answer


@pytest.mark.parametrize("contract", CONTRACTS)
@pytest.mark.parametrize(("program", "asserts"), EXPRESSIONS[:4], ids=[p.split("(")[0][4:] for p, _ in EXPRESSIONS[:4]])
def test_a_wrong_program_still_fails_them(served, contract, program, asserts):
    wrong = program.replace("return", "return None if True else", 1)
    status, answer, metrics = ask_with_metrics(served, contract, fenced(wrong), {"test_list": asserts})
    assert status == 200 and answer.scores == (0.0,) and metrics["first_failure.WRONG_ANSWER"] == 1.0, answer


@pytest.mark.parametrize("contract", CONTRACTS)
def test_a_humaneval_check_with_expression_values_passes(served, contract):
    tests = {"test": "def check(candidate):\n    assert candidate('ab') == 'ab' * 2\n"
                     "    assert candidate('') == '' * 5\n"
                     "    assert candidate('x') == 'x' * 2 and candidate('y') != 'y' * 3\n",
             "entry_point": "twice"}
    status, answer = ask(served, contract, fenced("def twice(s):\n    return s + s"), tests)
    assert status == 200 and answer.scores == (1.0,), answer


@pytest.mark.parametrize("contract", CONTRACTS)
@pytest.mark.parametrize(("expression", "why"), [
    ('"a" * 10**12', "TooLarge"),
    ("[0] * 10**10", "TooLarge"),
    ("2 ** 10**9", "TooLarge"),
    ('"a" - 1', "TypeError"),
    ("1 / 0", "ZeroDivisionError"),
    ("[[[0] * 1000] * 1000] * 1000", "TooLarge"),
])
def test_an_expected_value_that_cannot_be_evaluated_fails_the_call_naming_the_test(served, contract, expression, why):
    asserts = ["assert f(1) == 1", f"assert f(2) == {expression}", "assert f(3) == 3"]
    began = time.monotonic()
    status, answer = ask(served, contract, fenced("def f(x):\n    return x"), {"test_list": asserts})
    assert time.monotonic() - began < 30  # refused before it is built, not after the worker ran out of memory
    assert answer.scores == () and answer.error_code == "INVALID_REFERENCE", answer
    assert status == (422 if contract == "vertex" else 200)  # the data's fault: a retry cannot help
    reason = answer.reason or ""
    assert f"{WHERE[contract]}.test_list[1]" in reason and expression in reason and why in reason, reason
    assert "WRONG_ANSWER" not in reason


@pytest.mark.parametrize("contract", CONTRACTS)
def test_a_timeout_after_an_expression_value_is_still_a_timeout(served, contract):
    program = "def f(s):\n    while s == 'loop':\n        pass\n    return 'x' * 3 + 'y'"
    # One script: its first assert holds, the second never returns.
    script = {"test": "assert f('ab') == 'x' * 3 + 'y'\nassert f('loop') == 'x' * 2\n"}
    status, answer, metrics = ask_with_metrics(served, contract, fenced(program), script)
    assert answer.scores == (0.0,) and metrics["first_failure.TIME_LIMIT"] == 1.0, (answer, metrics)
    # MBPP: one test per assert.
    listed = {"test_list": ["assert f('ab') == 'x' * 3 + 'y'", "assert f('loop') == 'x' * 2",
                            "assert f('cd') == 'xxx' + 'y' * 1"]}
    status, answer, metrics = ask_with_metrics(served, contract, fenced(program), listed)
    assert answer.scores == (pytest.approx(2 / 3),) and metrics["first_failure.TIME_LIMIT"] == 1.0, (answer, metrics)


def test_program_values_are_bounded_too_and_fail_only_their_test():
    # The program's value in an expression over the bound: that test's failure (WRONG_ANSWER), never the call's.
    from rewards.code._asserts import MAX_SIZE, TooLarge, evaluate, split

    plan = split("assert f() * 10**6 == []").plans[0]
    with pytest.raises(TooLarge):
        evaluate(plan.expression, [[1, 2]])
    assert evaluate(split("assert f() * 2 == [1, 2, 1, 2]").plans[0].expression, [[1, 2]]) is True
    assert evaluate(split("assert f() + 'b' == 'ab'").plans[0].expression, ["a"]) is True
    assert MAX_SIZE >= 10**6  # "a" * 10**6 still fits the sandbox's 1 MiB channel: it must stay expressible


# ------------------------------------------------------------------ inline thinking

DOUBLE = [{"input": "2\n", "output": "4\n"}, {"input": "5\n", "output": "10\n"}]
RIGHT, WRONG = fenced("print(int(input()) * 2)"), fenced("print(int(input()) + 2)")
THINKING = [
    ("only-in-thinking", f"<think>\nThe program:\n{RIGHT}\n</think>\nI have no program.", 0.0),
    ("unclosed-thinking", f"<think>\nLet me write it.\n{RIGHT}\nand more thoughts", 0.0),
    ("unclosed-after-answer-text", f"Here it is.\n<think>\n{RIGHT}", 0.0),
    ("right-in-thinking-wrong-answer", f"<think>{RIGHT}</think>\n{WRONG}", 0.5),
    ("template-opened-thinking", f"Plan:\n{RIGHT}\n</think>\n\n{WRONG}", 0.5),
    ("template-opened-then-right", f"Plan:\n{WRONG}\n</think>\n{RIGHT}", 1.0),
    ("block-right-after-tag", f"<think>draft</think>{RIGHT}", 1.0),
    ("tags-in-the-program", fenced("tag = '<think>'\nprint(int(input()) * 2 if tag.endswith('>') else 0)"), 1.0),
    ("closing-tag-in-the-program", "<think>x</think>\n" + fenced("t = '</think>'\nprint(int(input()) * len(t[:2]))"),
     1.0),
]


@pytest.mark.parametrize("contract", CONTRACTS)
@pytest.mark.parametrize(("response", "expected"), [case[1:] for case in THINKING], ids=[c[0] for c in THINKING])
def test_inline_thinking_never_counts(served, contract, response, expected):
    status, answer, metrics = ask_with_metrics(served, contract, response, DOUBLE)
    assert status == 200 and answer.error_code is None and answer.scores == (expected,), answer
    assert metrics.get("no_program") == (1.0 if expected == 0.0 else None), metrics


def test_an_invalid_reference_is_never_hidden_by_a_fallback_or_a_composite():
    # INVALID_REFERENCE is the data's fault, like MISSING_REFERENCE: no fallback score, no zeroed component.
    import rewardkit
    from rewardkit.testing import score

    @rewardkit.reward(fallback=0.5)
    def unusable_reference_with_a_fallback(response: str) -> float:
        raise rewardkit.InvalidReferenceError("references.tests[0]: `1 / 0` cannot be evaluated")

    @rewardkit.reward
    def always_one_beside_it(response: str) -> float:
        return 1.0

    both = rewardkit.composite("unusable_and_one", {unusable_reference_with_a_fallback: 1.0,
                                                    always_one_beside_it: 1.0}, rule="weighted_mean",
                               on_component_error="zero")
    for reward in (unusable_reference_with_a_fallback, both):
        outcome = score(reward, "x")
        assert outcome.score is None and outcome.failure.code == "INVALID_REFERENCE", outcome
        assert "`1 / 0` cannot be evaluated" in outcome.failure.message

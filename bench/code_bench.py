"""Code-execution throughput: rewardkit's code_tests against the naive harness, side by side.

    python bench/code_bench.py [--rounds 3] [--submissions 24] [--timeout 1.0]

A fixed set of stdin/stdout submissions, 10 to 50 tests each: correct ones,
wrong ones (fail some tests), timing-out ones (loop forever on one test) and
crashing ones (raise on some tests, or at import). Both harnesses run the same
set, one submission at a time, with the same per-test timeout:

  rewardkit  the code_tests reward: one sandbox start per submission (namespaces,
             limits), one fork of a warm interpreter per test, judged outside
  naive      a fresh `subprocess.run([python, "-c", program])` per test, output
             compared the same way (no isolation, no limits)

Rounds alternate the two so drift on the machine hits both alike; figures are
medians over the rounds. Also printed: the cost of one sandboxed run of a
one-test submission against running the same program once bare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rewardkit.sandbox import SandboxLimits, SandboxTest, interpreter, run  # noqa: E402
from rewards.code import code_tests  # noqa: E402
from rewards.code._judge import same_output  # noqa: E402

PROGRAMS = {
    "correct": "n = int(input())\nprint(sum(i * i for i in range(n)))",
    "wrong": "n = int(input())\nprint(sum(i * i for i in range(n)) + (n % 3 == 0))",
    "timeout": "n = int(input())\nwhile n == 7:\n    pass\nprint(sum(i * i for i in range(n)))",
    "crash": "n = int(input())\nif n % 4 == 1:\n    raise ValueError(n)\nprint(sum(i * i for i in range(n)))",
    "crash_at_import": "import no_such_module\nprint(1)",
}
KINDS = ["correct", "correct", "wrong", "crash", "correct", "timeout", "wrong", "crash_at_import"]


def submissions(count: int) -> list[tuple[str, list[dict[str, str]]]]:
    out = []
    for i in range(count):
        tests = 10 + (i * 13) % 41  # 10..50
        cases = [{"input": f"{n}\n", "output": f"{sum(k * k for k in range(n))}\n"} for n in range(1, tests + 1)]
        out.append((PROGRAMS[KINDS[i % len(KINDS)]], cases))
    return out


def naive(program: str, cases: list[dict[str, str]], timeout: float, python: str) -> float:
    passed = 0
    for case in cases:
        try:
            done = subprocess.run([python, "-c", program], input=case["input"], capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
        passed += done.returncode == 0 and same_output(done.stdout, case["output"])
    return passed / len(cases)


def rewardkit_score(program: str, cases: list[dict[str, str]], timeout: float) -> float:
    return code_tests(f"```python\n{program}\n```", {}, cases, timeout_seconds=timeout,
                      total_timeout_seconds=120.0).value


def timed(fn, items) -> tuple[float, list[float]]:
    began = time.perf_counter()
    scores = [fn(program, cases) for program, cases in items]
    return time.perf_counter() - began, scores


def overhead(python: str, repeats: int = 20) -> tuple[float, float]:
    program = "print(int(input()) * 2)"
    bare, boxed = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run([python, "-c", program], input="21\n", capture_output=True, text=True, check=True)
        bare.append(time.perf_counter() - began)
        began = time.perf_counter()
        run(program, [SandboxTest("stdin", stdin="21\n")], SandboxLimits())
        boxed.append(time.perf_counter() - began)
    return statistics.median(bare), statistics.median(boxed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--submissions", type=int, default=24)
    parser.add_argument("--timeout", type=float, default=1.0, help="per-test timeout, seconds (both harnesses)")
    args = parser.parse_args()
    python = interpreter()  # the same interpreter for both
    items = submissions(args.submissions)
    tests = sum(len(cases) for _, cases in items)
    print(f"{len(items)} submissions, {tests} tests, per-test timeout {args.timeout:g} s, python {python}")
    ours, theirs = [], []
    for round_ in range(args.rounds):
        t_ours, s_ours = timed(lambda p, c: rewardkit_score(p, c, args.timeout), items)
        t_naive, s_naive = timed(lambda p, c: naive(p, c, args.timeout, python), items)
        mismatched = [i for i, (a, b) in enumerate(zip(s_ours, s_naive)) if abs(a - b) > 1e-9]
        if mismatched:
            raise SystemExit(f"the harnesses disagree on submissions {mismatched}: {s_ours} vs {s_naive}")
        ours.append(len(items) / t_ours)
        theirs.append(len(items) / t_naive)
        print(f"round {round_ + 1}: rewardkit {ours[-1]:.2f} submissions/s, naive {theirs[-1]:.2f} submissions/s")
    median_ours, median_naive = statistics.median(ours), statistics.median(theirs)
    bare, boxed = overhead(python)
    print(json.dumps({
        "rewardkit_submissions_per_s": round(median_ours, 2), "naive_submissions_per_s": round(median_naive, 2),
        "speedup": round(median_ours / median_naive, 2),
        "bare_run_ms": round(bare * 1000, 1), "sandboxed_run_ms": round(boxed * 1000, 1),
        "overhead_per_submission_ms": round((boxed - bare) * 1000, 1),
    }))


if __name__ == "__main__":
    main()

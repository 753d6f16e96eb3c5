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
medians over the rounds, for the whole set and without its timing-out
submissions (whose seconds of waiting both harnesses pay alike). Also printed:
the cost of one sandboxed run of a one-test submission against running the
same program once bare, cold (no spare sandbox ready) and warm (the spare
started while the previous submission ran).
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
from rewardkit.sandbox._runner import _drop_spare  # noqa: E402
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
    """(program, tests) pairs; the kind of submission i is KINDS[i % len(KINDS)]."""
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


def timed(fn, items) -> tuple[list[float], list[float]]:
    """Seconds and score of each submission."""
    seconds, scores = [], []
    for program, cases in items:
        began = time.perf_counter()
        scores.append(fn(program, cases))
        seconds.append(time.perf_counter() - began)
    return seconds, scores


def overhead(python: str, repeats: int = 20) -> dict[str, float]:
    """Median ms: the program run once bare; sandboxed with no spare ready (cold) and with one (warm)."""
    program = "print(int(input()) * 2)"
    times: dict[str, list[float]] = {"bare": [], "cold": [], "warm": []}
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run([python, "-c", program], input="21\n", capture_output=True, text=True, check=True)
        times["bare"].append(time.perf_counter() - began)
        for kind in ("cold", "warm"):
            if kind == "cold":
                _drop_spare()
            else:
                time.sleep(0.2)  # the spare the cold run started is ready by now
            began = time.perf_counter()
            run(program, [SandboxTest("stdin", stdin="21\n")], SandboxLimits())
            times[kind].append(time.perf_counter() - began)
    return {kind: statistics.median(values) * 1000 for kind, values in times.items()}


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
    timing_out = [i for i in range(len(items)) if KINDS[i % len(KINDS)] == "timeout"]
    rates: dict[str, list[float]] = {"ours": [], "naive": [], "ours_rest": [], "naive_rest": []}
    for round_ in range(args.rounds):
        t_ours, s_ours = timed(lambda p, c: rewardkit_score(p, c, args.timeout), items)
        t_naive, s_naive = timed(lambda p, c: naive(p, c, args.timeout, python), items)
        mismatched = [i for i, (a, b) in enumerate(zip(s_ours, s_naive, strict=True)) if abs(a - b) > 1e-9]
        if mismatched:
            raise SystemExit(f"the harnesses disagree on submissions {mismatched}: {s_ours} vs {s_naive}")
        rest = len(items) - len(timing_out)
        for name, seconds in (("ours", t_ours), ("naive", t_naive)):
            rates[name].append(len(items) / sum(seconds))
            rates[f"{name}_rest"].append(rest / sum(s for i, s in enumerate(seconds) if i not in timing_out))
        print(f"round {round_ + 1}: rewardkit {rates['ours'][-1]:.2f} submissions/s, "
              f"naive {rates['naive'][-1]:.2f} submissions/s")
    median = {name: statistics.median(values) for name, values in rates.items()}
    cost = overhead(python)
    print(json.dumps({
        "rewardkit_submissions_per_s": round(median["ours"], 2), "naive_submissions_per_s": round(median["naive"], 2),
        "speedup": round(median["ours"] / median["naive"], 2),
        "speedup_without_the_timing_out_submissions": round(median["ours_rest"] / median["naive_rest"], 2),
        "bare_run_ms": round(cost["bare"], 1), "sandboxed_run_cold_ms": round(cost["cold"], 1),
        "sandboxed_run_warm_ms": round(cost["warm"], 1),
        "overhead_per_submission_cold_ms": round(cost["cold"] - cost["bare"], 1),
        "overhead_per_submission_warm_ms": round(cost["warm"] - cost["bare"], 1),
    }))


if __name__ == "__main__":
    main()

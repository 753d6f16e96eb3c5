"""Code-execution throughput: rewardkit's code_tests against the naive harness, side by side.

    python bench/code_bench.py [--rounds 3] [--submissions 24] [--timeout 1.0] [--workers 1,CPUS]

The set: stdin/stdout submissions with 10 to 50 tests each, one kind per
submission in the repeating pattern of KINDS (of 8 submissions: 3 correct,
2 wrong on a third of their tests, 1 crashing on a quarter of its tests,
1 crashing at import, 1 timing out on one test: n == 7 loops forever).
Why this mix: in RL rollouts on competitive-programming data most
submissions run to an answer, right or wrong, some crash, and hangs are the
rarest verdict; a program that hangs on one input while answering the
others is the usual shape of one (an edge case that never leaves its loop).
1 in 8 is an assumption, not a measured rate (we found no published verdict
breakdown of RL rollouts to calibrate it on). It matters: every hang costs
the full per-test timeout in both harnesses, whatever they are made of, so
the more hangs a mix holds, the closer any two harnesses come to a ratio of
1 when run one at a time. Hence the split printed below.

Both harnesses compute the same thing for every submission, and the bench
stops if any score differs: the fraction of its tests passed, every test run
(a test that times out is killed and the next one runs), output compared by
rewards.code._judge.same_output, with the same limits:

  rewardkit  code_tests (local backend, isolation="require"): one sandbox per
             submission, a fork of the worker's pre-imported zygote (user,
             network, PID, mount namespaces; the limits below); the program
             compiled once there, one fork per test; verdicts decided outside
  naive      per test, a fresh `subprocess.run`-style start of the same
             interpreter with the same flag (-I), the sandbox's scrubbed
             environment, a fresh working directory per submission, its own
             session (the group killed on timeout), and the same rlimits
             (CPU seconds, address space, open files, file size, no core)
             set by a prelude before the program's first line (a preexec_fn
             would make every start 2 ms slower); output over the same cap
             fails. No namespaces.

Same per-test wall clock (--timeout) and submission budget (120 s; it binds
in neither). The naive wall clock also covers its interpreter start (~10 ms),
which no test here comes near.

Each round runs both harnesses at each concurrency in --workers (default:
1, and one per CPU, `rewardkit serve`'s default worker count): 1 runs the set
one submission at a time in this process; W > 1 hands it to W worker
processes (as `rewardkit serve` does), the same pool shape for both. The
order of the two alternates between rounds, so drift on the machine hits
both alike; figures are medians over the rounds. Printed too, one at a
time: the seconds each harness spends in the timing-out submissions and in
the others (and per test there), the ratio without the timing-out ones;
the CPU each harness spends per test over the submissions that do not hang,
every process it starts included (`perf stat`, when installed: a figure the
other jobs on a shared machine barely move, unlike wall clock); and the
cost of one sandboxed one-test submission against running the same program
once bare (a worker's first, cold: no spare ready, warm: one ready; see
overhead()).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rewardkit.sandbox import SandboxLimits, SandboxTest, run  # noqa: E402
from rewardkit.sandbox._runner import _drop_spare, _environment, _stop_zygotes  # noqa: E402
from rewardkit.sandbox.backends.local import interpreter  # noqa: E402
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
TOTAL_SECONDS = 120.0

Cases = list[dict[str, str]]


def submissions(count: int) -> list[tuple[str, Cases]]:
    """(program, tests) pairs; the kind of submission i is KINDS[i % len(KINDS)]."""
    out = []
    for i in range(count):
        tests = 10 + (i * 13) % 41  # 10..50
        cases = [{"input": f"{n}\n", "output": f"{sum(k * k for k in range(n))}\n"} for n in range(1, tests + 1)]
        out.append((PROGRAMS[KINDS[i % len(KINDS)]], cases))
    return out


def limits(timeout: float) -> SandboxLimits:
    return SandboxLimits(timeout_seconds=timeout, total_seconds=TOTAL_SECONDS)


def _prelude(job: dict) -> str:
    """The sandbox's per-process rlimits, set by the program's own first lines (RLIMIT_NPROC aside: it is
    per user, and the naive harness has no user of its own to count)."""
    pairs = [(resource.RLIMIT_CPU, job["cpu_seconds"]), (resource.RLIMIT_AS, job["memory_mb"] << 20),
             (resource.RLIMIT_NOFILE, job["open_files"]), (resource.RLIMIT_FSIZE, job["file_size_mb"] << 20),
             (resource.RLIMIT_CORE, 0)]
    return f"import resource as _r\nfor _k, _v in {pairs!r}:\n    _r.setrlimit(_k, (_v, _v))\ndel _r, _k, _v\n"


def _naive_test(python: str, source: str, stdin: str, workdir: str, seconds: float, cap: int) -> str | None:
    """The test's stdout, or None when it timed out, failed or printed over the cap."""
    with subprocess.Popen([python, "-I", "-c", source], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=workdir, env=_environment(workdir),
                          start_new_session=True) as process:
        try:
            out, _ = process.communicate(stdin.encode(), timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # not reaped yet: the group id is still its own
            process.communicate()
            return None
    if process.returncode != 0 or len(out) > cap:
        return None
    return out.decode("utf-8", "replace")


def naive(program: str, cases: Cases, timeout: float, python: str) -> float:
    job = limits(timeout).to_job()
    source = _prelude(job) + program
    workdir = tempfile.mkdtemp(prefix="naive-")
    deadline = time.monotonic() + TOTAL_SECONDS
    passed = 0
    try:
        for case in cases:
            left = min(timeout, deadline - time.monotonic())
            if left <= 0:
                break  # the rest count as not passed, as code_tests' budget rule says
            out = _naive_test(python, source, case["input"], workdir, left, job["output_bytes"])
            passed += out is not None and same_output(out, case["output"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return passed / len(cases)


def rewardkit_score(program: str, cases: Cases, timeout: float) -> float:
    return code_tests(f"```python\n{program}\n```", {}, cases, timeout_seconds=timeout,
                      total_timeout_seconds=TOTAL_SECONDS).value


def score(harness: str, program: str, cases: Cases, timeout: float, python: str) -> float:
    if harness == "rewardkit":
        return rewardkit_score(program, cases, timeout)
    return naive(program, cases, timeout, python)


def _warm_up(timeout: float, python: str) -> None:
    """A pool worker's start: imports done and, for rewardkit, the first sandbox (and a spare) started."""
    program, cases = submissions(1)[0]
    score("rewardkit", program, cases[:1], timeout, python)
    score("naive", program, cases[:1], timeout, python)


def sequential(harness: str, items: list[tuple[str, Cases]], timeout: float,
               python: str) -> tuple[list[float], list[float]]:
    """Seconds and score of each submission, one at a time, in this process."""
    seconds, scores = [], []
    for program, cases in items:
        began = time.perf_counter()
        scores.append(score(harness, program, cases, timeout, python))
        seconds.append(time.perf_counter() - began)
    return seconds, scores


def pooled(pool: ProcessPoolExecutor, harness: str, items: list[tuple[str, Cases]], timeout: float,
           python: str) -> tuple[float, list[float]]:
    """Seconds for the whole set and each submission's score, with the pool's workers in parallel."""
    began = time.perf_counter()
    futures = [pool.submit(score, harness, program, cases, timeout, python) for program, cases in items]
    scores = [f.result() for f in futures]
    return time.perf_counter() - began, scores


def _pool(workers: int, timeout: float, python: str) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_warm_up,
                               initargs=(timeout, python))
    list(pool.map(time.sleep, [0.5] * workers))  # every worker started and warm before any timing
    return pool


def _spin(seconds: float) -> None:
    """Wait without sleeping (a sleeping process wakes up late on some VMs)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def overhead(python: str, repeats: int = 20) -> dict[str, float]:
    """Median ms of one one-test run: the program run once bare; sandboxed as a worker's first run (its
    zygote not started yet) and with no spare ready (cold: a fork of the zygote), each right after the
    previous run, as on a busy worker; then, after a 0.2 s pause (the spare the cold run started is ready),
    bare again and sandboxed on that spare (warm). The pause is there because on this VM a process that
    has waited that long takes ~15 ms to wake up, whatever it is: compare warm with bare after a pause."""
    program = "print(int(input()) * 2)"
    times: dict[str, list[float]] = {"bare": [], "first": [], "cold": [], "bare_after_pause": [], "warm": []}
    for _ in range(repeats):
        for kind in times:
            if kind == "first":
                _drop_spare()
                _stop_zygotes()
            elif kind == "cold":
                _drop_spare()
            elif kind == "bare_after_pause":
                _spin(0.2)
            elif kind == "warm":
                _spin(0.2)
            began = time.perf_counter()
            if kind.startswith("bare"):
                subprocess.run([python, "-I", "-c", program], input="21\n", capture_output=True, text=True,
                               check=True)
            else:
                run(program, [SandboxTest("stdin", stdin="21\n")], SandboxLimits())
            times[kind].append(time.perf_counter() - began)
    return {kind: statistics.median(values) * 1000 for kind, values in times.items()}


def _cpu_seconds(harness: str, args: argparse.Namespace) -> float | None:
    """CPU seconds that one sequential pass of `harness` over the set's submissions that do not hang costs,
    every process it starts included (perf stat follows them all, reaped or not), less the interpreter and
    imports of the pass itself (harness "none"). Unlike wall clock, the other jobs on the machine barely
    move it. None when perf is missing or not allowed here."""
    command = [sys.executable, __file__, "--one", harness, "--submissions", str(args.submissions),
               "--timeout", str(args.timeout)]
    try:
        done = subprocess.run(["perf", "stat", "-x,", "-e", "task-clock", "--", *command], capture_output=True,
                              text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in done.stderr.splitlines():
        fields = line.split(",")
        if done.returncode == 0 and len(fields) > 2 and fields[2].startswith("task-clock"):
            try:
                return float(fields[0]) / 1000
            except ValueError:
                return None
    return None


def _cpu_ms_per_test(args: argparse.Namespace, tests: int) -> dict[str, float]:
    """Median CPU ms per test of each harness over --rounds passes; {} without perf."""
    passes: dict[str, list[float]] = {}
    for harness in ("none", "rewardkit", "naive"):
        for _ in range(args.rounds):
            seconds = _cpu_seconds(harness, args)
            if seconds is None:
                return {}
            passes.setdefault(harness, []).append(seconds)
    base = statistics.median(passes["none"])
    per_test = {h: (statistics.median(passes[h]) - base) / tests * 1000 for h in ("rewardkit", "naive")}
    return {"cpu_ms_per_test_rewardkit": round(per_test["rewardkit"], 2),
            "cpu_ms_per_test_naive": round(per_test["naive"], 2),
            "cpu_ratio": round(per_test["naive"] / per_test["rewardkit"], 2)}


def _one_pass(harness: str, items: list[tuple[str, Cases]], timeout: float, python: str) -> None:
    for i, (program, cases) in enumerate(items):
        if harness != "none" and KINDS[i % len(KINDS)] != "timeout":
            score(harness, program, cases, timeout, python)


def _check_same(scores: dict[str, list[float]], where: str) -> None:
    ours, theirs = scores["rewardkit"], scores["naive"]
    mismatched = [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if abs(a - b) > 1e-9]
    if mismatched:
        raise SystemExit(f"{where}: the harnesses disagree on submissions {mismatched}: {ours} vs {theirs}")


def _round(workers: int, order: list[str], items: list[tuple[str, Cases]], timeout: float, python: str,
           pools: dict[tuple[str, int], ProcessPoolExecutor]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Seconds for the set per harness, and (one at a time) each submission's seconds."""
    total: dict[str, float] = {}
    each: dict[str, list[float]] = {}
    scores: dict[str, list[float]] = {}
    for harness in order:
        if workers == 1:
            each[harness], scores[harness] = sequential(harness, items, timeout, python)
            total[harness] = sum(each[harness])
        else:
            total[harness], scores[harness] = pooled(pools[harness, workers], harness, items, timeout, python)
    _check_same(scores, f"{workers} worker(s)")
    return total, each


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, medians reported (default 3)")
    parser.add_argument("--submissions", type=int, default=24, help="submissions in the set (default 24)")
    parser.add_argument("--timeout", type=float, default=1.0,
                        help="per-test timeout, seconds, both harnesses (default 1)")
    parser.add_argument("--workers", default=f"1,{os.cpu_count() or 1}",
                        help="concurrency levels, comma-separated (default 1 and one per CPU)")
    parser.add_argument("--one", choices=("rewardkit", "naive", "none"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    levels = sorted({int(w) for w in args.workers.split(",")})
    python = interpreter()  # the same interpreter for both
    items = submissions(args.submissions)
    if args.one:  # the pass _cpu_seconds measures
        _one_pass(args.one, items, args.timeout, python)
        return
    tests = sum(len(cases) for _, cases in items)
    load = os.getloadavg()[0]
    print(f"{len(items)} submissions, {tests} tests, per-test timeout {args.timeout:g} s, python {python}, "
          f"{os.cpu_count()} CPUs, load {load:.2f}", flush=True)
    timing_out = {i for i in range(len(items)) if KINDS[i % len(KINDS)] == "timeout"}
    pools = {(h, w): _pool(w, args.timeout, python) for w in levels if w > 1 for h in ("rewardkit", "naive")}
    _warm_up(args.timeout, python)
    rates: dict[str, list[float]] = {}
    split: dict[str, list[float]] = {}  # one at a time: seconds in the timing-out submissions, and in the rest
    try:
        for round_ in range(args.rounds):
            order = ["rewardkit", "naive"] if round_ % 2 == 0 else ["naive", "rewardkit"]
            for workers in levels:
                total, each = _round(workers, order, items, args.timeout, python, pools)
                for harness, whole in total.items():
                    rates.setdefault(f"{harness}@{workers}", []).append(len(items) / whole)
                for harness, per_submission in each.items():
                    rest = [s for i, s in enumerate(per_submission) if i not in timing_out]
                    rates.setdefault(f"{harness}@1_without_timeouts", []).append(len(rest) / sum(rest))
                    split.setdefault(f"{harness}_s_timing_out", []).append(sum(per_submission) - sum(rest))
                    split.setdefault(f"{harness}_s_rest", []).append(sum(rest))
                print(f"round {round_ + 1}, {workers} worker(s): " + ", ".join(
                    f"{h} {len(items) / total[h]:.2f}/s" for h in ("rewardkit", "naive")), flush=True)
    finally:
        for pool in pools.values():
            pool.shutdown()
    median = {name: statistics.median(values) for name, values in rates.items()}
    report: dict[str, float] = {}
    for workers in levels:
        ours, theirs = median[f"rewardkit@{workers}"], median[f"naive@{workers}"]
        report |= {f"workers_{workers}_rewardkit_submissions_per_s": round(ours, 2),
                   f"workers_{workers}_naive_submissions_per_s": round(theirs, 2),
                   f"workers_{workers}_speedup": round(ours / theirs, 2)}
    rest_tests = sum(len(cases) for i, (_, cases) in enumerate(items) if i not in timing_out)
    if 1 in levels:
        report["workers_1_speedup_without_the_timing_out_submissions"] = round(
            median["rewardkit@1_without_timeouts"] / median["naive@1_without_timeouts"], 2)
        for harness in ("rewardkit", "naive"):
            parts = {part: statistics.median(split[f"{harness}_s_{part}"]) for part in ("timing_out", "rest")}
            prefix = f"workers_1_{harness}"
            report |= {f"{prefix}_s_in_{len(timing_out)}_timing_out_submissions": round(parts["timing_out"], 2),
                       f"{prefix}_s_in_the_other_{len(items) - len(timing_out)}": round(parts["rest"], 2),
                       f"{prefix}_ms_per_test_in_those": round(parts["rest"] / rest_tests * 1000, 2)}
    cpu = _cpu_ms_per_test(args, rest_tests)
    report |= cpu
    if not cpu:
        print("(perf stat is not available here: no CPU figures)")
    cost = overhead(python)
    report |= {"bare_run_ms": round(cost["bare"], 1), "sandboxed_first_run_of_a_worker_ms": round(cost["first"], 1),
               "sandboxed_run_cold_ms": round(cost["cold"], 1),
               "overhead_per_submission_cold_ms": round(cost["cold"] - cost["bare"], 1),
               "bare_run_after_a_pause_ms": round(cost["bare_after_pause"], 1),
               "sandboxed_run_warm_after_a_pause_ms": round(cost["warm"], 1),
               "overhead_per_submission_warm_ms": round(cost["warm"] - cost["bare_after_pause"], 1),
               "load_average_start": round(load, 2), "load_average_end": round(os.getloadavg()[0], 2)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""code_tests: program extraction, test formats, options, scoring, the sandbox API and start-up refusal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

import rewardkit
from rewardkit.sandbox import SandboxError, SandboxLimits, SandboxTest, run
from rewards.code import InvalidTestsError, code_tests
from rewards.code._cases import CallCase, ScriptCase, StdinCase, read_cases
from rewards.code._extract import NoProgram, extract_program
from rewards.code._judge import same_output, same_value
from tests.served import serve
from tests.test_code_hostile import _descendants, _running_with


def fenced(program: str, tag: str = "python") -> str:
    return f"```{tag}\n{program}\n```"


DOUBLE = [{"input": "2\n", "output": "4\n"}, {"input": "3\n", "output": "6\n"}]


# ------------------------------------------------------------------ extraction

def test_the_last_block_in_the_language_wins_and_untagged_is_the_fallback():
    text = f"{fenced('print(1)')}\nthen\n{fenced('echo hi', 'bash')}\n{fenced('print(2)', 'py')}\n"
    assert extract_program(text) == "print(2)\n"
    assert extract_program("```\nprint(3)\n```") == "print(3)\n"
    assert extract_program("print(4)", mode="response") == "print(4)"
    with pytest.raises(NoProgram, match="no ```python block"):
        extract_program("```python\nprint(5)")  # never closed: cut off, not a program


def test_extraction_is_linear_on_a_hostile_response():
    # Unclosed fences of every length: a back-referencing regex rescans to the end for each (minutes here).
    hostile = fenced("print(6)") + "\n" + "````x\n" * 100_000 + "```\n" * 100_000
    began = time.monotonic()
    assert extract_program(hostile) == "print(6)\n"  # the unclosed fence runs to the end, as in CommonMark
    assert time.monotonic() - began < 5.0


def test_thinking_never_counts():
    # DashScope reasoning_content holds a correct program, the answer holds none.
    assert code_tests("I would print the double.", {}, DOUBLE).metrics["no_program"] == 1.0
    client_body = {"func_type": "reward", "ground_truth": DOUBLE, "agent_output": {"messages": [
        {"role": "user", "content": "Double it."},
        {"role": "assistant", "content": "No code today.", "reasoning_content": fenced("print(int(input()) * 2)")}]}}
    app = rewardkit.create_app("rewards")
    from fastapi.testclient import TestClient
    with TestClient(app) as client:
        answer = client.post("/rewards/code_tests/api/v1", json=client_body).json()
    assert answer["status"] == "success" and answer["reward"]["reward_score"] == 0.0


def test_oversize_programs_are_refused_unrun():
    big = "x = 1\n" * 50_000  # ~300 KiB
    score = code_tests(fenced(big), {}, DOUBLE)
    assert score.value == 0.0 and score.metrics["oversize"] == 1.0 and "over the 256 KiB limit" in score.reason
    small = rewardkit.variant(code_tests, "code_small", max_program_kb=0.01)
    assert small(fenced("print(int(input()) * 2)"), {}, DOUBLE).metrics["oversize"] == 1.0


# ------------------------------------------------------------------ formats

def test_dataset_shapes_are_read():
    apps = read_cases({"input_output": json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]})}, "gt")
    assert apps == [StdinCase("1\n", "2\n")]
    taco_lines = read_cases({"inputs": [["1", "2"]], "outputs": [["3"]]}, "gt")
    assert taco_lines == [StdinCase("1\n2\n", "3\n")]
    call = read_cases({"fn_name": "f", "inputs": [[1, 2]], "outputs": [[3]]}, "gt")
    assert call == [CallCase("f", (1, 2), [3])]
    lcb = read_cases({"public_test_cases": json.dumps([{"input": "[1, 2]\n3", "output": "4", "testtype": "functional"},
                                                      {"input": "x\n", "output": "y\n", "testtype": "stdin"}]),
                      "metadata": json.dumps({"func_name": "g"})}, "gt")
    assert lcb == [CallCase("g", ([1, 2], 3), 4), StdinCase("x\n", "y\n")]
    humaneval = read_cases({"test": "def check(candidate):\n    assert candidate(1) == 2\n", "entry_point": "f"}, "gt")
    assert isinstance(humaneval[0], ScriptCase) and humaneval[0].entry_point == "f"
    assert "== 2" not in humaneval[0].script.source  # the expected value stays out of what runs
    mbpp = read_cases(json.dumps({"test_list": ["assert f(1) == 2", "assert f(2) == 3"],
                                  "test_setup_code": "import math"}), "gt")
    assert len(mbpp) == 2 and "import math" in mbpp[0].script.source


@pytest.mark.parametrize("value, message", [
    ({"inputs": ["1"], "outputs": []}, "inputs and outputs must be lists of the same length"),
    ([{"args": [1], "expected": 2}], "needs fn_name"),
    ({"whatever": 1}, "no test cases found"),
    ("[1, 2", "not valid JSON"),
    ([{"input": "1", "output": "2", "testtype": "functional"}], "needs the function's name"),
    ({"test": "x = 1"}, "no assert statement"),
])
def test_unreadable_tests_are_a_dataset_error_naming_the_field(value, message):
    with pytest.raises(InvalidTestsError, match=message):
        read_cases(value, "ground_truth")


def test_missing_tests_fail_the_call_instead_of_scoring_zero():
    with pytest.raises(rewardkit.MissingReferenceError, match="no test cases in the request"):
        code_tests(fenced("print(1)"), {"answer": "1"}, None)
    with pytest.raises(InvalidTestsError, match="style='function'"):
        rewardkit.variant(code_tests, "fn_only", style="function")(fenced("print(1)"), {}, DOUBLE)


def test_livecodebench_functional_tests_call_a_method_of_class_solution():
    tests = {"public_test_cases": json.dumps([{"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]",
                                               "testtype": "functional"},
                                              {"input": "[3, 3]\n6", "output": "[0, 1]", "testtype": "functional"}]),
             "metadata": json.dumps({"func_name": "twoSum"})}
    program = ("class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
               "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
               "                return [seen[target - x], i]\n            seen[x] = i\n")
    assert code_tests(fenced(program), {}, tests).value == 1.0
    assert code_tests(fenced(program.replace("return [seen[target - x], i]", "return [i, seen[target - x]]")),
                      {}, tests).value == 0.0


def test_named_tests_win_over_a_ground_truth_holding_the_reference_solution():
    solution = "def double(x):\n    return 2 * x"
    assert code_tests(fenced("print(int(input()) * 2)"), {"tests": DOUBLE}, solution).value == 1.0


def test_vertex_references_hold_a_json_encoded_list():
    score = code_tests(fenced("print(int(input()) * 2)"), {"tests": json.dumps(DOUBLE)}, None)
    assert score.value == 1.0 and score.metrics == {"passed": 2.0, "total": 2.0, "pass_rate": 1.0}


# ------------------------------------------------------------------ comparison and scoring

def test_output_comparison_normalises_whitespace_and_optionally_floats():
    assert same_output("1 2  \n3\n\n\n", "1 2\n3")
    assert not same_output("1 2 3", "1 2\n3")
    assert not same_output("0.3333", "0.333333")
    assert same_output("0.3333 x", "0.333333 x", tolerance=1e-3)
    assert not same_output("0.3333 y", "0.333333 x", tolerance=1e-3)
    assert same_value((1, [2.0]), [1, [2]]) and not same_value(True, 1) and not same_value(1, True)
    assert same_value(0.1 + 0.2, 0.3, tolerance=1e-9) and not same_value(0.1 + 0.2, 0.3)
    assert same_value({1: "a"}, {"1": "a"}) and same_value({3, 1}, [1, 3])


def test_float_tolerance_and_all_or_nothing_options():
    tests = [{"input": "3\n", "output": "0.333333\n"}, {"input": "4\n", "output": "0.25\n"}]
    program = fenced("print(round(1 / int(input()), 4))")
    assert code_tests(program, {}, tests).value == 0.5
    assert rewardkit.variant(code_tests, "tolerant", float_tolerance=1e-3)(program, {}, tests).value == 1.0
    strict = rewardkit.variant(code_tests, "strict", scoring="all")(program, {}, tests)
    assert strict.value == 0.0 and strict.metrics["pass_rate"] == 0.5 and strict.metrics["first_failure.WRONG_ANSWER"]


@pytest.mark.parametrize("options, message", [
    ({"scoring": "most"}, "option 'scoring': expected 'fraction' or 'all', got 'most'"),
    ({"language": "cpp"}, "needs backend='sandboxfusion'"),
    ({"backend": "sandboxfusion"}, "needs sandbox_url"),
    ({"timeout_seconds": 0}, "timeout_seconds must be a positive number"),
    ({"isolation": "off"}, "option 'isolation': expected 'require' or 'none', got 'off'"),
])
def test_bad_options_fail_when_the_variant_is_made(options, message):
    with pytest.raises(rewardkit.RegistrationError, match=message):
        rewardkit.variant(code_tests, "bad", **options)


# ------------------------------------------------------------------ the sandbox API

def test_run_reports_observations_not_verdicts():
    result = run("import sys\nprint(input()[::-1])\nprint('oops', file=sys.stderr)",
                 [SandboxTest("stdin", stdin="abc\n"), SandboxTest("stdin")])
    assert result.isolated and result.tests[0].stdout == "cba\n" and "oops" in result.tests[0].stderr
    assert result.tests[1].exception["exception"] == "EOFError"
    assert run("def f(:\n", [SandboxTest("stdin")]).syntax_error.startswith("SyntaxError")


def test_one_test_cannot_leave_state_for_the_next():
    program = ("import builtins\nseen = getattr(builtins, 'seen', 0)\nbuiltins.seen = seen + 1\n"
               "open('mark', 'a')\nprint(seen)")
    result = run(program, [SandboxTest("stdin")] * 3)
    assert [t.stdout for t in result.tests] == ["0\n"] * 3


def test_a_timeout_on_one_test_still_runs_every_later_test():
    # The score is the true fraction passed: the test that hangs is killed, and the ones after it run and
    # count, whatever they do (here: pass, fail, pass, and hang again), each with its own full time limit.
    program = ("n = int(input())\nwhile n in (2, 5):\n    pass\n"
               "print(-1 if n == 4 else n * 2)")
    tests = [{"input": f"{n}\n", "output": f"{n * 2}\n"} for n in range(1, 7)]
    scored = code_tests(fenced(program), {}, tests, timeout_seconds=0.5)
    assert scored.value == 3 / 6 and scored.metrics["passed"] == 3.0 and scored.metrics["first_failure.TIME_LIMIT"]
    result = run(program, [SandboxTest("stdin", stdin=t["input"]) for t in tests], SandboxLimits(timeout_seconds=0.5))
    assert [t.status for t in result.tests] == ["finished", "timeout", "finished", "finished", "timeout", "finished"]
    assert [t.stdout for t in result.tests] == ["2\n", "", "6\n", "-1\n", "", "12\n"]
    assert all(t.seconds >= 0.5 for t in result.tests if t.status == "timeout")


def test_limits_are_checked():
    with pytest.raises(ValueError, match="memory_mb must be a positive number"):
        SandboxLimits(memory_mb=0)
    with pytest.raises(ValueError, match="isolation must be 'require' or 'none'"):
        run("print(1)", [], isolation="off")  # type: ignore[arg-type]


def test_a_sandbox_that_cannot_start_is_sandbox_error():
    with pytest.raises(SandboxError, match="cannot start the sandbox") as caught:
        run("print(1)", [SandboxTest("stdin")], python="/nonexistent/python3")
    assert caught.value.code == "SANDBOX_ERROR"


def test_without_isolation_it_still_runs_and_says_so():
    result = run("print(2 * int(input()))", [SandboxTest("stdin", stdin="4")], isolation="none")
    assert not result.isolated and result.tests[0].stdout == "8\n"


# ------------------------------------------------------------------ start-up

def test_a_host_that_cannot_isolate_says_so_and_answers_sandbox_error_but_serves_the_rest():
    # A sandbox that cannot start stands for a host without namespaces: the probe fails the same way.
    env = {"REWARDKIT_SANDBOX_PYTHON": "/nonexistent/python3"}
    call = {"func_type": "reward", "ground_truth": DOUBLE,
            "agent_output": {"messages": [{"role": "assistant", "content": fenced("print(1)")}]}}
    with serve(["rewards"], env=env, timeout=30) as served:
        log = served.output()
        assert "this host cannot isolate model code" in log and "REWARDKIT_SANDBOX_ISOLATION=none" in log
        answer = httpx.post(f"{served.url}/rewards/code_tests/api/v1", timeout=30, json=call).json()
        assert answer["status"] == "failed" and answer["error_code"] == "SANDBOX_ERROR"
        assert "cannot isolate model code" in answer["error"]  # never run unisolated, never a score
        math = httpx.post(f"{served.url}/rewards/math_accuracy", timeout=30, json={
            "example": {"contents": [{"role": "user", "parts": [{"text": "6*12?"}]}], "references": {"answer": "72"}},
            "response": {"role": "model", "parts": [{"text": "\\boxed{72}"}]}})
        assert math.status_code == 200 and math.json()["reward"] == 1.0
    with serve(["rewards"], env={**env, "REWARDKIT_SANDBOX_ISOLATION": "none"}) as served:
        assert "SANDBOX ISOLATION IS OFF" in served.output()
        answer = httpx.post(f"{served.url}/rewards/code_tests/api/v1", timeout=30, json=call).json()
        assert answer["status"] == "failed" and answer["error_code"] == "SANDBOX_ERROR"


# ------------------------------------------------------------------ assertion plans

def test_asserts_are_judged_outside_on_plain_values():
    from rewards.code._asserts import evaluate, split

    script = split("assert 0 < f(x) <= 10\nassert f(1) is None or f(1) in [1, 2]\nassert not g()\n"
                   "assert sorted(h()) == [1, 2, 3]\nassert 1 == 2\n")
    assert script.static_failures == ("assert 1 == 2",)
    chained, either, negated, ordered = script.plans
    assert "10" not in script.source and "[1, 2, 3]" not in script.source
    assert evaluate(chained.expression, [5]) and not evaluate(chained.expression, [11])
    assert evaluate(either.expression, [None, 3]) and not evaluate(either.expression, [3, 3])
    assert evaluate(negated.expression, [0]) and not evaluate(negated.expression, [[1]])
    assert evaluate(ordered.expression, [[3, 1, 2]])
    # Python's operators on the program's plain values, bounded: a list repeated is a list, never 4.
    assert evaluate(split("assert f() * 2 == 4").plans[0].expression, [[1, 2]]) is False
    with pytest.raises(TypeError):
        evaluate(split("assert f() - 2 == 4").plans[0].expression, [[1, 2]])


# ------------------------------------------------------------------ spares and users

def test_a_dead_spare_is_replaced_without_failing_the_call():
    from rewardkit.sandbox import _runner

    run("print(1)", [SandboxTest("stdin")])  # leaves a spare
    spare = _runner._spare
    assert spare is not None and spare.alive()
    os.kill(spare.pid, signal.SIGKILL)  # a zombie of the zygote's now: dead, its pid not yet reusable
    deadline = time.monotonic() + 10
    while spare.alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not spare.alive()
    assert run("print(2)", [SandboxTest("stdin")]).tests[0].stdout == "2\n"


def test_the_program_holds_no_descriptor_of_the_zygote_or_of_another_submission():
    # Launchers are forked from a zygote that holds the worker's socket and, for a moment, each new sandbox's
    # pipes: a test must see only its stdin, stdout, stderr and its frame channel.
    program = ("import os\nopened = []\nfor fd in range(1024):\n    try:\n        os.fstat(fd)\n"
               "        opened.append(fd)\n    except OSError:\n        pass\nprint(opened)")
    run("print(1)", [SandboxTest("stdin")])  # a spare is waiting, with its own pipes, while the next runs
    for isolation in ("require", "none"):
        assert run(program, [SandboxTest("stdin")], isolation=isolation).tests[0].stdout == "[0, 1, 2, 3]\n"


def test_a_sandbox_discarded_as_soon_as_it_is_forked_is_killed_and_reaped():
    # Threads replace each other's spares at once: a launcher may be discarded before it leads its own
    # group. It must still die (the zygote's reap waits for it; a miss once hung every start for 10 s).
    from rewardkit.sandbox import _runner

    key = (_runner.interpreter(), "require", 64)
    began = time.monotonic()
    for _ in range(30):
        _runner._discard(_runner._start(key))
    assert time.monotonic() - began < _runner.STARTUP_SLACK
    assert run("print(1)", [SandboxTest("stdin")]).tests[0].stdout == "1\n"


def test_sandboxes_are_forked_by_one_warm_zygote_which_is_replaced_if_it_dies():
    # The interpreter start and its imports are paid once per worker: every sandbox is a fork of the zygote.
    from rewardkit.sandbox import _runner

    run("print(1)", [SandboxTest("stdin")])
    zygote, spare = _runner._zygotes[_runner.interpreter()], _runner._spare
    assert spare is not None and _descendants(zygote.process.pid).get(spare.pid, (None,))[0] == zygote.process.pid
    os.killpg(zygote.process.pid, signal.SIGKILL)
    zygote.process.wait()
    # The orphaned spare still serves (and ends by its lifeline), then a new zygote starts the next one.
    assert [run(f"print({n})", [SandboxTest("stdin")]).tests[0].stdout for n in (2, 3)] == ["2\n", "3\n"]
    assert _runner._zygotes[_runner.interpreter()] is not zygote and _runner._zygotes[_runner.interpreter()].alive()


def test_a_sandbox_outlives_the_thread_that_started_it():
    # Threads of a pool (serve --workers 0, replay) start spares that other threads use: the end of the
    # thread that started a sandbox must not end the sandbox (a parent-death signal would: it is per thread).
    first = threading.Thread(target=run, args=("import time\ntime.sleep(0.5)\nprint(1)", [SandboxTest("stdin")]))
    first.start()  # takes a sandbox and starts the spare the run below takes
    time.sleep(0.2)
    result = run("import time\ntime.sleep(0.4)\nprint(2)", [SandboxTest("stdin")] * 2)  # `first` ends meanwhile
    first.join()
    assert [t.stdout for t in result.tests] == ["2\n", "2\n"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to become another user")
def test_an_unprivileged_user_like_the_images_can_run_the_sandbox(tmp_path):
    # The Docker image runs as uid 10001 with no capability: the same sandbox, no root involved.
    script = ("from rewardkit.sandbox import check_isolation, run, SandboxTest\n"
              "check_isolation()\n"
              "r = run(\"import os, socket\\nprint(os.getuid())\\n"
              "try:\\n    open('/tmp/escape', 'w')\\nexcept OSError:\\n    print('ro')\\n"
              "try:\\n    socket.create_connection(('127.0.0.1', 1), timeout=1)\\nexcept OSError as e:\\n"
              "    print(e.errno)\", [SandboxTest('stdin')])\n"
              "print(r.isolated, r.tests[0].stdout.split())\n"
              # without isolation the process limit counts this user's other threads too (a server has many)
              "import threading\nstop = threading.Event()\n"
              "for _ in range(30):\n    threading.Thread(target=stop.wait, daemon=True).start()\n"
              "print(run('print(7)', [SandboxTest('stdin')], isolation='none').tests[0].stdout.strip())\n"
              "stop.set()\n"
              # a Unix socket of this user (the forkserver's lives in the temp dir like this) stays out of reach:
              # a read-only mount does not stop a connect
              "import os, socket, tempfile\npath = os.path.join(tempfile.mkdtemp(prefix='pymp-'), 'listener')\n"
              "server = socket.socket(socket.AF_UNIX)\nserver.bind(path)\nserver.listen(1)\n"
              "probe = 'import socket\\ntry:\\n    socket.socket(socket.AF_UNIX).connect(%r)\\n    print(\"in\")\\n'"
              " 'except OSError:\\n    print(\"out\")' % path\n"
              "print(run(probe, [SandboxTest('stdin')]).tests[0].stdout.strip())\n")
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(["setpriv", "--reuid=10001", "--regid=10001", "--clear-groups", "/usr/bin/python3", "-c",
                           script], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-4:-1] == ["True ['10001', 'ro', '101']", "7", "out"]  # 101: ENETUNREACH


def test_a_killed_worker_takes_its_sandbox_along(tmp_path):
    # What the pool does to a worker whose call overran: SIGKILL. The sandbox must not outlive it.
    token = uuid.uuid4().hex
    # The token is put together inside, so only the sandboxed `sh` holds it whole (not the worker's -c).
    program = f"import os\nos.execv('/bin/sh', ['sh', '-c', 'sleep 60; : {token[:16]}' + '{token[16:]}'])"
    script = ("import sys\nfrom rewardkit.sandbox import run, SandboxLimits, SandboxTest\n"
              f"run({program!r}, [SandboxTest('stdin')], SandboxLimits(timeout_seconds=60, total_seconds=60))\n")
    worker = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent)
    try:
        deadline = time.monotonic() + 20
        while not _running_with(token):
            assert time.monotonic() < deadline and worker.poll() is None, "the program never started"
            time.sleep(0.05)
        zygotes = [pid for pid, (_, command) in _descendants(worker.pid).items() if "--zygote" in command]
    finally:
        worker.kill()
        worker.wait()
    assert zygotes

    def zygotes_left() -> list[int]:
        left = []
        for pid in zygotes:
            try:
                if b"--zygote" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    left.append(pid)
            except OSError:
                continue
        return left
    deadline = time.monotonic() + 10
    while (_running_with(token) or zygotes_left()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running_with(token) == [] and zygotes_left() == []


def test_a_trainer_gets_the_same_metric_keys_from_every_code_tests_call():
    """verl gathers every item's metrics into one list per key: code_tests declares the keys its calls report
    (the per-verdict first_failure.* indicators aside), so a trainer sees them on every item."""
    from rewardkit._registry import metric_keys, spec_of

    declared = set(metric_keys(spec_of(code_tests)))
    responses = [fenced("print(2 * int(input()))"), fenced("print(int(input()))"), "I would print the double.",
                 fenced("x = 1\n" * 200_000)]
    for response in responses:
        score = code_tests(response, {}, DOUBLE)
        reported = {f"code_tests.{k}" for k in score.metrics if not k.startswith("first_failure.")}
        assert reported and reported <= declared, reported - declared

"""Sandbox backends: the local and SandboxFusion ones behind one `Backend` interface, and one from outside
rewardkit through the `rewardkit.sandbox_backends` entry points, scoring code_tests in a real `rewardkit serve`.

`tests/toy_sandbox_backend/` is laid out as an installed package (a module and its `.dist-info` with
`entry_points.txt`); on PYTHONPATH, `importlib.metadata` finds it as it would after `pip install`.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import rewardkit
import rewardkit.sandbox as sandbox
from rewardkit import RegistrationError
from rewardkit.sandbox import (
    Backend,
    RunOptions,
    RunResult,
    SandboxError,
    SandboxLimits,
    SandboxTest,
    TestRun,
    Verdict,
    get,
    register,
    registered,
)
from rewardkit.testing import request
from rewards.code import code_tests, require_isolation
from tests.served import Served, serve

TOY = Path(__file__).resolve().parent / "toy_sandbox_backend"
REWARDS = str(Path(__file__).resolve().parent / "sandbox_backend_rewards.py")
# Doubles its input; "loop" never ends.
PROGRAM = "```python\nn = input()\nwhile n == 'loop':\n    pass\nprint(int(n) * 2)\n```"
TESTS = {"inputs": ["2\n", "3\n", "loop\n"], "outputs": ["4\n", "7\n", "0\n"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    log = tmp_path_factory.mktemp("toy") / "runs.log"
    log.touch()
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TOY), os.environ.get("PYTHONPATH")])),
           "TOY_SANDBOX_LOG": str(log), "REWARDKIT_SANDBOX_BACKEND": "toy_subprocess"}
    with serve([REWARDS, "--workers", "1"], env=env, timeout=90) as running:
        yield running, log


def score(served: Served, name: str, tests: Any = TESTS) -> tuple[int, dict[str, Any], dict[str, float]]:
    body = request("vertex", PROGRAM, references={"tests": json.dumps(tests)})[0]
    answer = httpx.post(f"{served.url}/rewards/{name}", json=body, timeout=60)
    data = answer.json()
    metrics = json.loads(data["user_requested_aux_info"])["metrics"] if "user_requested_aux_info" in data else {}
    return answer.status_code, data, metrics


def test_a_plugin_backend_named_in_the_options_scores_code_tests(served: tuple[Served, Path]) -> None:
    running, log = served
    status, data, metrics = score(running, "toy_code")
    assert status == 200 and data["reward"] == pytest.approx(1 / 3), data
    # The per-test verdicts are the closed set, whichever backend ran: the loop is TIME_LIMIT, a verdict,
    # not the call's TIMEOUT failure (the call was scored).
    assert metrics["first_failure.WRONG_ANSWER"] == 1.0 and metrics["passed"] == 1.0, metrics
    only_loop = {"inputs": ["2\n", "loop\n"], "outputs": ["4\n", "0\n"]}
    status, data, metrics = score(running, "toy_code", only_loop)
    assert status == 200 and data["reward"] == 0.5 and metrics["first_failure.TIME_LIMIT"] == 1.0, data
    assert "test 2 TIME_LIMIT" in data["user_requested_aux_info"]
    runs = log.read_text().splitlines()
    assert len(runs) == 5 and all("while n == 'loop'" in line for line in runs), runs  # all through the toy


def test_the_service_setting_picks_the_backend_of_rewards_that_name_none(served: tuple[Served, Path]) -> None:
    running, log = served
    before = len(log.read_text().splitlines())
    status, data, _ = score(running, "code_tests", {"inputs": ["5\n"], "outputs": ["10\n"]})
    assert status == 200 and data["reward"] == 1.0, data
    assert len(log.read_text().splitlines()) == before + 1  # REWARDKIT_SANDBOX_BACKEND=toy_subprocess
    # A variant naming a backend keeps it: the local sandbox runs this one, the toy sees nothing.
    status, data, metrics = score(running, "local_code", {"inputs": ["5\n", "6\n"], "outputs": ["10\n", "1\n"]})
    assert status == 200 and data["reward"] == 0.5 and metrics["first_failure.WRONG_ANSWER"] == 1.0, data
    assert len(log.read_text().splitlines()) == before + 1


def test_an_unknown_backend_is_refused_at_variant_and_at_start_up_naming_the_known_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RegistrationError, match=r"no sandbox backend 'firecrackr'; registered: local, sandboxfusion"):
        rewardkit.variant(code_tests, "typo", backend="firecrackr")
    monkeypatch.setenv("REWARDKIT_SANDBOX_BACKEND", "gvisr")
    with pytest.raises(RegistrationError, match=r"no sandbox backend 'gvisr'; registered: local, sandboxfusion"):
        require_isolation()  # code_tests' setup: the service does not start


def test_a_backend_missing_run_is_refused_naming_it_and_a_taken_name_naming_both_modules() -> None:
    class Half(Backend):  # named, but runs nothing
        name = "half"

    with pytest.raises(TypeError, match=r"Half does not implement run"):
        register(Half)

    class Impostor(Backend):
        name = "local"

        def run(self, program: str, tests: Sequence[SandboxTest], limits: SandboxLimits,
                options: RunOptions) -> RunResult:
            raise AssertionError

    with pytest.raises(RegistrationError, match=r"same name as the registered backend from "
                                                r"rewardkit.sandbox.backends.local"):
        register(Impostor)
    assert [b.name for b in registered()][:2] == ["local", "sandboxfusion"]


class Broken(Backend):
    """Answers the wrong number of tests, or a status outside the closed set."""

    name = "broken_for_tests"
    answer: tuple[TestRun, ...] = ()

    def run(self, program: str, tests: Sequence[SandboxTest], limits: SandboxLimits,
            options: RunOptions) -> RunResult:
        return RunResult(tests=self.answer)


@pytest.mark.parametrize("answer, message", [
    ((TestRun(0, "finished", exit=0, stdout="4\n"),), r"reported tests \[0\] for 2 tests"),
    ((TestRun(0, "finished", exit=0, stdout="4\n"), TestRun(1, "crashed")), r"reported test status 'crashed'"),
])
def test_a_backend_that_breaks_the_contract_fails_the_call_never_a_score(answer: tuple[TestRun, ...],
                                                                         message: str) -> None:
    backend = register(Broken)
    assert isinstance(backend, Broken)
    backend.answer = answer
    broken = rewardkit.variant(code_tests, "on_broken", backend="broken_for_tests")
    with pytest.raises(SandboxError, match=message) as caught:
        broken(PROGRAM, {}, [{"input": "2\n", "output": "4\n"}, {"input": "3\n", "output": "6\n"}])
    assert caught.value.code == "SANDBOX_ERROR"


def test_the_package_exports_what_users_and_backend_authors_need_and_old_names_warn() -> None:
    assert set(sandbox.__all__) == {"Backend", "RunOptions", "register", "get", "registered", "run",
                                    "check_isolation", "SandboxLimits", "SandboxTest", "RunResult", "TestRun",
                                    "Verdict", "decode_value", "SandboxError"}
    assert repr(SandboxLimits) == "<class 'rewardkit.sandbox.SandboxLimits'>"
    assert repr(Backend) == "<class 'rewardkit.sandbox.Backend'>" and repr(Verdict.PASSED) == "<Verdict.PASSED: " \
        "'PASSED'>"
    assert f"{Verdict.TIME_LIMIT}" == str(Verdict.TIME_LIMIT) == "TIME_LIMIT"
    with pytest.warns(DeprecationWarning, match=r"rewardkit.sandbox.TIMEOUT is deprecated.*"
                                                r"rewardkit.sandbox.Verdict.TIME_LIMIT"):
        assert sandbox.TIMEOUT == "TIME_LIMIT"
    with pytest.warns(DeprecationWarning, match=r"use rewardkit.sandbox.backends.local.interpreter"):
        assert sandbox.interpreter is sandbox.backends.local.interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get("sandboxfusion").name == "sandboxfusion" and sandbox.Verdict.PASSED == "PASSED"
    with pytest.raises(AttributeError):
        sandbox.nothing_here  # noqa: B018

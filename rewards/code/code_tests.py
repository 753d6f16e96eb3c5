"""Code-execution rewards: run the model's program against the request's tests, in a sandbox.

Extract the program (rewards.code._extract), read the tests (._cases), run
them all on one sandbox backend (the local namespace sandbox, a SandboxFusion
service, or a plug-in: rewardkit.sandbox.backends), judge each test here,
outside the program (._judge).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Mapping, Sequence

from annotated_types import Ge, Gt

from rewardkit import RegistrationError, Score, reward
from rewardkit.sandbox import RunOptions, SandboxError, SandboxLimits, SandboxTest, Verdict
from rewardkit.sandbox import get as get_backend
from rewardkit.sandbox.backends import default as default_backend
from rewardkit.sandbox.backends import run_on

from ..common.options import OptionError
from ._cases import STYLES, CallCase, Case, InvalidTestsError, StdinCase, find_cases
from ._extract import NoProgram, extract_program
from ._judge import Judged, judge, syntax_error

__all__ = ["code_tests", "InvalidTestsError", "SandboxError"]


def require_isolation() -> None:
    """Start-up (the reward's setup): the service's backend (REWARDKIT_SANDBOX_BACKEND, else local) checks it can
    run, and an unknown name stops the service naming the known ones. The local backend, on a host that cannot
    isolate model code, says so loudly and answers its calls SANDBOX_ERROR; the service still starts."""
    get_backend(default_backend()).start()


def _run_options(language: str, isolation: str, sandbox_url: str | None, max_concurrency: float,
                 retries: int) -> RunOptions:
    return RunOptions(language=language, isolation=isolation, url=sandbox_url,  # type: ignore[arg-type]
                      max_concurrency=int(max_concurrency), retries=retries)


def check_options(*, language: str, backend: str | None, sandbox_url: str | None, isolation: str,
                  max_concurrency: int, retries: int, timeout_seconds: float, total_timeout_seconds: float,
                  memory_mb: int, **_: Any) -> None:
    """code_tests' rules across options (each option's type and bounds are in code_tests' signature): the
    backend, by name among the registered sandbox backends, and what that backend can honour."""
    try:
        chosen = get_backend(backend or default_backend())
    except RegistrationError as exc:
        raise OptionError(f"backend: {exc}") from None
    try:
        chosen.check(_run_options(language, isolation, sandbox_url, max_concurrency, retries))
        SandboxLimits(timeout_seconds=timeout_seconds, total_seconds=total_timeout_seconds, memory_mb=memory_mb)
    except ValueError as exc:
        raise OptionError(str(exc)) from None


def _sandbox_test(case: Case) -> SandboxTest:
    if isinstance(case, StdinCase):
        return SandboxTest("stdin", stdin=case.input)
    if isinstance(case, CallCase):
        return SandboxTest("call", fn=case.fn, args=case.args)
    return SandboxTest("script", script=case.script.source, entry_point=case.entry_point)


def _metrics(verdicts: Sequence[Judged], total: int) -> dict[str, float]:
    passed = sum(v.verdict == Verdict.PASSED for v in verdicts)
    metrics = {"passed": float(passed), "total": float(total), "pass_rate": passed / total if total else 0.0}
    first = next((v for v in verdicts if v.verdict != Verdict.PASSED), None)
    if first is not None:
        metrics[f"first_failure.{first.verdict}"] = 1.0
    return metrics


def _score(verdicts: Sequence[Judged], scoring: str) -> Score:
    total = len(verdicts)
    metrics = _metrics(verdicts, total)
    passed = int(metrics["passed"])
    value = (1.0 if passed == total else 0.0) if scoring == "all" else passed / total
    failed = [(i, v) for i, v in enumerate(verdicts) if v.verdict != Verdict.PASSED]
    if not failed:
        return Score(value, f"all {total} test{'s' if total != 1 else ''} passed", metrics)
    index, first = failed[0]
    detail = f": {first.detail}" if first.detail else ""
    return Score(value, f"{passed}/{total} tests passed; first failure: test {index + 1} {first.verdict}{detail}",
                 metrics)


def _nothing_to_run(reason: str, total: int, metric: str) -> Score:
    return Score(0.0, reason, {"passed": 0.0, "total": float(total), "pass_rate": 0.0, metric: 1.0})


@reward(setup=require_isolation, check_options=check_options,
        metrics=["passed", "total", "pass_rate", "no_program", "oversize"])
def code_tests(response: str, references: Mapping[str, Any], ground_truth: Any = None,
               language: str = "python", extract: Literal["fenced", "response"] = "fenced",
               style: Literal["auto", "stdin", "function", "assert"] = "auto",
               scoring: Literal["fraction", "all"] = "fraction",
               float_tolerance: Annotated[float, Ge(0)] | None = None, tests_key: str = "tests",
               max_program_kb: Annotated[float, Gt(0)] = 256, timeout_seconds: float = 2.0,
               total_timeout_seconds: float = 30.0, memory_mb: int = 256,
               isolation: Literal["require", "none"] = "require", backend: str | None = None,
               sandbox_url: str | None = None, max_concurrency: Annotated[int, Gt(0)] = 8,
               retries: Annotated[int, Ge(0)] = 2) -> Score:
    """Run the program in the response against the request's tests; the fraction that pass (or all-or-nothing).

    The program: the last ```python block of the answer (thinking never counts),
    or the whole answer with extract="response". Tests: Vertex
    `references.tests` (a JSON-encoded string), DashScope `ground_truth` or
    `rollout_extra.tests`; stdin/stdout, function or assertion cases, in the
    APPS/TACO, LiveCodeBench, HumanEval and MBPP shapes (docs/code.md).
    Metrics: passed, total, pass_rate, first_failure.<VERDICT>. `backend`
    names where programs run (default: REWARDKIT_SANDBOX_BACKEND, else
    "local"). A sandbox that fails is an error (SANDBOX_ERROR), never a score.
    """
    cases = find_cases(references or {}, ground_truth, tests_key)
    if style != "auto":
        wrong = [c for c in cases if not isinstance(c, STYLES[style])]
        if wrong:
            raise InvalidTestsError(f"style={style!r}, but the request holds {type(wrong[0]).__name__} tests")
    try:
        program = extract_program(response, language, extract)
    except NoProgram as exc:
        return _nothing_to_run(str(exc), len(cases), "no_program")
    size = len(program.encode("utf-8", "surrogatepass"))
    if size > max_program_kb * 1024:
        return _nothing_to_run(f"the program is {size / 1024:.0f} KiB, over the {max_program_kb:g} KiB limit",
                               len(cases), "oversize")
    limits = SandboxLimits(timeout_seconds=timeout_seconds, total_seconds=total_timeout_seconds, memory_mb=memory_mb)
    tests = [_sandbox_test(c) for c in cases]
    result = run_on(backend or default_backend(), program, tests, limits,
                    _run_options(language, isolation, sandbox_url, max_concurrency, retries))
    if result.syntax_error is not None:
        return _score([syntax_error(result.syntax_error)] * len(cases), scoring)
    return _score([judge(case, test_run, float_tolerance) for case, test_run in zip(cases, result.tests, strict=True)],
                  scoring)


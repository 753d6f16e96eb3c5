"""Run model-written programs against tests: isolated, limited, and without a way to forge the verdict.

    from rewardkit.sandbox import SandboxLimits, SandboxTest, run
    result = run("print(int(input()) * 2)", [SandboxTest("stdin", stdin="21\\n")])
    result.tests[0].stdout   # '42\\n'

`run` reports what each test did (its output, return value, exception, or
the limit it hit); deciding pass or fail is the caller's job, outside the
sandbox, so expected values never enter it. See docs/code.md.
"""

from ._child import decode as decode_value
from ._runner import check_isolation, interpreter, run, warn_unisolated
from ._types import (
    CATEGORIES,
    MEMORY_LIMIT,
    OUTPUT_LIMIT,
    PASSED,
    RUNTIME_ERROR,
    SANDBOX_ERROR,
    SYNTAX_ERROR,
    TIMEOUT,
    WRONG_ANSWER,
    Isolation,
    RunResult,
    SandboxError,
    SandboxLimits,
    SandboxTest,
    TestRun,
)

__all__ = [
    "run", "check_isolation", "interpreter", "warn_unisolated", "decode_value", "SandboxLimits", "SandboxTest",
    "RunResult", "TestRun",
    "SandboxError", "Isolation", "CATEGORIES", "PASSED", "WRONG_ANSWER", "RUNTIME_ERROR", "TIMEOUT",
    "MEMORY_LIMIT", "OUTPUT_LIMIT", "SYNTAX_ERROR", "SANDBOX_ERROR",
]

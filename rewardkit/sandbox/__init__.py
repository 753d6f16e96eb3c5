"""Run model-written programs against tests: isolated, limited, and without a way to forge the verdict.

    from rewardkit.sandbox import SandboxLimits, SandboxTest, run
    result = run("print(int(input()) * 2)", [SandboxTest("stdin", stdin="21\\n")])
    result.tests[0].stdout   # '42\\n'

`run` (the local backend) reports what each test did (its output, return value,
exception, or the limit it hit); deciding its `Verdict` is the caller's job,
outside the sandbox, so expected values never enter it. Programs can run
elsewhere through a `Backend` (SandboxFusion built in; a plug-in is one module,
see `rewardkit.sandbox.backends`). See docs/code.md.
"""

import functools
import warnings
from collections.abc import Callable
from typing import Any

from ._child import decode as decode_value
from ._runner import check_isolation, run
from ._types import RunResult, SandboxError, SandboxLimits, SandboxTest, TestRun, Verdict
from .backends import Backend, RunOptions, get, register, registered

__all__ = [
    "Backend", "RunOptions", "register", "get", "registered", "run", "check_isolation",
    "SandboxLimits", "SandboxTest", "RunResult", "TestRun", "Verdict", "decode_value", "SandboxError",
]

# Names this package exported before its backends: still served, with a DeprecationWarning naming the new
# path, for one release (then removed). name -> (where it lives now, how to get it from there).
_MOVED: dict[str, tuple[str, Callable[[], Any]]] = {
    **{name: (f"rewardkit.sandbox.Verdict.{name}", functools.partial(getattr, Verdict, name))
       for name in ("PASSED", "WRONG_ANSWER", "RUNTIME_ERROR", "MEMORY_LIMIT", "OUTPUT_LIMIT", "SYNTAX_ERROR")},
    # The per-test verdict was named like a call's TIMEOUT failure code; it is its own name now.
    "TIMEOUT": ("rewardkit.sandbox.Verdict.TIME_LIMIT", lambda: Verdict.TIME_LIMIT),
    "CATEGORIES": ("tuple(rewardkit.sandbox.Verdict) (SANDBOX_ERROR is a call's failure code, not a verdict)",
                   lambda: (*Verdict, SandboxError.code)),
    "SANDBOX_ERROR": ("rewardkit.sandbox.SandboxError.code", lambda: SandboxError.code),
    "Isolation": ("rewardkit.sandbox.backends.local.Isolation", lambda: _local().Isolation),
    "interpreter": ("rewardkit.sandbox.backends.local.interpreter", lambda: _local().interpreter),
    "warn_unisolated": ("rewardkit.sandbox.backends.local.warn_unisolated", lambda: _local().warn_unisolated),
}


def _local() -> Any:
    from .backends import local

    return local


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        where, value = _MOVED[name]
        warnings.warn(f"rewardkit.sandbox.{name} is deprecated and goes in the next release: use {where}",
                      DeprecationWarning, stacklevel=2)
        return value()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

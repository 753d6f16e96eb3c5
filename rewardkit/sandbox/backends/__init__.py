"""Sandbox backends: one module per place programs run, and the registry code_tests looks names up in.

Add one without touching rewardkit: subclass `Backend` (one method, `run`), then either call
`register(MyBackend())` in the module that defines your rewards, or declare it in your
package's metadata::

    [project.entry-points."rewardkit.sandbox_backends"]
    firecracker = "mypackage.firecracker:FirecrackerBackend"

The entry point names a `Backend` subclass or instance; it is loaded the first time a backend
is looked up by name. See docs/code.md ("Sandbox backends") and docs/architecture.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..._plugins import Registry
from .._types import TEST_STATUSES, RunResult, SandboxError, SandboxLimits, SandboxTest
from .base import Backend, RunOptions

__all__ = ["Backend", "RunOptions", "ENTRY_POINT_GROUP", "DEFAULT", "BACKEND_ENV", "default", "get", "register",
           "registered", "run_on"]

ENTRY_POINT_GROUP = "rewardkit.sandbox_backends"
DEFAULT = "local"
BACKEND_ENV = "REWARDKIT_SANDBOX_BACKEND"  # the service's backend when a reward's options name none
_BUILTIN = ("local", "sandboxfusion")  # modules, imported when first listed

_registry = Registry[Backend](Backend, "rewardkit.sandbox.Backend", "sandbox backend", ("name",),
                              (__name__, _BUILTIN, "BACKEND", ENTRY_POINT_GROUP))
# register(backend): make it available as backend="<its name>" (a class is instantiated; again: a no-op).
# registered(): every backend, the built-in ones first. get(name): the backend called name (a Backend
# passes through); RegistrationError listing the registered names when there is none.
register, registered, get = _registry.register, _registry.registered, _registry.get


def default() -> str:
    """The service's backend: REWARDKIT_SANDBOX_BACKEND, else "local"."""
    return os.environ.get(BACKEND_ENV, "").strip() or DEFAULT


def run_on(backend: str | Backend, program: str, tests: Sequence[SandboxTest], limits: SandboxLimits,
           options: RunOptions) -> RunResult:
    """`backend`'s run, its answer held to the contract: one TestRun per test, in order, each in TEST_STATUSES.

    A backend that answers otherwise is broken, not the program: SandboxError, never a score."""
    chosen = get(backend)
    result = chosen.run(program, tests, limits, options)
    if not isinstance(result, RunResult):
        raise SandboxError(f"sandbox backend {chosen.name!r} returned a {type(result).__name__}, not a RunResult")
    if result.syntax_error is not None:
        return result
    indexes = [test.index for test in result.tests]
    if indexes != list(range(len(tests))):
        raise SandboxError(f"sandbox backend {chosen.name!r} reported tests {indexes} for {len(tests)} tests; "
                           f"a backend reports each test once, in order")
    unknown = sorted({test.status for test in result.tests} - set(TEST_STATUSES))
    if unknown:
        raise SandboxError(f"sandbox backend {chosen.name!r} reported test status {', '.join(map(repr, unknown))}; "
                           f"a test's status is one of {', '.join(TEST_STATUSES)}")
    return result

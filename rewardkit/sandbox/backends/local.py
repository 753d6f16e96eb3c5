"""The local backend: the namespace sandbox in this process's worker (`rewardkit.sandbox.run`).

Python programs only. REWARDKIT_SANDBOX_ISOLATION=none turns isolation off for the whole
service (a risk the operator accepts, logged once). At start-up it checks that the host can
isolate model code; when it cannot, every run that requires isolation fails SANDBOX_ERROR with
the reason, and the service still starts: one reward the host cannot run must not take down
the others, nor push an operator to turn isolation off to get them back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from .._runner import check_isolation, interpreter, run, warn_unisolated
from .._types import Isolation, RunResult, SandboxError, SandboxLimits, SandboxTest
from .base import Backend, RunOptions

log = logging.getLogger("rewardkit.sandbox")

ISOLATION_ENV = "REWARDKIT_SANDBOX_ISOLATION"


class LocalBackend(Backend):
    """Each submission in one sandbox start on this host; see docs/code.md for what it isolates."""

    name = "local"

    def __init__(self) -> None:
        self.cannot_isolate: str | None = None  # why, when the start-up check found this host cannot
        self._warned = False

    def check(self, options: RunOptions) -> None:
        if options.language != "python":
            raise ValueError(f"the local sandbox runs Python; language={options.language!r} needs "
                             "backend='sandboxfusion'")

    def isolation(self, option: Isolation) -> Isolation:
        """The option, unless the operator accepted no isolation for the whole service (ISOLATION_ENV=none)."""
        chosen: Isolation = "none" if os.environ.get(ISOLATION_ENV, "").strip().lower() == "none" else option
        if chosen == "none" and not self._warned:
            warn_unisolated()
            self._warned = True
        return chosen

    def start(self) -> None:
        if self.isolation("require") == "none":
            return
        try:
            check_isolation()
        except SandboxError as exc:
            self.cannot_isolate = str(exc)
            log.error("%s Calls that run code in the local sandbox are answered SANDBOX_ERROR; the other rewards "
                      "are served.", exc)

    def run(self, program: str, tests: Sequence[SandboxTest], limits: SandboxLimits,
            options: RunOptions) -> RunResult:
        chosen = self.isolation(options.isolation)
        if self.cannot_isolate is not None and chosen == "require":
            raise SandboxError(self.cannot_isolate)
        return run(program, tests, limits, chosen)


BACKEND = LocalBackend

__all__ = ["LocalBackend", "ISOLATION_ENV", "Isolation", "check_isolation", "interpreter", "run", "warn_unisolated"]

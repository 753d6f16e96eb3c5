"""What a sandbox backend is: one place that runs a program against tests under limits.

The local namespace sandbox and a SandboxFusion service are two backends; a container
service or a Firecracker or gVisor pool is one more module. A backend only runs: it reports
what each test did (`TestRun`: its output, exit, frames, or the limit it hit), one per test, in
order; the verdict (`Verdict`) is decided outside it, so expected values never reach the
program. A broken sandbox raises SandboxError (the call fails SANDBOX_ERROR, never a score).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from .._types import PUBLIC, Isolation, RunResult, SandboxLimits, SandboxTest


@dataclass(frozen=True)
class RunOptions:
    """How to reach a backend and what to ask of it, besides the limits: the reward's options, passed through.

    `language` is the program's (a fence tag: "python", "cpp", ...); `isolation` is the local sandbox's
    ("none" only for trusted code); `url`, `max_concurrency` and `retries` are a service's address, the
    requests in flight per worker process, and the attempts after a transient failure.
    """

    language: str = "python"
    isolation: Isolation = "require"
    url: str | None = None
    max_concurrency: int = 8
    retries: int = 2


class Backend(ABC):
    """A place to run programs. Subclass it, name it, and implement `run`.

    `name` is what code_tests' `backend=` option (or REWARDKIT_SANDBOX_BACKEND) says. `check`
    refuses options the backend cannot honour when a variant is made; `start` runs once per
    worker process when the service starts (probe the host or the service; log, do not raise,
    so the other rewards are still served).
    """

    name: ClassVar[str]

    def check(self, options: RunOptions) -> None:
        """Raise ValueError naming the option this backend cannot honour (default: Python programs only)."""
        if options.language != "python":
            raise ValueError(f"the {self.name} sandbox runs Python; language={options.language!r} needs another "
                             "backend (backend='sandboxfusion')")

    def start(self) -> None:
        """Start-up: what to check or warm before the first call (default: nothing)."""
        return None  # not abstract: most backends have nothing to check

    @abstractmethod
    def run(self, program: str, tests: Sequence[SandboxTest], limits: SandboxLimits,
            options: RunOptions) -> RunResult:
        """Run `program` on each test; a RunResult with one TestRun per test in order, or its syntax error.

        TestRun.status is one of TEST_STATUSES. Raise SandboxError when the sandbox itself fails."""
        raise NotImplementedError  # abstract


for _public in (RunOptions, Backend):
    _public.__module__ = PUBLIC

__all__ = ["Backend", "RunOptions"]

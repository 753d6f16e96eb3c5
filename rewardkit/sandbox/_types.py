"""What a sandbox run takes and gives back: limits, tests, results, the per-test verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from .._errors import SandboxError as SandboxError  # declared with its code in rewardkit._errors

PUBLIC = "rewardkit.sandbox"  # the path users import these from, which reprs and tracebacks show


class Verdict(str, Enum):
    """What one test came to: the closed set a test is scored by.

    Decided outside the sandbox from its `TestRun` (expected values never enter it). A test
    over its time limit is TIME_LIMIT, never TIMEOUT: that is a whole call's failure code (the
    reward ran past its `timeout=`), which is never a score. A sandbox that fails is not a
    verdict either: it raises SandboxError and the call fails with code SANDBOX_ERROR.
    """

    PASSED = "PASSED"
    WRONG_ANSWER = "WRONG_ANSWER"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    TIME_LIMIT = "TIME_LIMIT"
    MEMORY_LIMIT = "MEMORY_LIMIT"
    OUTPUT_LIMIT = "OUTPUT_LIMIT"
    SYNTAX_ERROR = "SYNTAX_ERROR"

    def __str__(self) -> str:  # the plain name in reasons and metric keys, on every Python version
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# How a test's run ended, as observed outside the program (TestRun.status): the closed set a backend reports.
TestStatus = Literal["finished", "timeout", "output_limit", "lost"]
TEST_STATUSES: tuple[TestStatus, ...] = ("finished", "timeout", "output_limit", "lost")

Isolation = Literal["require", "none"]


@dataclass(frozen=True)
class SandboxLimits:
    """Limits on one submission's run. Every test runs under the per-test ones.

    `timeout_seconds` is each test's wall clock; `cpu_seconds` its CPU time
    (default: the wall clock rounded up, plus 1); `total_seconds` bounds the
    whole submission (tests not reached by then are TIME_LIMIT). `memory_mb` is
    the address space of each test's process, `processes` the processes and
    threads the sandbox may hold at once, `file_size_mb` the largest file it
    may write, `tmpfs_mb` the size of its working directory (isolated runs),
    `output_bytes` what a test may print before it is stopped (OUTPUT_LIMIT).
    Memory is capped per process (RLIMIT_AS): a program that forks may hold
    up to `processes` x `memory_mb` for at most its time limit.
    """

    timeout_seconds: float = 2.0
    cpu_seconds: int | None = None
    total_seconds: float = 30.0
    memory_mb: int = 256
    processes: int = 16
    open_files: int = 64
    file_size_mb: int = 16
    tmpfs_mb: int = 64
    output_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        for name in ("timeout_seconds", "total_seconds", "memory_mb", "processes", "open_files", "file_size_mb",
                     "tmpfs_mb", "output_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"SandboxLimits.{name} must be a positive number, got {value!r}")
        if self.open_files < 16:
            raise ValueError(f"SandboxLimits.open_files must be at least 16 (the interpreter needs some), "
                             f"got {self.open_files}")

    def to_job(self) -> dict[str, Any]:
        cpu = self.cpu_seconds if self.cpu_seconds is not None else int(self.timeout_seconds) + 1
        return {"wall_seconds": float(self.timeout_seconds), "cpu_seconds": int(cpu), "memory_mb": int(self.memory_mb),
                "processes": int(self.processes), "open_files": int(self.open_files),
                "file_size_mb": int(self.file_size_mb), "tmpfs_mb": int(self.tmpfs_mb),
                "output_bytes": int(self.output_bytes)}


@dataclass(frozen=True)
class SandboxTest:
    """One test's input. `kind`: "stdin" (run the program as __main__ with `stdin`), "call" (call `fn(*args)`),
    or "script" (run assertion `script` after the program, `check(entry_point)` when given)."""

    kind: Literal["stdin", "call", "script"]
    stdin: str = ""
    fn: str | None = None
    args: tuple[Any, ...] = ()
    script: str | None = None
    entry_point: str | None = None


@dataclass(frozen=True)
class TestRun:
    """What one test did, as observed outside the program.

    `status` (TestStatus): "finished" (it ended by itself; `exit` / `signal` say how),
    "timeout", "output_limit", or "lost" (the sandbox ended before reporting it).
    `frames`: the records the harness wrote from inside the test (a return
    value, assertion operands, the exception that ended it).
    """

    __test__ = False  # a result, not a pytest test class, whatever its name

    index: int
    status: str
    exit: int | None = None
    signal: str | None = None
    stdout: str = ""
    stderr: str = ""
    frames: tuple[dict[str, Any], ...] = ()
    seconds: float = 0.0

    @property
    def exception(self) -> dict[str, Any] | None:
        for frame in self.frames:
            if "exception" in frame:
                return frame
        return None


@dataclass(frozen=True)
class RunResult:
    """One submission's run: a syntax error, or one TestRun per test, in order."""

    tests: tuple[TestRun, ...] = ()
    syntax_error: str | None = None
    isolated: bool = False
    seconds: float = 0.0


for _public in (Verdict, SandboxError, SandboxLimits, SandboxTest, TestRun, RunResult):
    _public.__module__ = PUBLIC

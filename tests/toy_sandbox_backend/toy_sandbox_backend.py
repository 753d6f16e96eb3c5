"""A third-party sandbox backend, as another package would ship one: rewardkit does not know it.

A TOY, for tests only: it runs each stdin test as a plain `python -I -c PROGRAM` subprocess,
with the wall-clock and output limits and nothing else (no namespaces, no memory or process
limits). A real backend in its place would send the program to a container service or a
Firecracker or gVisor pool; the shape is the same: one module, one `run`. The tests put this
folder on PYTHONPATH: its `toy_sandbox_backend-0.1.dist-info/entry_points.txt` declares it in
the `rewardkit.sandbox_backends` group, as `pip install` of a real package would. Each program
it runs is appended to $TOY_SANDBOX_LOG, so a test can see the calls went through it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence

from rewardkit.sandbox import Backend, RunOptions, RunResult, SandboxError, SandboxLimits, SandboxTest, TestRun


class ToySubprocess(Backend):
    name = "toy_subprocess"

    def run(self, program: str, tests: Sequence[SandboxTest], limits: SandboxLimits,
            options: RunOptions) -> RunResult:
        if any(test.kind != "stdin" for test in tests):
            raise SandboxError("the toy backend runs stdin/stdout tests only")
        try:
            compile(program, "<program>", "exec")
        except SyntaxError as exc:
            return RunResult(syntax_error=f"SyntaxError: {exc}")
        began = time.monotonic()
        runs = tuple(self._one(index, program, test, limits) for index, test in enumerate(tests))
        return RunResult(tests=runs, isolated=False, seconds=time.monotonic() - began)

    def _one(self, index: int, program: str, test: SandboxTest, limits: SandboxLimits) -> TestRun:
        with open(os.environ["TOY_SANDBOX_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{index}: {program!r}\n")
        began = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-I", "-c", program], input=test.stdin, capture_output=True,
                                  text=True, timeout=limits.timeout_seconds)
        except subprocess.TimeoutExpired:
            return TestRun(index, "timeout", seconds=time.monotonic() - began)
        if len(done.stdout.encode()) > limits.output_bytes:
            return TestRun(index, "output_limit", seconds=time.monotonic() - began)
        return TestRun(index, "finished", exit=done.returncode, stdout=done.stdout, stderr=done.stderr[-2000:],
                       seconds=time.monotonic() - began)

"""The SandboxFusion backend: each test one `POST /run_code` to a SandboxFusion-compatible service.

Any language the service runs (stdin/stdout tests; function and assertion tests for Python);
`RunOptions.url` is the service's `/run_code` address. The protocol, retries and concurrency
bound are in `rewardkit.sandbox.remote`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._types import RunResult, SandboxLimits, SandboxTest
from .base import Backend, RunOptions


class SandboxFusionBackend(Backend):
    """Programs sent to a SandboxFusion service (bytedance/SandboxFusion `sandbox/server/sandbox_api.py`)."""

    name = "sandboxfusion"

    def check(self, options: RunOptions) -> None:
        if not (isinstance(options.url, str) and options.url.startswith(("http://", "https://"))):
            raise ValueError("backend='sandboxfusion' needs sandbox_url='http(s)://host/run_code', "
                             f"got {options.url!r}")

    def run(self, program: str, tests: Sequence[SandboxTest], limits: SandboxLimits,
            options: RunOptions) -> RunResult:
        from ..remote import run_remote  # httpx, only for users of this backend

        return run_remote(program, tests, str(options.url), language=options.language, limits=limits,
                          max_concurrency=int(options.max_concurrency), retries=options.retries)


BACKEND = SandboxFusionBackend

__all__ = ["SandboxFusionBackend"]

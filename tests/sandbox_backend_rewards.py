"""code_tests over the toy sandbox backend plug-in (tests/toy_sandbox_backend/), served in
tests/test_sandbox_backends.py: rewardkit learns of `toy_subprocess` only from its entry point."""

import rewardkit
from rewards.code import code_tests

toy_code = rewardkit.variant(code_tests, "toy_code", backend="toy_subprocess", timeout_seconds=1.0)
local_code = rewardkit.variant(code_tests, "local_code", backend="local")

__all__ = ["code_tests", "toy_code", "local_code"]

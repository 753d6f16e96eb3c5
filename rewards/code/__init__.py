"""Code in a sandbox: `code_tests` runs the response's program against the row's tests."""

from .code_tests import InvalidTestsError, SandboxError, check_options, code_tests, require_isolation

__all__ = ["code_tests", "InvalidTestsError", "SandboxError", "check_options", "require_isolation"]

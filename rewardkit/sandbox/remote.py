"""Send programs to a SandboxFusion-compatible service (`POST /run_code`) instead of running them here.

Protocol, from bytedance/SandboxFusion `sandbox/server/sandbox_api.py` (RunCodeRequest, RunCodeResponse)
and `sandbox/runners/types.py` (CommandRunResult):

    request  {"code", "language", "stdin", "run_timeout", "compile_timeout", "memory_limit_MB", "files": {}}
    response {"status": "Success" | "Failed" | "SandboxError", "message",
              "compile_result": CommandRunResult | null, "run_result": CommandRunResult | null}
    CommandRunResult {"status": "Finished" | "Error" | "TimeLimitExceeded", "execution_time",
                      "return_code", "stdout", "stderr"}

One request per test, at most `max_concurrency` at a time per worker process; a
transport error, a 5xx or 429 is retried with backoff; what still fails, and
every "SandboxError", raises SandboxError (the call fails, never a score).
Function and assertion tests (Python only) carry a small driver that runs the
program the way the local harness does and prints each value after a marker;
comparison happens here, as for local runs.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from .. import _retry
from . import _child
from ._types import RunResult, SandboxError, SandboxLimits, SandboxTest, TestRun

# SandboxFusion's names (sandbox/runners/types.py `Language`) for the fence tags users write.
SERVICE_LANGUAGE = {"javascript": "nodejs", "js": "nodejs", "node": "nodejs", "c++": "cpp", "golang": "go",
                    "sh": "bash", "shell": "bash", "ts": "typescript", "py": "python", "python3": "python"}
_DRIVER_PARTS = (_child.encode, _child.decode, _child._frame_value, _child._exception, _child._probe,
                 _child._plain_returning, _child._target, _child._run_test)
_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _semaphore(url: str, size: int) -> threading.BoundedSemaphore:
    with _lock:
        return _semaphores.setdefault((url, size), threading.BoundedSemaphore(size))


def _client(url: str) -> Any:
    import httpx  # only for users of the remote backend

    with _lock:
        if url not in _clients:
            _clients[url] = httpx.Client(timeout=httpx.Timeout(60.0, connect=5.0))
        return _clients[url]


def driver(program: str, test: dict[str, Any], mark: str) -> str:
    """A Python script that runs one function or assertion test and prints its frames after `mark`."""
    helpers = "\n\n".join(inspect.getsource(part) for part in _DRIVER_PARTS)
    return "\n".join([
        "from __future__ import annotations",  # the helpers' annotations name types only _child.py imports
        "import io, json, sys",
        helpers,
        f"_MARK = {mark!r}",
        "def _frame(record):",
        "    sys.__stdout__.write('\\n' + _MARK + json.dumps(record, separators=(',', ':')) + '\\n')",
        "    sys.__stdout__.flush()",
        "import builtins",
        f"_status = _run_test(compile({program!r}, '<program>', 'exec'), json.loads({json.dumps(test)!r}), "
        "dict(vars(builtins)))",
        "sys.stdout.flush()",
        "sys.exit(_status)",
    ])


def _body(program: str, test: dict[str, Any], language: str, limits: SandboxLimits, mark: str) -> dict[str, Any]:
    code = program if test["kind"] == "stdin" else driver(program, test, mark)
    return {"code": code, "language": SERVICE_LANGUAGE.get(language, language), "stdin": test.get("stdin") or "",
            "run_timeout": limits.timeout_seconds, "compile_timeout": max(10.0, limits.timeout_seconds),
            "memory_limit_MB": limits.memory_mb, "files": {}, "fetch_files": []}


def _post(url: str, body: dict[str, Any], retries: int, deadline: float) -> dict[str, Any]:
    import httpx

    def attempt() -> dict[str, Any] | _retry.Again:
        try:
            response = _client(url).post(url, json=body, timeout=max(1.0, deadline - time.monotonic()))
        except httpx.TransportError as exc:
            return _retry.Again("connection", f"{type(exc).__name__}: {exc}")
        if response.status_code != 200 and _retry.should_retry(response.status_code, response.headers):
            return _retry.Again(str(response.status_code), f"HTTP {response.status_code}: {response.text[:200]}",
                                dict(response.headers))
        if response.status_code != 200:
            raise SandboxError(f"sandbox service {url} answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            answer = response.json()
        except ValueError:
            raise SandboxError(
                f"sandbox service {url} answered something that is not JSON: {response.text[:200]!r}") from None
        if not isinstance(answer, dict) or answer.get("status") not in ("Success", "Failed", "SandboxError"):
            raise SandboxError(f"sandbox service {url}: not a RunCodeResponse: {str(answer)[:200]}")
        if answer["status"] == "SandboxError":
            raise SandboxError(f"sandbox service {url} reported SandboxError: {str(answer.get('message'))[:300]}")
        return answer

    answer = _retry.call(attempt, dataclasses.replace(_retry.SANDBOX, attempts=retries + 1), deadline)
    if isinstance(answer, _retry.GaveUp):
        raise SandboxError(f"sandbox service {url} unavailable after {answer}")
    return answer


def _frames(stdout: str, mark: str) -> tuple[str, tuple[dict[str, Any], ...]]:
    kept, frames = [], []
    for line in stdout.split("\n"):
        if line.startswith(mark):
            try:
                record = json.loads(line[len(mark):])
            except (ValueError, RecursionError):  # the program can print the marker too
                continue
            if isinstance(record, dict):
                frames.append(record)
        else:
            kept.append(line)
    return "\n".join(kept), tuple(frames)


def _exception_from_stderr(stderr: str) -> tuple[dict[str, Any], ...]:
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    name = last.split(":", 1)[0].strip()
    if name.isidentifier() and (name.endswith("Error") or name.endswith("Exception")):
        return ({"exception": name, "message": last[len(name) + 1:].strip()[:300], "errno": None},)
    return ()


def _test_run(index: int, test: dict[str, Any], answer: dict[str, Any], limits: SandboxLimits,
              mark: str) -> TestRun:
    compiled = answer.get("compile_result")
    if isinstance(compiled, dict) and compiled.get("status") == "TimeLimitExceeded":
        return TestRun(index, "timeout")
    run = answer.get("run_result")
    if not isinstance(run, dict):
        if isinstance(compiled, dict) and compiled.get("return_code"):
            return TestRun(index, "compile_error", stderr=str(compiled.get("stderr") or "")[-2000:])
        raise SandboxError(f"sandbox service answered without a run_result: {str(answer)[:200]}")
    seconds = float(run.get("execution_time") or 0.0)
    if run.get("status") == "TimeLimitExceeded":
        return TestRun(index, "timeout", seconds=seconds)
    stdout, stderr = str(run.get("stdout") or ""), str(run.get("stderr") or "")
    if len(stdout.encode()) > limits.output_bytes:
        return TestRun(index, "output_limit", seconds=seconds)
    if test["kind"] == "stdin":
        frames = _exception_from_stderr(stderr) if run.get("return_code") else ()
    else:
        stdout, frames = _frames(stdout, mark)
    return TestRun(index, "finished", exit=run.get("return_code"), stdout=stdout, stderr=stderr[-2000:],
                   frames=frames, seconds=seconds)


def run_remote(program: str, tests: Sequence[SandboxTest], url: str, *, language: str = "python",
               limits: SandboxLimits = SandboxLimits(), max_concurrency: int = 8, retries: int = 2) -> RunResult:
    """Run each test as one `/run_code` request; same RunResult as the local `run`."""
    from ._runner import _job_test  # the same test encoding as local runs

    began = time.monotonic()
    language = SERVICE_LANGUAGE.get(language, language)
    if language == "python":
        try:
            compile(program, "<program>", "exec")
        except (SyntaxError, ValueError) as exc:
            return RunResult(syntax_error=f"{type(exc).__name__}: {exc}"[:500])
    job_tests = [_job_test(t) for t in tests]
    if language != "python" and any(t["kind"] != "stdin" for t in job_tests):
        raise ValueError("function and assertion tests run Python only; other languages take stdin/stdout tests")
    mark = f"@@rewardkit-{secrets.token_hex(8)}@@"
    deadline = began + limits.total_seconds
    gate = _semaphore(url, max_concurrency)

    def one(index: int) -> TestRun:
        with gate:
            if time.monotonic() > deadline:
                return TestRun(index, "timeout")
            answer = _post(url, _body(program, job_tests[index], language, limits, mark), retries, deadline)
        return _test_run(index, job_tests[index], answer, limits, mark)

    with ThreadPoolExecutor(max_workers=max(1, min(max_concurrency, len(job_tests)))) as pool:
        runs = tuple(pool.map(one, range(len(job_tests))))
    compile_errors = [r for r in runs if r.status == "compile_error"]
    if compile_errors:
        return RunResult(syntax_error=f"compile error: {compile_errors[0].stderr.strip()[-300:]}",
                         seconds=time.monotonic() - began)
    return RunResult(tests=runs, isolated=True, seconds=time.monotonic() - began)

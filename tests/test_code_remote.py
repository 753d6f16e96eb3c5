"""The SandboxFusion backend against a local server speaking its `/run_code` protocol
(bytedance/SandboxFusion sandbox/server/sandbox_api.py: RunCodeRequest -> RunCodeResponse)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

import rewardkit
from rewards.code import code_tests
from tests.served import free_port, serve


class FakeSandboxFusion:
    """Runs Python as SandboxFusion's python runner does; can fail on purpose."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_next = 0  # answer this many requests with 503 first
        self.sandbox_error = False
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def answer(self, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(body)
            if self.fail_next:
                self.fail_next -= 1
                return 503, {"detail": "busy"}
        if self.sandbox_error:
            return 200, {"status": "SandboxError", "message": "executor pod lost", "run_result": None}
        assert body["language"] == "python" and {"code", "stdin", "run_timeout", "memory_limit_MB"} <= set(body)
        began = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-I", "-c", body["code"]], input=body.get("stdin") or "",
                                  capture_output=True, text=True, timeout=body["run_timeout"])
        except subprocess.TimeoutExpired:
            run = {"status": "TimeLimitExceeded", "execution_time": body["run_timeout"], "return_code": None,
                   "stdout": "", "stderr": ""}
            return 200, {"status": "Failed", "message": "", "compile_result": None, "run_result": run}
        run = {"status": "Finished", "execution_time": time.monotonic() - began, "return_code": done.returncode,
               "stdout": done.stdout, "stderr": done.stderr}
        return 200, {"status": "Success" if done.returncode == 0 else "Failed", "message": "",
                     "compile_result": None, "run_result": run, "executor_pod_name": None, "files": {}}


@contextmanager
def fake_server():
    fake = FakeSandboxFusion()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            with fake.lock:
                fake.active += 1
                fake.peak = max(fake.peak, fake.active)
            try:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                status, answer = fake.answer(body) if self.path == "/run_code" else (404, {"detail": "Not Found"})
            finally:
                with fake.lock:
                    fake.active -= 1
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/run_code"
    finally:
        server.shutdown()
        server.server_close()


def remote(url: str, **options) -> rewardkit.RewardSpec:
    return rewardkit.variant(code_tests, "remote_code", backend="sandboxfusion", sandbox_url=url, **options)


def fenced(program: str) -> str:
    return f"```python\n{program}\n```"


STDIN = [{"input": "3\n", "output": "6\n"}, {"input": "5\n", "output": "10\n"}, {"input": "0\n", "output": "0\n"}]


def test_stdin_function_and_assert_tests_run_remotely_with_the_same_taxonomy():
    with fake_server() as (fake, url):
        spec = remote(url)
        assert spec(fenced("print(int(input()) * 2)"), {}, STDIN).value == 1.0
        wrong = spec(fenced("x = int(input())\nprint(x * 2 if x else 1)"), {}, STDIN)
        assert wrong.value == pytest.approx(2 / 3) and wrong.metrics["first_failure.WRONG_ANSWER"] == 1.0
        slow = spec(fenced("while True:\n    pass"), {}, STDIN[:1])
        assert slow.value == 0.0 and "first_failure.TIME_LIMIT" in slow.metrics
        crash = spec(fenced("raise MemoryError"), {}, STDIN[:1])
        assert "first_failure.MEMORY_LIMIT" in crash.metrics
        broken = spec(fenced("def f(:"), {}, STDIN)
        assert "first_failure.SYNTAX_ERROR" in broken.metrics
        assert all(r["language"] == "python" for r in fake.requests)
        cases = {"fn_name": "double", "cases": [{"args": [2], "expected": 4}, {"args": [3], "expected": 6}]}
        assert spec(fenced("def double(x):\n    return 2 * x"), {}, cases).value == 1.0
        evil = "class Y:\n    def __eq__(self, o):\n        return True\ndef double(x):\n    return Y()"
        assert spec(fenced(evil), {}, cases).value == 0.0
        script = {"test": "def check(candidate):\n    assert candidate(2) == 4\n", "entry_point": "double"}
        assert spec(fenced("def double(x):\n    return 2 * x"), {}, script).value == 1.0
        assert spec(fenced("import sys\nsys.exit(0)"), {}, script).value == 0.0
        # the expected value never travels to the service
        assert not any('"expected"' in r["code"] or "== 4" in r["code"] for r in fake.requests)


def test_transient_failures_are_retried_and_concurrency_is_bounded():
    with fake_server() as (fake, url):
        fake.fail_next = 2
        tests = [{"input": f"{i}\n", "output": f"{2 * i}\n"} for i in range(8)]
        program = fenced("import time\ntime.sleep(0.1)\nprint(int(input()) * 2)")
        score = remote(url, max_concurrency=2, retries=3)(program, {}, tests)
        assert score.value == 1.0
        assert len(fake.requests) == 10 and fake.peak <= 2


def test_infrastructure_errors_fail_the_call_as_sandbox_error(tmp_path):
    with fake_server() as (fake, url):
        fake.sandbox_error = True
        with pytest.raises(rewardkit.RewardkitError, match="SandboxError: executor pod lost") as caught:
            remote(url)(fenced("print(1)"), {}, STDIN)
        assert caught.value.code == "SANDBOX_ERROR"
    module = tmp_path / "remote_rewards.py"
    down = f"http://127.0.0.1:{free_port()}/run_code"  # nothing listens there
    module.write_text("import rewardkit\nfrom rewards import code_tests\n"
                      f"remote_code = rewardkit.variant(code_tests, 'remote_code', backend='sandboxfusion', "
                      f"sandbox_url={down!r}, retries=1)\n")
    with serve([str(module)]) as served:
        body = {"example": {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
                            "references": {"tests": json.dumps(STDIN)}},
                "response": {"role": "model", "parts": [{"text": fenced("print(1)")}]}}
        vertex = httpx.post(f"{served.url}/rewards/remote_code", json=body, timeout=60)
        assert vertex.status_code == 500 and vertex.json()["error_code"] == "SANDBOX_ERROR"
        dash = httpx.post(f"{served.url}/rewards/remote_code/api/v1", timeout=60, json={
            "func_type": "reward", "ground_truth": STDIN,
            "agent_output": {"messages": [{"role": "assistant", "content": fenced("print(1)")}]}}).json()
        assert dash["status"] == "failed" and dash["error_code"] == "SANDBOX_ERROR"
        assert "unavailable after 2 attempts" in dash["error"]

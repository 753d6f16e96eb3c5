"""The real `rewardkit serve` process on a loopback port, driven over HTTP."""

import json
import os
import signal
import subprocess

import httpx

from .conftest import EXAMPLE_REWARDS, contract_example
from .served import free_port, rewardkit_command, serve, wait_healthy


def test_serves_a_user_file_over_both_contracts_and_survives_failures():
    with serve([EXAMPLE_REWARDS, "--reward", "contains_reference"]) as served:
        vertex = contract_example("vertex_request.json")
        vertex["example"]["references"] = {"answer": "72"}
        r = httpx.post(f"{served.url}/", json=vertex)
        assert r.status_code == 200 and r.json()["reward"] == 1.0
        r = httpx.post(f"{served.url}/rewards/broken/api/v1", json=contract_example("dashscope_reward_request.json"))
        assert r.status_code == 200 and r.json()["status"] == "failed" and r.json()["error_code"] == "REWARD_ERROR"
        r = httpx.post(f"{served.url}/rewards/broken", json=vertex)
        assert r.status_code == 500 and r.json()["reward"] == "broken"
        r = httpx.post(f"{served.url}/api/v1", content=b"not json")
        assert r.status_code == 400
        group = httpx.post(f"{served.url}/rewards/rank/api/v1",
                           json=contract_example("dashscope_group_request.json")).json()
        assert len(group["reward"]["rewards"]) == 3 and group["status"] == "success"
        assert httpx.get(f"{served.url}/health").json()["status"] == "ok"


def test_sigterm_exits_cleanly():
    with serve([EXAMPLE_REWARDS]) as served:
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=15) == 0


def test_port_from_environment(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        process = subprocess.Popen([*rewardkit_command(), "serve", EXAMPLE_REWARDS, "--host", "127.0.0.1"],
                                   env={**os.environ, "PORT": str(port)}, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}", 30, "rewardkit serve with $PORT set", log.read_text)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_bad_target_fails_at_startup_with_a_message(tmp_path):
    bad = tmp_path / "bad_rewards.py"
    bad.write_text("import rewardkit\n@rewardkit.reward\ndef judge(answer): return 1.0\n")
    result = subprocess.run([*rewardkit_command(), "serve", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "reward 'judge'" in result.stderr and "parameter 'answer'" in result.stderr


def test_a_chunked_body_is_read_whole_and_limited_as_it_arrives():
    body = json.dumps({"example": {"contents": [], "references": {"answer": "72"}},
                       "response": {"parts": [{"text": "so the answer is \\boxed{72}"}]}}).encode()
    with serve(["rewards", "--workers", "1", "--max-body-mb", "0.01"]) as s:
        pieces = [body[i:i + 7] for i in range(0, len(body), 7)]  # no Content-Length: Transfer-Encoding chunked
        answer = httpx.post(f"{s.url}/rewards/math_accuracy", content=iter(pieces), timeout=30)
        assert answer.status_code == 200 and answer.json()["reward"] == 1.0
        big = iter([b'{"example": {"contents": [], "padding": "'] + [b"x" * 1000] * 20 + [b'"}}'])
        answer = httpx.post(f"{s.url}/rewards/math_accuracy", content=big, timeout=30)
        assert answer.status_code == 413 and "more than 10485" in answer.json()["message"]

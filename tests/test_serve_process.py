"""The real `rewardkit serve` process on a loopback port, driven over HTTP."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import httpx
import pytest

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


@pytest.mark.parametrize("how", ["--port", "PORT"])
def test_a_taken_port_is_named_before_the_rewards_load_or_workers_start(how):
    """Issue 22, item 8: the server started its workers and logged every route before uvicorn's bare
    `[Errno 98]`. Now the port is checked first: which port, how to choose another, exit 2, nothing started."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--port", str(port)] if how == "--port" else []
        env = {**os.environ, "PORT": str(port)} if how == "PORT" else {k: v for k, v in os.environ.items()
                                                                          if k != "PORT"}
        started = time.monotonic()
        result = subprocess.run([*rewardkit_command(), "serve", "--host", "127.0.0.1", "--workers", "1", *args],
                                capture_output=True, text=True, timeout=120, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"port {port} is already in use on 127.0.0.1" in result.stderr
    assert "choose another with --port N or the PORT environment variable" in result.stderr
    # Before anything started: no reward listed, no worker, no uvicorn.
    assert "rewards:" not in output and "worker process" not in output and "Errno" not in output, output
    assert time.monotonic() - started < 60


def _startup_log(output: str) -> list[str]:
    """The start-up lines rewardkit logs, without timestamps or levels."""
    return [re.sub(r"^.*?rewardkit: ", "", line) for line in output.splitlines() if "rewardkit: " in line]


def test_the_startup_log_lists_each_reward_once_and_the_route_patterns_once():
    """Issue 22, item 9: five route lines per reward and `default: None`. One line per reward, the route
    patterns once; every route with --verbose and in GET /rewards."""
    with serve(["--workers", "1", "--log-format", "plain"]) as served:
        listed = httpx.get(f"{served.url}/rewards").json()
        lines = _startup_log(served.output())
    names = [reward["name"] for reward in listed["rewards"]]
    assert len(names) > 10  # the built-in rewards
    assert not any("None" in line for line in lines), lines
    assert f"rewards: {len(names)} from the built-in rewards package; no default reward (--reward NAME serves " \
           "one on POST /, /nova, /api/v1, /openrlhf, /slime)" in "\n".join(lines)
    (patterns,) = [line for line in lines if line.startswith("routes: ")]
    assert "POST /rewards/{name} (vertex)" in patterns and "POST /rewards/{name}/api/v1 (dashscope)" in patterns
    for name in names:
        (line,) = [line for line in lines if line.startswith(f"  {name} (")]
        assert "POST" not in line
    assert not any("/rewards/math_accuracy" in line for line in lines)
    assert listed["rewards"][0]["routes"]["dashscope"] == f"/rewards/{names[0]}/api/v1"
    # Issue 24, item 6: which path scoring takes, said once at start-up (no middleware here: the fast path).
    assert [line for line in lines if line.startswith("scoring: ")] == [
        "scoring: the fast path, ahead of FastAPI's middleware and router"]

    with serve([EXAMPLE_REWARDS, "--reward", "contains_reference", "--workers", "1", "--log-format", "plain",
                "--verbose"]) as served:
        lines = _startup_log(served.output())
    assert any("default reward contains_reference (POST /, /nova, /api/v1, /openrlhf, /slime)" in line
               for line in lines)
    routes = [line.strip() for line in lines if line.startswith("    POST /rewards/contains_reference ")]
    assert routes == ["POST /rewards/contains_reference (vertex), POST /rewards/contains_reference/nova (nova), "
                      "POST /rewards/contains_reference/api/v1 (dashscope), POST /rewards/contains_reference/openrlhf "
                      "(openrlhf), POST /rewards/contains_reference/slime (slime)"]


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

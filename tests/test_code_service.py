"""code_tests in a real `rewardkit serve`: its sandbox's log lines in the configured format, and no sandbox
directory left behind, by a stopped server or by a killed worker."""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from rewardkit.contracts import get
from rewardkit.testing import request
from tests.served import Served, serve

DOUBLE = [{"input": "2\n", "output": "4\n"}, {"input": "5\n", "output": "10\n"}]
PROGRAM = "```python\nprint(int(input()) * 2)\n```"
PLAIN_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: ")


def ask(served: Served, contract: str, response: str = PROGRAM, tests: object = DOUBLE):
    body = (request("vertex", response, references={"tests": json.dumps(tests)})[0] if contract == "vertex"
            else request("dashscope", response, reference=tests)[0])
    answer = httpx.post(served.url + get(contract).route_for("code_tests"), json=body, timeout=60)
    return get(contract).read_answer(answer.status_code, answer.json())


@pytest.fixture
def temp_dir() -> Iterator[Path]:
    """The server's own TMPDIR, where its sandboxes' directories go: other servers on this machine use /tmp."""
    with tempfile.TemporaryDirectory(prefix="rewardkit-tmpdir-") as folder:
        yield Path(folder)


def sandbox_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("rewardkit-sandbox-"))


def wait_for(check, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# ------------------------------------------------------------------ log format

@pytest.mark.parametrize(("env", "line", "severity"), [
    ({"REWARDKIT_SANDBOX_PYTHON": "/nonexistent/python3"}, "this host cannot isolate model code", "ERROR"),
    ({"REWARDKIT_SANDBOX_ISOLATION": "none"}, "SANDBOX ISOLATION IS OFF", "WARNING"),
])
def test_the_sandbox_lines_are_json_with_a_severity_like_every_other_line(env, line, severity):
    # Logged by each worker, which the forkserver starts with no logging set up: they came out as bare text.
    with serve(["rewards", "--log-format", "json", "--workers", "2"], env=env) as served:
        for contract in ("vertex", "dashscope"):
            ask(served, contract)
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=30)
        lines = [text for text in served.output().splitlines() if text.strip()]
    entries = []
    for text in lines:
        try:
            entries.append(json.loads(text))
        except ValueError:
            pytest.fail(f"a line that is not JSON: {text!r}")
    assert all({"severity", "message", "time", "logger"} <= set(entry) for entry in entries)
    said = [entry for entry in entries if line in entry["message"]
            and entry["logger"] in ("rewardkit.rewards.code", "rewardkit.sandbox")]
    assert len(said) == 2 and {entry["severity"] for entry in said} == {severity}  # once per worker


@pytest.mark.parametrize(("env", "line"), [
    ({"REWARDKIT_SANDBOX_PYTHON": "/nonexistent/python3"}, "this host cannot isolate model code"),
    ({"REWARDKIT_SANDBOX_ISOLATION": "none"}, "SANDBOX ISOLATION IS OFF"),
])
def test_the_sandbox_lines_have_the_plain_format_like_every_other_line(env, line):
    with serve(["rewards", "--log-format", "plain", "--workers", "1"], env=env) as served:
        ask(served, "dashscope")
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=30)
        lines = [text for text in served.output().splitlines() if text.strip()]
    assert [text for text in lines if not PLAIN_LINE.match(text)] == []
    assert any(line in text and re.search(r" (ERROR|WARNING) +rewardkit\.", text) for text in lines)


# ------------------------------------------------------------------ sandbox directories

def test_a_stopped_server_leaves_no_sandbox_directory(temp_dir: Path):
    # Each worker keeps a spare sandbox (and its directory) ready for the next call; a worker ends with
    # os._exit, so nothing registered with atexit ever removed it.
    with serve(["rewards", "--workers", "2"], env={"TMPDIR": str(temp_dir)}) as served:
        for contract in ("vertex", "dashscope"):
            answer = ask(served, contract)
            assert answer.error_code is None and answer.scores == (1.0,)
        assert len(sandbox_dirs(temp_dir)) == 2  # a spare per worker
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=30) == 0
    assert sandbox_dirs(temp_dir) == []


def test_a_killed_workers_directory_is_removed_when_its_replacement_starts(temp_dir: Path):
    with serve(["rewards", "--workers", "1"], env={"TMPDIR": str(temp_dir)}) as served:
        assert ask(served, "vertex").scores == (1.0,)
        (spare,) = sandbox_dirs(temp_dir)
        worker = int(spare.split("-")[2].split(".")[1])  # rewardkit-sandbox-<pid namespace>.<pid>.<start>-...
        os.kill(worker, signal.SIGKILL)  # as the pool does to a worker whose call overran
        assert wait_for(lambda: not (temp_dir / spare).exists()), sandbox_dirs(temp_dir)
        for contract in ("vertex", "dashscope"):  # the replacement serves
            answer = ask(served, contract)
            assert answer.error_code is None and answer.scores == (1.0,)
        left = sandbox_dirs(temp_dir)
        assert len(left) == 1 and f".{worker}." not in left[0]


def test_directories_of_live_processes_and_other_names_are_left_alone(temp_dir: Path):
    # A dead owner (a pid that runs nothing, or runs a process started at another time) is stale; a live one
    # (this test's process), another PID namespace's and a name rewardkit did not make are not touched.
    namespace = os.stat("/proc/self/ns/pid").st_ino
    with open("/proc/self/stat") as stat:
        started = stat.read().rsplit(")", 1)[1].split()[19]
    mine = f"rewardkit-sandbox-{namespace}.{os.getpid()}.{started}-abc"
    reused = f"rewardkit-sandbox-{namespace}.{os.getpid()}.1-abc"
    dead = f"rewardkit-sandbox-{namespace}.{2**22 + 7}.5-abc"
    foreign = f"rewardkit-sandbox-{namespace + 1}.{2**22 + 7}.5-abc"
    other = "rewardkit-sandbox-old_style"
    for name in (mine, reused, dead, foreign, other):
        (temp_dir / name).mkdir()
    (temp_dir / dead / "left.txt").write_text("x")
    with serve(["rewards", "--workers", "1"], env={"TMPDIR": str(temp_dir)}) as served:
        assert ask(served, "dashscope").scores == (1.0,)
        assert not (temp_dir / dead).exists() and not (temp_dir / reused).exists()
        assert all((temp_dir / name).exists() for name in (mine, foreign, other))

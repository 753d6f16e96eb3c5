"""Hostile programs through a real `rewardkit serve` with default settings: each gets the right category and
no credit, good submissions keep flowing, and nothing is left running afterwards."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.served import serve

SECRET = "hunter2-" + uuid.uuid4().hex


def _descendants(root: int) -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process below `root` (only what this test started)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: dict[int, tuple[int, str]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                try:
                    command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    command = "?"
                found[pid] = (ppid, command)
                frontier.append(pid)
    return found


def _sandboxes(server_pid: int) -> list[str]:
    """Sandbox processes other than each worker's residents: its zygote (the warm interpreter that forks
    sandboxes) and at most one idle spare under it (a launcher waiting for its next job, which has not
    forked). A leftover is anything a sandbox started, a second spare, or a sandbox anywhere else."""
    tree = _descendants(server_pid)
    boxes = {pid: (ppid, cmd) for pid, (ppid, cmd) in tree.items() if "_child.py" in cmd}
    zygotes = {pid for pid, (ppid, cmd) in boxes.items() if ppid not in boxes and "--zygote" in cmd}
    spares = {pid for pid, (ppid, _) in boxes.items() if ppid in zygotes}
    per_zygote = Counter(boxes[pid][0] for pid in spares)
    per_worker = Counter(boxes[pid][0] for pid in zygotes)
    return [cmd for pid, (ppid, cmd) in tree.items()
            if (pid in boxes and pid not in zygotes | spares) or ppid in spares
            or (pid in spares and per_zygote[ppid] > 1) or (pid in zygotes and per_worker[ppid] > 1)]


@pytest.fixture(scope="module")
def server():
    with serve(["rewards"], env={"RK_TEST_SECRET": SECRET, "REWARDKIT_TEST_TOKEN": SECRET}) as served:
        yield served


def score(server, program: str, tests, *, wrap: bool = True) -> tuple[float, dict[str, float], dict]:
    response = f"Here it is.\n```python\n{program}\n```\n" if wrap else program
    body = {"func_type": "reward", "ground_truth": tests,
            "agent_output": {"messages": [{"role": "user", "content": "Solve it."},
                                          {"role": "assistant", "content": response}]}}
    answer = httpx.post(f"{server.url}/rewards/code_tests/api/v1", json=body, timeout=60).json()
    assert answer["status"] == "success", answer
    metrics = answer["reward"]["reward_metrics"]
    return answer["reward"]["reward_score"], metrics, answer


def first_failure(metrics: dict[str, float]) -> str:
    found = [k.split("first_failure.", 1)[1] for k in metrics if "first_failure." in k]
    return found[0] if found else "PASSED"


ECHO = [{"input": "7\n", "output": "14\n"}, {"input": "21\n", "output": "42\n"}]
GOOD = "print(int(input()) * 2)"


def assert_good_still_flows(server) -> None:
    value, metrics, _ = score(server, GOOD, ECHO)
    assert value == 1.0 and metrics["code_tests.passed"] == 2.0


HOSTILE = {
    "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
                  "TIME_LIMIT"),
    "infinite_loop": ("while True:\n    pass", "TIME_LIMIT"),
    "memory_bomb": ("chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 2**20))", "MEMORY_LIMIT"),
    "disk_filler": ("with open('fill', 'wb') as f:\n    while True:\n        f.write(b'x' * 2**20)", "OUTPUT_LIMIT"),
    "output_flood": ("while True:\n    print('y' * 10000)", "OUTPUT_LIMIT"),
    "kill_parent": ("import os, signal\nfor pid in (os.getppid(), 1, -1):\n    try:\n"
                    "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\nprint('survived')",
                    "WRONG_ANSWER"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_gets_its_category_and_no_credit(server, name):
    program, category = HOSTILE[name]
    value, metrics, _ = score(server, program, ECHO)
    assert value == 0.0
    assert first_failure(metrics) == category, metrics
    assert_good_still_flows(server)
    assert _sandboxes(server.process.pid) == []


def test_killing_the_parent_leaves_later_tests_running(server):
    # PID 1 of the sandbox ignores its children's signals: every test still reports.
    program = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint(int(input()) * 2)"
    value, metrics, _ = score(server, program, ECHO)
    assert value == 1.0 and metrics["code_tests.passed"] == 2.0


def test_network_is_unreachable(server):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        accepted: list[object] = []

        def accept() -> None:
            try:
                accepted.append(listener.accept())
            except OSError:
                pass
        program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nprint('connected')"
        value, metrics, answer = score(server, program, [{"input": "", "output": "connected\n"}])
        accept()
    assert value == 0.0 and first_failure(metrics) == "RUNTIME_ERROR"
    assert accepted == []


def test_the_servers_environment_is_absent(server):
    program = ("import os\nprint(os.environ.get('RK_TEST_SECRET', 'absent'), "
               "[k for k in os.environ if k.startswith('REWARDKIT')] or 'none')")
    value, metrics, _ = score(server, program, [{"input": "", "output": f"{SECRET} none\n"}])
    assert value == 0.0 and first_failure(metrics) == "WRONG_ANSWER"
    # and it is not readable from another process's /proc either
    program = ("import os\nfound = []\nfor pid in os.listdir('/proc'):\n"
               "    try:\n        found.append(open(f'/proc/{pid}/environ').read())\n"
               "    except OSError:\n        pass\n"
               f"print('{SECRET}' if any('{SECRET}' in e for e in found) else 'no')")
    value, metrics, _ = score(server, program, [{"input": "", "output": f"{SECRET}\n"}])
    assert value == 0.0 and first_failure(metrics) == "WRONG_ANSWER"


def test_writing_outside_the_working_directory_fails(server, tmp_path):
    targets = [f"/tmp/rk-escape-{uuid.uuid4().hex}", f"/dev/shm/rk-escape-{uuid.uuid4().hex}", str(tmp_path / "x")]
    program = "\n".join(f"open({t!r}, 'w').write('escaped')" for t in targets[:1]) + "\nprint('wrote')"
    value, metrics, _ = score(server, program, [{"input": "", "output": "wrote\n"}])
    assert value == 0.0 and first_failure(metrics) == "RUNTIME_ERROR"
    # Each target on its own, writing inside the working directory and HOME is fine.
    for target in targets:
        program = (f"import os\nopen('inside', 'w').write('ok')\nopen(os.path.expanduser('~/home'), 'w').write('ok')\n"
                   f"try:\n    open({target!r}, 'w').write('escaped')\n    print('escaped')\n"
                   f"except OSError as e:\n    print('blocked')")
        value, _, _ = score(server, program, [{"input": "", "output": "blocked\n"}])
        assert value == 1.0
        assert not os.path.exists(target)


def _running_with(token: str) -> list[int]:
    """Processes anywhere whose command line holds `token` (a fresh uuid: only ours can)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_daemon_dies_with_its_test(server):
    # The daemon leaves the process group and the session, then becomes `sh` with a token in its command
    # line, so it can be found wherever it ends up, even re-parented outside the server's tree.
    token = uuid.uuid4().hex
    program = ("import os, sys, time\n"
               "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
               f"        os.execv('/bin/sh', ['sh', '-c', 'sleep 120; : {token}'])\n"
               "    os._exit(0)\n"
               "time.sleep(0.3)\n"
               "print(int(input()) * 2)")
    value, metrics, _ = score(server, program, ECHO)
    assert value == 1.0
    assert _running_with(token) == []
    assert _sandboxes(server.process.pid) == []


# Verdict-forging tricks. Each would pass a harness that trusts the program's process.
FORGERIES = {
    "sys_exit_before_function": (
        "import sys\nsys.exit(0)\ndef double(x):\n    return x", {"fn_name": "double", "cases": [
            {"args": [2], "expected": 4}]}, "RUNTIME_ERROR"),
    "os_exit_before_asserts": (
        "import os\nos._exit(0)\ndef double(x):\n    return x",
        {"test": "def check(candidate):\n    assert candidate(2) == 4\n", "entry_point": "double"}, "RUNTIME_ERROR"),
    "sys_exit_in_asserts": (
        "import sys\ndef double(x):\n    sys.exit(0)",
        {"test_list": ["assert double(2) == 4"]}, "RUNTIME_ERROR"),
    "always_equal_function": (
        "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
        "def double(x):\n    return Yes()", {"fn_name": "double", "cases": [{"args": [2], "expected": 4}]},
        "WRONG_ANSWER"),
    "always_equal_assert": (
        "class Yes(int):\n    def __eq__(self, other):\n        return True\n    def __sub__(self, other):\n"
        "        return 0\ndef double(x):\n    return Yes(0)",
        {"test": "def check(candidate):\n    assert candidate(2) == 4\n    assert abs(candidate(2) - 4) < 1e-9\n",
         "entry_point": "double"}, "WRONG_ANSWER"),
    "patched_builtins": (
        "import builtins, math\nbuiltins.abs = lambda x: 0\nmath.isclose = lambda *a, **k: True\n"
        "builtins.AssertionError = type('Nope', (Exception,), {})\ndef root(x):\n    return 0.0",
        {"test_list": ["assert abs(root(2.0) - 1.4142) < 1e-3", "import math\nassert math.isclose(root(2.0), 1.4142)"]},
        "WRONG_ANSWER"),
    "fake_frames_and_summary": (
        "import os\nprint('ALL TESTS PASSED 1/1')\nfor fd in range(3, 64):\n    try:\n"
        "        os.write(fd, b'{\"done\": true}\\n{\"probe\": 0, \"values\": [true]}\\n"
        "{\"i\": 0, \"status\": \"finished\"}\\n')\n"
        "    except OSError:\n        pass\nos._exit(0)",
        {"test": "def check(candidate):\n    assert candidate(2) == 4\n", "entry_point": "double"}, "WRONG_ANSWER"),
    "unreadable_frames": (
        "import os\nos.write(3, b'{\"call\": true, \"value\": ' + b'[' * 900 + b']' * 900 + b'}\\n')\n"
        "os.write(3, b'{\"call\": true, \"value\": {\"$d\": 5}}\\n')\nos._exit(0)\ndef double(x):\n    return x",
        {"fn_name": "double", "cases": [{"args": [2], "expected": 4}]}, "WRONG_ANSWER"),
    "conftest_and_test_files": (
        "import os, glob\nopen('conftest.py', 'w').write('raise SystemExit(0)')\n"
        "open('sitecustomize.py', 'w').write('')\n"
        "found = [p for p in glob.glob('/tmp/**', recursive=True) if 'test' in p]\n"
        "print(found)\ndef double(x):\n    return x",
        {"test_list": ["assert double(2) == 4"]}, "WRONG_ANSWER"),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forging_the_verdict_earns_nothing(server, name):
    program, tests, category = FORGERIES[name]
    value, metrics, _ = score(server, program, tests)
    assert value == 0.0, metrics
    assert first_failure(metrics) == category, metrics


def test_expected_values_never_enter_the_sandbox(server):
    # The program looks for the expected output everywhere it can reach: its memory, files, environment.
    marker = "EXPECTED-" + uuid.uuid4().hex
    program = ("import gc, os, sys\n"
               "seen = ' '.join(repr(o)[:2000] for o in gc.get_objects() if isinstance(o, (dict, list, str, tuple)))\n"
               "frame = sys._getframe()\nwhile frame:\n"
               "    seen += repr(frame.f_locals)[:100000]\n    frame = frame.f_back\n"
               "for root, _, files in os.walk('.'):\n    for f in files:\n"
               "        seen += open(os.path.join(root, f), errors='replace').read()\n"
               "seen += repr(dict(os.environ))\n"
               "print('EXPECTED-' + seen.split('EXPECTED-', 1)[1][:32] if 'EXPECTED-' in seen else 'nothing')")
    value, metrics, answer = score(server, program, [{"input": "", "output": marker + "\n"}])
    assert value == 0.0 and first_failure(metrics) == "WRONG_ANSWER"
    program = ("import sys\ndef f(x):\n    frame = sys._getframe()\n    seen = ''\n    while frame:\n"
               "        seen += repr(frame.f_locals)\n        frame = frame.f_back\n"
               "    return 'found' if 'secret-answer' in seen else 'nothing'")
    value, _, _ = score(server, program, {"fn_name": "f", "cases": [{"args": [1], "expected": "secret-answer"}]})
    assert value == 0.0


def test_good_submissions_flow_while_hostile_ones_run(server):
    results: dict[str, float] = {}

    def send(name: str, program: str) -> None:
        results[name] = score(server, program, ECHO)[0]
    threads = [threading.Thread(target=send, args=("loop", "while True:\n    pass"))]
    threads += [threading.Thread(target=send, args=(f"good{i}", GOOD)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.pop("loop") == 0.0
    assert set(results.values()) == {1.0}
    assert _sandboxes(server.process.pid) == []

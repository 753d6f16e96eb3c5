"""Helpers of the fault-injection suite: a served rewardkit whose processes can be found and hurt."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import httpx

from .served import Served, serve

FAULT_REWARDS = str(Path(__file__).resolve().parent / "fault_rewards.py")
TAG_VARIABLE = "REWARDKIT_FAULT_TAG"


def tagged(tag: str) -> list[int]:
    """Live processes carrying `tag` in their environment: what one test's server started, and what those
    started in turn (they inherit it), even once orphaned. Only the tagged ones count: other people's
    processes on this machine are never looked at beyond the test for the tag."""
    found = []
    needle = f"{TAG_VARIABLE}={tag}".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                if needle not in environ.read():
                    continue
            with open(f"/proc/{name}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(name))
    return found


def wait_gone(tag: str, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        left = tagged(tag)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def describe(pids: Sequence[int]) -> str:
    lines = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            lines.append(f"{pid}: {command}")
        except OSError:
            lines.append(f"{pid}: (gone)")
    return "\n".join(lines)


class Fault(Served):
    tag: str

    def descendants(self) -> list[int]:
        return [pid for pid in tagged(self.tag) if pid != self.process.pid]

    def forkserver(self) -> int:
        (pid,) = [pid for pid in self.descendants() if parent(pid) == self.process.pid
                  and b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        return pid

    def workers(self) -> list[int]:
        server = self.forkserver()
        return [pid for pid in self.descendants() if parent(pid) == server]

    def metric(self, line_start: str) -> float:
        text = httpx.get(f"{self.url}/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start))


def parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


@contextmanager
def fault_server(args: Sequence[str] = (), target: str = FAULT_REWARDS) -> Iterator[Fault]:
    """`rewardkit serve TARGET ARGS`; after it stops, no process it started may remain."""
    tag = uuid.uuid4().hex
    with serve([target, *args], env={TAG_VARIABLE: tag}) as served:
        served.__class__ = Fault
        served.tag = tag  # type: ignore[attr-defined]
        yield served  # type: ignore[misc]
    left = wait_gone(tag)
    assert not left, f"processes left behind by the server:\n{describe(left)}"


def vertex(text: str) -> dict[str, Any]:
    return {"example": {"contents": [{"role": "user", "parts": [{"text": "q"}]}]},
            "response": {"parts": [{"text": text}]}}


def dashscope(text: str) -> dict[str, Any]:
    return {"func_type": "reward",
            "agent_output": {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}]}}


def group(*texts: str) -> dict[str, Any]:
    return {"func_type": "group_reward", "agent_outputs": [dashscope(t)["agent_output"] for t in texts]}


def echoed(answer: httpx.Response) -> float | None:
    """The request id a Vertex answer echoes, None for a failure."""
    if answer.status_code != 200:
        return None
    return json.loads(answer.json()["user_requested_aux_info"])["metrics"]["id"]


def check_vertex(answer: httpx.Response, request_id: int, allowed: Sequence[str] = ()) -> str:
    """Each answer is its own request's score, or a failure of an allowed kind: never another's score."""
    if answer.status_code == 200:
        assert echoed(answer) == request_id, f"request {request_id} got the answer of {echoed(answer)}"
        return "ok"
    assert answer.status_code == 500, answer.text
    code = answer.json()["error_code"]
    assert code in allowed, answer.text
    return code


def hammer(url: str, count: int, text_of, *, threads: int = 8, timeout: float = 30) -> list[tuple[int, httpx.Response]]:
    """`count` Vertex requests to `url`, `threads` at a time; request i sends text_of(i)."""
    with httpx.Client(timeout=timeout) as client, ThreadPoolExecutor(threads) as pool:
        answers = pool.map(lambda i: (i, client.post(url, json=vertex(text_of(i)))), range(count))
        return list(answers)


def signal_quietly(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass

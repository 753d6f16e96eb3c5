"""Helpers of the fault-injection suite: a served rewardkit whose processes can be found and hurt."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import httpx

from .served import Served, serve, tagged

FAULT_REWARDS = str(Path(__file__).resolve().parent / "fault_rewards.py")


class Fault(Served):
    """A served rewardkit whose processes a test can find (by the tag `serve` gives them) and hurt."""

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
    """`rewardkit serve TARGET ARGS` (`serve` checks that no process it started remains afterwards)."""
    with serve([target, *args]) as served:
        served.__class__ = Fault
        yield served  # type: ignore[misc]


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

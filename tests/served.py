"""Start the real `rewardkit serve` process on a loopback port, for tests that talk HTTP to it."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rewardkit_command() -> list[str]:
    script = Path(sys.executable).parent / "rewardkit"
    if script.exists():
        return [str(script)]
    found = shutil.which("rewardkit")
    return [found] if found else [sys.executable, "-m", "rewardkit"]


def wait_healthy(process: subprocess.Popen, url: str, timeout: float, what: str, output: Callable[[], str]) -> None:
    """Poll `url`/health until it answers 200; fail with `output()` if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n{output()}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer 200 on {url}/health within {timeout:g} s:\n{output()}")
        time.sleep(0.05)


TAG_VARIABLE = "REWARDKIT_TEST_TAG"


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
    """The tagged processes still alive after up to `seconds` (a SIGKILLed group takes a moment to go)."""
    deadline = time.monotonic() + seconds
    while True:
        left = tagged(tag)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(gone)"


class Served:
    def __init__(self, process: subprocess.Popen, url: str, log: Path, tag: str = "") -> None:
        self.process = process
        self.url = url
        self.log = log
        self.tag = tag  # in the environment of every process the server started

    def output(self) -> str:
        """What the server has written to stdout and stderr so far."""
        return self.log.read_text()


@contextmanager
def serve(args: Sequence[str] = (), env: dict[str, str] | None = None, timeout: float = 60.0,
          cwd: str | Path | None = None) -> Iterator[Served]:
    """Run `rewardkit serve ARGS --host 127.0.0.1 --port P` until /health answers; stop it with SIGTERM after."""
    port = free_port()
    command = [*rewardkit_command(), "serve", *args, "--host", "127.0.0.1", "--port", str(port)]
    with started(command, {**os.environ, **(env or {})}, f"http://127.0.0.1:{port}", timeout, cwd) as served:
        yield served


@contextmanager
def started(command: Sequence[str], env: dict[str, str], url: str, timeout: float = 60.0,
            cwd: str | Path | None = None, tag: str | None = None) -> Iterator[Served]:
    """Run `command`, a server answering on `url`, with exactly `env` (plus its tag) until /health answers;
    stop it with SIGTERM after.

    Its output goes to a file, not a pipe: nobody reads a pipe while the tests run, and a server
    blocked writing its access log to a full pipe stops answering. Once it has stopped, no process it
    started (workers, the forkserver, what rewards started) may remain: each carries `tag` (a new one
    unless given) in its environment.
    """
    tag = tag or uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="rewardkit-serve-") as folder:
        log = Path(folder) / "output.log"
        with open(log, "w") as output:
            process = subprocess.Popen(list(command), env={**env, TAG_VARIABLE: tag}, stdout=output,
                                       stderr=subprocess.STDOUT, text=True, cwd=cwd)
        served = Served(process, url, log, tag)
        try:
            wait_healthy(process, served.url, timeout, shlex.join(command), served.output)
            yield served
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    left = wait_gone(tag)
    for pid in left:  # nothing leaks into the next test, whatever this one says
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, "processes the server left behind:\n" + "\n".join(f"{p}: {_command_line(p)}" for p in left)

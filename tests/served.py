"""Start the real `rewardkit serve` process on a loopback port, for tests that talk HTTP to it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence
from contextlib import contextmanager

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


class Served:
    def __init__(self, process: subprocess.Popen, url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def output(self) -> str:
        """What the server has written to stdout and stderr so far."""
        return self.log.read_text()


@contextmanager
def serve(args: Sequence[str] = (), env: dict[str, str] | None = None, timeout: float = 60.0,
          cwd: str | Path | None = None) -> Iterator[Served]:
    """Run `rewardkit serve ARGS --host 127.0.0.1 --port P` until /health answers; stop it with SIGTERM after.

    Its output goes to a file, not a pipe: nobody reads a pipe while the tests run, and a server
    blocked writing its access log to a full pipe stops answering.
    """
    port = free_port()
    command = [*rewardkit_command(), "serve", *args, "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="rewardkit-serve-") as folder:
        log = Path(folder) / "output.log"
        with open(log, "w") as output:
            process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=output,
                                       stderr=subprocess.STDOUT, text=True, cwd=cwd)
        served = Served(process, f"http://127.0.0.1:{port}", log)
        try:
            wait_healthy(process, served.url, timeout, "rewardkit serve", served.output)
            yield served
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

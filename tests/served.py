"""Start the real `rewardkit serve` process on a loopback port, for tests that talk HTTP to it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
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
    def __init__(self, process: subprocess.Popen, url: str) -> None:
        self.process = process
        self.url = url

    def output(self) -> str:
        return self.process.stdout.read() if self.process.stdout else ""


@contextmanager
def serve(args: Sequence[str] = (), env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[Served]:
    """Run `rewardkit serve ARGS --host 127.0.0.1 --port P` until /health answers; stop it with SIGTERM after."""
    port = free_port()
    command = [*rewardkit_command(), "serve", *args, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, url, timeout, "rewardkit serve", lambda: process.stdout.read())
        yield Served(process, url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

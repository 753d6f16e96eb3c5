"""A real `redis-server` (Debian's package; .ci/run installs it) on a loopback port, for the shared-judge tests.

Nothing is saved to disk (`--save ""`, no append-only file): each start is an empty Redis.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from .served import free_port


def redis_server() -> str:
    """The redis-server binary; skips the test without it, except in CI, which must have it."""
    binary = shutil.which("redis-server")
    if binary is None:
        # CI installs it and must run the shared-limit tests; a developer's fresh machine runs the rest without it.
        assert not os.environ.get("CI"), "redis-server is not installed (apt-get install redis-server; .ci/run does)"
        pytest.skip("redis-server is not installed: apt-get install redis-server to test shared judge limits")
    return binary


class Redis:
    """One redis-server process on `port`; `stop()` kills it (SIGKILL: an outage, not a shutdown), `start()`
    brings an empty one back on the same port."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        log = open(self.folder / "redis.log", "ab")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited:\n{(self.folder / 'redis.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not answer within {timeout:g} s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def running_redis() -> Iterator[Redis]:
    binary = redis_server()
    with tempfile.TemporaryDirectory(prefix="rewardkit-redis-") as folder:
        redis = Redis(binary, Path(folder))
        redis.start()
        try:
            yield redis
        finally:
            redis.stop()

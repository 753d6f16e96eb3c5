"""Headless Chromium driven over the DevTools protocol: load a page, collect its console, read its DOM, shoot it.

Debian's `chromium` package (.ci/run installs it); the protocol over a websocket (websocket-client) with
the messages of https://chromedevtools.github.io/devtools-protocol/ (Page, Runtime, Log domains).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    socket: Any
    problems: list[str] = field(default_factory=list)  # console errors and warnings, uncaught exceptions
    _next: int = 0

    def call(self, method: str, timeout: float = 60.0, **params: Any) -> dict[str, Any]:
        """Send one command; collect the events that arrive before its answer."""
        self._next += 1
        ident = self._next
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def wait_for(self, event: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.socket.recv())
            self._event(message)
            if message.get("method") == event:
                return
        raise AssertionError(f"no {event} within {timeout} s")

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.problems.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.problems.append(f"uncaught: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            entry = params["entry"]
            self.problems.append(f"log {entry['level']}: {entry.get('text')} ({entry.get('url', '')})")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))


@contextmanager
def browser(timeout: float = 60.0) -> Iterator[Page]:
    """A headless Chromium on a loopback DevTools port, its first tab as a Page."""
    import websocket  # websocket-client

    binary = chromium()
    if not binary:
        # CI installs it and must draw the report; a developer's fresh machine runs the rest of the suite without it.
        assert not os.environ.get("CI"), "chromium is not installed (apt-get install chromium; .ci/run does)"
        pytest.skip("chromium is not installed: apt-get install chromium to check the report in a browser")
    with tempfile.TemporaryDirectory(prefix="rewardkit-chromium-") as profile:
        process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            url = _listening(process, timeout)
            port = url.split(":")[2].split("/")[0]
            tabs = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            tab = next(t for t in tabs if t.get("type") == "page")
            socket = websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=timeout)
            try:
                page = Page(socket)
                for domain in ("Page", "Runtime", "Log"):
                    page.call(f"{domain}.enable")
                yield page
            finally:
                socket.close()
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _listening(process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"chromium exited with {process.returncode}")
        found = LISTENING.search(line)
        if found:
            # Keep reading what it writes: a full pipe would stop the browser.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return found.group(1)
    raise AssertionError(f"chromium did not open its DevTools port within {timeout} s")


def open_page(page: Page, path: Path, timeout: float = 60.0) -> None:
    page.call("Page.navigate", url=path.resolve().as_uri())
    page.wait_for("Page.loadEventFired", timeout)

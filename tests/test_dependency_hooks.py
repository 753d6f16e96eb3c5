"""What rewardkit's serving takes from uvicorn and Starlette beyond their documented API, held in place.

The listener subclasses uvicorn's httptools protocol (rewardkit/_serving/listener.py UVICORN_HOOKS) and
`rewardkit serve` relies on uvicorn handing a caught SIGTERM back to the handler in place before it
(rewardkit/_cli/main.py). pyproject.toml pins uvicorn to the releases these tests pass with; a new release that
drops or changes one of them fails here, naming it, rather than in a served process."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
from types import FrameType
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

import rewardkit
from rewardkit._serving.listener import UVICORN_ATTRIBUTES, UVICORN_HOOKS, GuardedHttpTools
from rewardkit._settings import Settings

from .conftest import EXAMPLE_REWARDS, contract_example


@pytest.mark.parametrize("hook", sorted(UVICORN_HOOKS))
def test_uvicorn_s_httptools_protocol_still_has_each_hook_the_listener_overrides_or_calls(hook: str) -> None:
    method = getattr(HttpToolsProtocol, hook, None)
    assert callable(method), f"uvicorn's HttpToolsProtocol has no {hook}() any more: GuardedHttpTools overrides or " \
                             f"calls it (rewardkit/_serving/listener.py); uvicorn is {uvicorn.__version__}"
    parameters = tuple(inspect.signature(method).parameters)
    assert parameters == UVICORN_HOOKS[hook], f"uvicorn's HttpToolsProtocol.{hook} takes {parameters} now, not " \
                                              f"{UVICORN_HOOKS[hook]} (rewardkit/_serving/listener.py)"


async def _connected() -> tuple[GuardedHttpTools, socket.socket]:
    """A GuardedHttpTools on a real connection, made by asyncio as uvicorn's server makes one."""
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("no request is sent")

    config = uvicorn.Config(app, log_config=None, lifespan="off")
    ours, theirs = socket.socketpair()
    protocol = GuardedHttpTools(config=config, server_state=ServerState(), app_state={})
    await asyncio.get_running_loop().connect_accepted_socket(lambda: protocol, ours)
    return protocol, theirs


def test_the_attributes_the_listener_reads_are_set_by_uvicorn_s_protocol() -> None:
    async def check() -> None:
        protocol, peer = await _connected()
        try:
            for name in UVICORN_ATTRIBUTES:
                assert hasattr(protocol, name), f"uvicorn's HttpToolsProtocol no longer sets .{name}, which " \
                                                "GuardedHttpTools reads (rewardkit/_serving/listener.py)"
            assert protocol in protocol.connections and protocol.loop is asyncio.get_running_loop()
        finally:
            protocol.transport.close()
            peer.close()
            await asyncio.sleep(0)  # connection_lost runs: the head timer is cancelled

    asyncio.run(check())


def test_uvicorn_hands_a_caught_sigterm_back_to_the_handler_that_was_in_place() -> None:
    """`rewardkit serve` exits 0 after a graceful stop because its own SIGTERM handler receives the signal
    uvicorn raises again once it has shut down (cooperative signal handling, uvicorn 0.29)."""
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    server = uvicorn.Server(uvicorn.Config(lambda scope, receive, send: None, log_config=None))
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with server.capture_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            assert server.should_exit, "uvicorn.Server.capture_signals no longer makes SIGTERM stop the server"
            assert received == [], "uvicorn.Server.capture_signals no longer takes SIGTERM over while it runs"
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert received == [signal.SIGTERM], "uvicorn.Server.capture_signals no longer hands a caught SIGTERM back to " \
        "the handler in place before it: rewardkit/_cli/main.py relies on it to exit 0 after a graceful stop"


class _Seen:
    """Middleware a user adds: it records the path of every HTTP request it sees."""

    paths: list[str] = []

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def test_scoring_takes_the_fast_path_until_middleware_is_added_and_the_start_up_log_says_which(
        caplog: pytest.LogCaptureFixture) -> None:
    body = contract_example("vertex_request.json")
    body["example"]["references"] = {"answer": "72"}
    caplog.set_level(logging.INFO, logger="rewardkit")
    plain = rewardkit.create_app(EXAMPLE_REWARDS, settings=Settings(workers=0))
    with TestClient(plain) as client:
        assert client.post("/rewards/contains_reference", json=body).json()["reward"] == 1.0
    assert "scoring: the fast path, ahead of FastAPI's middleware and router" in caplog.messages

    caplog.clear()
    watched = rewardkit.create_app(EXAMPLE_REWARDS, settings=Settings(workers=0))
    watched.add_middleware(_Seen)
    with TestClient(watched) as client:
        assert client.post("/rewards/contains_reference", json=body).json()["reward"] == 1.0
    assert "/rewards/contains_reference" in _Seen.paths  # the middleware saw the scoring request
    (line,) = [m for m in caplog.messages if m.startswith("scoring: ")]
    assert line.startswith("scoring: through the app's middleware (_Seen) and FastAPI's router"), line

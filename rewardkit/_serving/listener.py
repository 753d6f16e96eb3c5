"""The HTTP front door: limits uvicorn's httptools protocol does not have, and the open-file limit.

uvicorn's httptools protocol (the one in use: httptools is installed) has no
limit on the size of a request's head and no timeout for reading it
(`h11_max_incomplete_event_size` applies to its h11 protocol only;
Kludex/uvicorn#157, #1684), and its `limit_concurrency` counts only
connections that have sent a request's headers: idle connections pile up
until the process runs out of file descriptors, and then every request
fails with no log line. Here:
- a request's line and headers over MAX_HEAD bytes get 431, and the connection is closed;
- a connection that has not sent a whole request head within HEAD_TIMEOUT seconds of opening, or of
  starting its next request, gets 408 and is closed (idle and slowloris connections);
- beyond `max_connections` open connections, a new one gets 503 and is closed, with a warning log;
- a refused connection is closed the way HTTP servers close with bytes unread (nginx's `lingering_close`):
  the answer, then FIN, then what the client still sends is read and dropped, until it has sent nothing
  for LINGER_QUIET seconds, at most LINGER seconds in all. Closed at once, with the client's request
  unread, it would make the kernel send RST, and the client's kernel drop the answer not yet read: the
  client saw a reset, not the 503. Up to LINGER_MAX are drained at once; past that, a drained connection
  that has sent nothing makes room (closing it resets nothing: nothing is unread);
- the soft open-file limit is raised to the hard one where it can be, and the connection cap is derived
  from the limit in force, below it by what the server's other descriptors and draining refusals take;
- bytes that are not HTTP get uvicorn's 400 as JSON `{"message": ...}`, like every other refusal;
- a port that is taken is reported, with how to choose another, before the rewards load and workers start
  (uvicorn would find out only after them, with a bare `[Errno 98]`).
Cloud Run's and Function Compute's front ends absorb some of this; a directly exposed container does not.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import resource
import socket
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .._errors import RewardkitError
from .http import RETRY_SOON

log = logging.getLogger("rewardkit")

MAX_HEAD = 64 * 1024  # bytes of request line and headers
HEAD_TIMEOUT = 10.0  # seconds to send a whole request head
MAX_CONNECTIONS = 4096  # the default cap, when the open-file limit allows it
LINGER = 2.0  # seconds a refused connection is drained at most before it is closed
LINGER_QUIET = 0.2  # ...or as soon as it has sent nothing for this long (its request came with the connection)
LINGER_MAX = 64  # refused connections draining at once; beyond, one is closed at once (each holds a descriptor)
_FILES_PER_WORKER = 4  # the server's end of a worker's pipe, a duplicate of it, its sentinel, spare
# The listening socket, logs, the forkserver, imports, and what rewards open in the server process (async
# rewards' judge connections, in-process sandboxes with --workers 0): measured at rest, 25 with 2 workers.
_FILES_RESERVED = 64


class PortUnavailable(RewardkitError):
    """The address `rewardkit serve` was asked to listen on cannot be listened on."""


_CHOOSE = "choose another with --port N or the PORT environment variable"


def check_port(host: str, port: int) -> None:
    """Bind every address `host` resolves to on `port` as uvicorn will (asyncio's create_server: SO_REUSEADDR,
    IPv6 sockets v6-only), then let go: raise PortUnavailable saying which port and how to choose another."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host!r}: {exc.strerror} (--host, REWARDKIT_HOST)") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise PortUnavailable(_bind_problem(exc, host, port)) from None


def _bind_problem(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} is already in use on {host} (another server, or another rewardkit serve, listens "
                f"there): stop it, or {_CHOOSE}")
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need privileges): {_CHOOSE}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: listen on 0.0.0.0 or one of its own (--host)"
    return f"cannot listen on {host} port {port}: {exc.strerror}; {_CHOOSE}"


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connections_allowed(open_files: int, workers: int) -> int:
    """The most connections the open-file limit leaves room for, beside workers, refusals draining and files."""
    return max(16, open_files - _FILES_RESERVED - _FILES_PER_WORKER * workers - LINGER_MAX)


class _Throttled:
    """A warning at most every `every` seconds, with the count of what happened since the last one."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.last = -every
        self.count = 0

    def __call__(self, level: int, message: str, *args: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= self.every:
            log.log(level, message + " (%d time(s) in the last %.0f s)", *args, self.count,
                    min(now - self.last, self.every))
            self.last, self.count = now, 0


def _headers(headers: dict[str, str]) -> bytes:
    return "".join(f"{name.lower()}: {value}\r\n" for name, value in headers.items()).encode("latin-1")


def _raw_answer(status: int, reason: str, message: str, extra: bytes = b"") -> bytes:
    body = json.dumps({"message": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n").encode() + extra + b"\r\n" + body


# What GuardedHttpTools takes from uvicorn's HttpToolsProtocol (uvicorn/protocols/http/httptools_impl.py): the
# methods it overrides or calls, with their parameters, and the attributes it reads. None is documented uvicorn
# API, and uvicorn has no hook for a head limit or timeout in this protocol (Kludex/uvicorn#157, #1684), so
# pyproject.toml pins uvicorn to the releases the tests cover and tests/test_dependency_hooks.py names the hook
# that disappeared or changed. connection_made/connection_lost/data_received are asyncio.Protocol's methods;
# on_message_begin/on_headers_complete are httptools' parser callbacks; send_400_response is uvicorn's own.
UVICORN_HOOKS: dict[str, tuple[str, ...]] = {
    "connection_made": ("self", "transport"),
    "connection_lost": ("self", "exc"),
    "data_received": ("self", "data"),
    "on_message_begin": ("self",),
    "on_headers_complete": ("self",),
    "send_400_response": ("self", "msg"),
}
UVICORN_ATTRIBUTES = ("connections", "loop", "transport")  # the open connections (a set), the event loop, the socket


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head size limit, a head read timeout and a connection cap."""

    max_connections = MAX_CONNECTIONS
    max_head = MAX_HEAD
    head_timeout = HEAD_TIMEOUT
    draining: dict[GuardedHttpTools, None] = {}  # refused connections being drained, oldest first (one server)
    _over_cap = _Throttled()
    _slow = _Throttled()
    _large = _Throttled()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.max_connections:
            self._over_cap(logging.WARNING, "%d connections are open, the limit is %d (--max-connections, "
                           "REWARDKIT_MAX_CONNECTIONS): new connections get 503 and are closed",
                           len(self.connections) - 1, self.max_connections)
            self._refuse(503, "Service Unavailable", f"the server has {self.max_connections} connections open, its "
                         "limit; retry shortly", _headers(RETRY_SOON))
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self.draining.pop(self, None)
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_expired)

    def _disarm(self) -> None:
        if getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()  # type: ignore[union-attr]
            self._head_timer = None

    def _refuse(self, status: int, reason: str, message: str, extra: bytes = b"") -> None:
        """Answer, then close: drained (see the module's docstring) while few refusals are, else at once."""
        self._disarm()
        if self.transport.is_closing() or self._drain_timer is not None:
            return
        self.transport.write(_raw_answer(status, reason, message, extra))
        if not self.transport.can_write_eof() or not self._room_to_drain():
            self.transport.close()
            return
        self.transport.write_eof()
        self.draining[self] = None
        self._sent_since_refused = False
        self._drain_end = self.loop.time() + LINGER
        self._drain_timer = self.loop.call_later(LINGER_QUIET, self.transport.close)

    def _room_to_drain(self) -> bool:
        """Whether one more refused connection may be drained: below LINGER_MAX, or by closing one that sent
        nothing since its refusal (an idle client, the usual reason for the cap)."""
        if len(self.draining) < LINGER_MAX:
            return True
        quiet = next((other for other in self.draining if not other._sent_since_refused), None)
        if quiet is None:
            return False
        del self.draining[quiet]
        quiet.transport.close()
        return True

    def _drain(self) -> None:
        """More bytes from a refused connection: dropped, and the close waits for the next quiet spell."""
        assert self._drain_timer is not None
        self._sent_since_refused = True
        self._drain_timer.cancel()
        wait = min(LINGER_QUIET, self._drain_end - self.loop.time())
        self._drain_timer = self.loop.call_later(max(wait, 0.0), self.transport.close)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, as JSON like every other refusal."""
        self._refuse(400, "Bad Request", msg)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._slow(logging.INFO, "closed a connection that sent no whole request head within %g s",
                       self.head_timeout)
            self._refuse(408, "Request Timeout", f"no whole request line and headers within {self.head_timeout:g} s")

    def data_received(self, data: bytes) -> None:
        if self._drain_timer is not None:
            return self._drain()
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head:
                self._large(logging.WARNING, "refused a request whose line and headers are over %d bytes",
                            self.max_head)
                self._refuse(431, "Request Header Fields Too Large",
                             f"the request line and headers are over {self.max_head} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()


def server_options(workers: int, max_connections: int | None) -> dict[str, Any]:
    """uvicorn.Config options for `rewardkit serve`: the guarded protocol, after raising the open-file limit."""
    open_files = raise_open_file_limit()
    allowed = connections_allowed(open_files, workers)
    cap = max_connections or min(MAX_CONNECTIONS, allowed)
    if cap > allowed:
        log.warning("--max-connections %d is more than the open-file limit %d leaves room for (with %d worker(s)): "
                    "the limit is %d, so that connections beyond it get 503 rather than fail; raise the hard "
                    "limit (ulimit -Hn, the container's nofile) to allow more", cap, open_files, workers, allowed)
        cap = allowed
    elif max_connections is None and cap < MAX_CONNECTIONS:
        log.info("open connections: at most %d, what the open-file limit %d leaves room for beside %d worker(s)",
                 cap, open_files, workers)
    protocol = type("GuardedHttpTools", (GuardedHttpTools,), {"max_connections": cap})
    return {"http": protocol}

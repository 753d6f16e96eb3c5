"""HTTP plumbing for the scoring routes, on plain ASGI: bodies in, JSON out, refusals, client disconnects."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, Awaitable, Callable, MutableMapping

from pydantic_core import to_json

log = logging.getLogger("rewardkit")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HTTPProblem(Exception):
    """A request rewardkit refuses, with the status and a message the caller can act on."""

    def __init__(self, status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers


def _too_large(size: str, limit: int) -> HTTPProblem:
    return HTTPProblem(413, f"request body is {size} bytes; the limit is {limit} bytes "
                       "(raise it with --max-body-mb or REWARDKIT_MAX_BODY_MB)")


async def read_body(receive: Receive, declared_length: bytes | None, limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes: up front by Content-Length, else as it arrives
    (a chunked body has no length to check)."""
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise _too_large(declared_length.decode(), limit)
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPProblem(499, "client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        if not body and not message.get("more_body", False):  # the usual case: the whole body at once
            if len(chunk) > limit:
                raise _too_large(f"more than {limit}", limit)
            return chunk
        body += chunk
        if len(body) > limit:
            raise _too_large(f"more than {limit}", limit)
        if not message.get("more_body", False):
            return bytes(body)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


# A surrogate escape (paired or not), or a surrogate encoded as UTF-8 bytes (json.loads decodes with surrogatepass).
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _without_lone_surrogates(value: Any) -> Any:
    """Every lone surrogate in keys and strings replaced with U+FFFD, what a UTF-8 decoder makes of it:
    no UTF-8 text can hold one, so each later step (logging, the pipe, the answer) would fail on it."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value


def _pairs(value: Any) -> int:
    """How many key-value pairs the objects in `value` hold, at every depth."""
    if type(value) is dict:
        count = len(value)
        children: Any = value.values()
    elif type(value) is list:
        count, children = 0, value
    else:
        return 0
    for child in children:
        if type(child) is dict or type(child) is list:
            count += _pairs(child)
    return count


# A string's closing quote followed by whitespace: a key may be, so `":` may not count every key.
_SPACED_QUOTE = re.compile(rb'"[ \t\n\r]')


def _without_duplicates(body: bytes, value: Any) -> bool:
    """True when no object of the UTF-8 `body` (parsed: `value`) holds a key twice; False when that is unsure.

    No quote followed by whitespace means each key's closing quote is followed by its colon, so the body's
    `":` count is at least its number of pairs (a string holding `\\":` adds to it). The parsed value holds
    every pair but those a repeated key overwrote (with all their contents). So when the two counts agree,
    no pair was lost. A body this cannot vouch for (pretty-printed, JSON inside strings, nested too deeply
    to count) is parsed again, pair by pair: the C parser's speed for what clients send, the same answer
    for every body."""
    if _SPACED_QUOTE.search(body):
        return False
    try:
        return body.count(b'":') == _pairs(value)
    except RecursionError:
        return False


def parse_json(body: bytes) -> Any:
    """The body's JSON value. A key twice in one object is refused: parsers disagree on which copy wins, and
    a body that means two things must not be scored. Lone surrogates are replaced (see above)."""
    try:
        value = json.loads(body)
        utf8 = json.detect_encoding(body) in ("utf-8", "utf-8-sig")
        if not (utf8 and _without_duplicates(body, value)):
            value = json.loads(body, object_pairs_hook=_unique)
    except _DuplicateKey as exc:
        raise HTTPProblem(400, f"request body is ambiguous: the key {exc.key!r} appears twice in one JSON object",
                          {"duplicate_key": _without_lone_surrogates(exc.key)}) from None
    except ValueError as exc:
        raise HTTPProblem(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HTTPProblem(400, "request body is not valid JSON: it is nested too deeply") from None
    if _SURROGATE.search(body) or not utf8:
        value = _without_lone_surrogates(value)
    return value


_JSON = (b"content-type", b"application/json")
# On every 503 (busy, shutting down, too many connections): a client that honours it comes back, to this
# instance or, behind a load balancer, to another; one second is what a busy worker pool or a restart takes.
RETRY_SOON = {"Retry-After": "1"}


async def send_json(send: Send, status: int, content: Any, headers: dict[str, str] | None = None) -> None:
    """Answer with `content` as compact UTF-8 JSON (what Starlette's JSONResponse sends, without its layers).

    Scores are finite by the time they get here (`_score.to_score`, `_pipeline`), so NaN never reaches this.
    """
    body = to_json(content)
    raw_headers = [_JSON, (b"content-length", str(len(body)).encode())]
    if headers:
        raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def problem_body(problem: HTTPProblem) -> dict[str, Any]:
    return {"message": problem.message, "detail": problem.detail}


async def _until_disconnected(receive: Receive) -> None:
    # Called once the body is read: the next ASGI message is the client going away (or the response ending).
    while (await receive())["type"] != "http.disconnect":
        pass


DISCONNECT_WATCH_AFTER = 0.05  # seconds; quicker answers never pay for a watcher task


class DisconnectWatch:
    """Cancels the current task if the request's client goes away before `stop()`.

    Noticing needs a task reading ASGI `receive`; it starts only once the
    request has taken DISCONNECT_WATCH_AFTER seconds. After the task is
    cancelled, `gone()` tells a disconnect (answer 499) from any other
    cancellation (shutdown: let it propagate).
    """

    __slots__ = ("receive", "handler", "task", "timer")

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.handler = asyncio.current_task()
        self.task: asyncio.Task[None] | None = None
        self.timer = asyncio.get_running_loop().call_later(DISCONNECT_WATCH_AFTER, self._start)

    def _start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(_until_disconnected(self.receive))
        self.task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is None and self.handler is not None:
            self.handler.cancel()

    def gone(self) -> bool:
        """True when the cancellation came from the client going away (and is then taken back)."""
        task = self.task
        if task is None or not task.done() or task.cancelled():
            return False
        if self.handler is not None and hasattr(self.handler, "uncancel"):
            self.handler.uncancel()
        return True

    def stop(self) -> None:
        self.timer.cancel()
        if self.task is not None and not self.task.done():
            self.task.cancel()

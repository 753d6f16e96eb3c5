"""HTTP plumbing for the scoring routes, on plain ASGI: bodies in, JSON out, refusals, client disconnects."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, MutableMapping

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import from_json, to_json

log = logging.getLogger("rewardkit")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ErrorResponse(BaseModel):
    """Body of every 4xx answer (and of DashScope-style 500s): a sentence, then the details."""

    message: str
    detail: Any = None


class HTTPProblem(Exception):
    """A request rewardkit refuses, with the status and a message the caller can act on."""

    def __init__(self, status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(body)"


def validate(adapter: TypeAdapter, raw: Any, contract: str, tags: tuple[str, ...] = ()) -> Any:
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False, include_input=False):
            loc = tuple(error["loc"])
            if loc and loc[0] in tags:  # a discriminated union prefixes the tag; the caller never wrote it
                loc = loc[1:]
            msg = error["msg"]
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                # pydantic names the discriminator function; say which field and which values instead.
                got = error.get("ctx", {}).get("tag")
                loc = ("func_type",) if got else ()
                msg = f"expected 'reward' or 'group_reward', got {got!r}" if got else "expected a JSON object"
            errors.append({"loc": list(loc), "msg": msg, "type": error["type"]})
        summary = "; ".join(f"{_location(tuple(e['loc']))}: {e['msg']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise HTTPProblem(422, f"request body does not match the {contract} contract: {summary}{more}", errors) from None


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
        chunk = message.get("body", b"")
        if not body and not message.get("more_body", False):  # the usual case: the whole body at once
            if len(chunk) > limit:
                raise _too_large(f"more than {limit}", limit)
            return chunk
        body += chunk
        if len(body) > limit:
            raise _too_large(f"more than {limit}", limit)
        if not message.get("more_body", False):
            return bytes(body)


def parse_json(body: bytes) -> Any:
    try:
        return from_json(body)  # pydantic's parser: twice as fast as json.loads
    except ValueError:
        pass
    try:  # what it refuses and json.loads takes (a byte-order mark, UTF-16, deeper nesting); else json.loads says why
        return json.loads(body)
    except ValueError as exc:
        raise HTTPProblem(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HTTPProblem(400, "request body is not valid JSON: it is nested too deeply") from None


_JSON = (b"content-type", b"application/json")


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

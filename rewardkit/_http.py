"""HTTP plumbing shared by the routes: reading and validating bodies, refusals, client disconnects."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable

from fastapi import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

log = logging.getLogger("rewardkit")


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


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(declared, limit)
    body = bytearray()
    async for chunk in request.stream():  # a chunked body has no length to check up front
        body += chunk
        if len(body) > limit:
            raise _too_large(f"more than {limit}", limit)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise HTTPProblem(400, f"request body is not valid JSON: {exc}") from None


async def _until_disconnected(request: Request) -> None:
    # Called once the body is read: the next ASGI message is the client going away (or the response ending).
    while (await request.receive())["type"] != "http.disconnect":
        pass


DISCONNECT_WATCH_AFTER = 0.05  # seconds; quicker answers never pay for a watcher task


class _DisconnectWatch:
    """Cancels a request's handler if its client goes away; started only for slow requests."""

    __slots__ = ("request", "handler", "task")

    def __init__(self, request: Request, handler: asyncio.Task[Any]) -> None:
        self.request = request
        self.handler = handler
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(_until_disconnected(self.request))
        self.task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.handler.cancel()

    @property
    def saw_disconnect(self) -> bool:
        return self.task is not None and self.task.done() and not self.task.cancelled()

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


async def unless_disconnected(request: Request, work: Awaitable[Any]) -> Any:
    """Await `work`; if the client disconnects first, cancel it (a waiting call leaves the queue) and answer 499."""
    handler = asyncio.current_task()
    if handler is None:
        return await work
    watch = _DisconnectWatch(request, handler)
    timer = asyncio.get_running_loop().call_later(DISCONNECT_WATCH_AFTER, watch.start)
    try:
        return await work
    except asyncio.CancelledError:
        if not watch.saw_disconnect:
            raise  # cancelled by someone else (shutdown): not a disconnect
        if hasattr(handler, "uncancel"):
            handler.uncancel()
        log.info("client disconnected from %s; its reward calls were cancelled", request.url.path)
        raise HTTPProblem(499, "client disconnected; the reward calls were cancelled") from None
    finally:
        timer.cancel()
        watch.stop()

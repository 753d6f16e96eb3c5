"""The app `rewardkit serve` runs, in this process, for synchronous callers (pytest plugin, rewardkit.testing)."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import httpx

from .replay import DEFAULT_TIMEOUT, IN_PROCESS_URL


class _LoopTransport(httpx.BaseTransport):
    """A sync httpx transport that hands each request to the ASGI app on the service's event loop."""

    def __init__(self, service: "InProcessService") -> None:
        self._service = service
        self._asgi = httpx.ASGITransport(app=service.app, raise_app_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        asgi = self._asgi

        async def send() -> tuple[int, httpx.Headers, bytes]:
            forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=content)
            response = await asgi.handle_async_request(forwarded)
            return response.status_code, response.headers, await response.aread()

        status, headers, body = self._service.call(send())
        return httpx.Response(status, headers=headers, content=body, request=request)


class InProcessService:
    """The app of `target` (as `rewardkit serve` builds it) running on an event loop in a background thread.

    `client()` gives a synchronous httpx client whose requests go to that app
    over ASGI, so sync code (pytest items, plain tests) exercises the same
    lifespan, engine and adapters as the replay runner and the real server.
    """

    def __init__(self, target: str = "rewards", *, reward: str | None = None, settings: Any = None) -> None:
        from .._serving.app import create_app

        self.app = create_app(target, reward=reward, settings=settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="rewardkit-in-process", daemon=True)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with self.app.router.lifespan_context(self.app):
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # startup failed: hand it to the thread that is waiting
            self._error = exc
        finally:
            self._ready.set()

    def start(self) -> "InProcessService":
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def call(self, coroutine: Any) -> Any:
        if self._loop is None or not self._thread.is_alive():
            coroutine.close()
            raise RuntimeError("the in-process service is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("base_url", IN_PROCESS_URL)
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        return httpx.Client(transport=_LoopTransport(self), **kwargs)

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.ident is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> "InProcessService":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


@contextmanager
def served_client(target: str = "rewards", *, reward: str | None = None,
                  settings: Any = None) -> Iterator[httpx.Client]:
    """A sync httpx client for the in-process app of `target`; the app stops when the block ends."""
    with InProcessService(target, reward=reward, settings=settings) as service:
        with service.client() as client:
            yield client

"""Where and how a reward runs. An engine knows nothing of HTTP or platforms.

`_pool.ProcessEngine` (the server's default) runs synchronous rewards in a
pool of worker processes with hard limits; async rewards run on the event
loop. InlineEngine runs everything in this process (tests,
`rewardkit.testing`, `--workers 0`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from typing import Any, Protocol, Sequence

from .._outcome import TIMEOUT, Failure, Outcome
from .._registry import Registry, RewardSpec
from .._sample import Sample
from . import worker as _worker
from .invoke import arun_leaf, run_leaf


class Engine(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]: ...


class TaskExit(RuntimeError):
    """A task raised SystemExit or KeyboardInterrupt; asyncio would re-raise it out of the event loop."""


async def _contained(coro: Any) -> Any:
    try:
        return await coro
    except (SystemExit, KeyboardInterrupt) as exc:
        raise TaskExit(f"{type(exc).__name__}: {exc}") from exc


def contain_task_exits(loop: asyncio.AbstractEventLoop) -> None:
    """From now on, a task that raises SystemExit or KeyboardInterrupt fails with TaskExit instead.

    asyncio re-raises those two out of the event loop, whoever awaits the task: an async reward that
    starts tasks of its own (gather, create_task) could otherwise stop the server with one request.
    The reward's own raises are caught where it is called (`_invoke`); this covers its tasks."""
    previous = loop.get_task_factory()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> "asyncio.Future[Any]":
        wrapped = _contained(coro)
        if previous is not None:
            return previous(loop, wrapped, **kwargs)
        return asyncio.Task(wrapped, loop=loop, **kwargs)

    loop.set_task_factory(factory)


def failed(spec: RewardSpec, code: str, message: str, count: int) -> list[Outcome]:
    return [Outcome(spec.name, failure=Failure(code, message)) for _ in range(count)]


async def run_async(spec: RewardSpec, samples: Sequence[Sample], timeout: float | None) -> list[Outcome]:
    """An async reward on the event loop, answered TIMEOUT once its deadline passes, even when it overran by
    holding the loop (a blocking call inside `async def`): then it could not be cancelled, but its late
    result is not taken."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        if sys.version_info >= (3, 11):  # asyncio.timeout runs in this task; wait_for would start another
            async with asyncio.timeout(timeout):
                outcomes = await arun_leaf(spec, samples)
        else:
            outcomes = await asyncio.wait_for(arun_leaf(spec, samples), timeout)
    except asyncio.TimeoutError:
        return failed(spec, TIMEOUT, f"reward {spec.name!r} took longer than {timeout:g} s and was cancelled",
                      len(samples))
    took = loop.time() - began
    if timeout is not None and took > timeout:
        return failed(spec, TIMEOUT, f"reward {spec.name!r} took {took:.1f} s, longer than {timeout:g} s, holding the "
                      "event loop (a blocking call in an async reward: CPU work belongs in sync rewards)", len(samples))
    return outcomes


class InlineEngine:
    """Runs rewards in this process: async ones on the event loop, sync ones in a thread.

    With threaded=False sync rewards run in the calling thread (what
    `rewardkit.testing` uses, so signal-based timeouts in libraries work),
    except a reward with a timeout: it runs in a thread of its own and is
    answered TIMEOUT when the time is up (a thread cannot be killed, so it
    is left to finish: only worker processes give a hard limit).
    """

    def __init__(self, registry: Registry | None = None, *, threaded: bool = True,
                 timeout: float | None = None) -> None:
        self.registry = registry
        self.threaded = threaded
        self.timeout = timeout

    async def start(self) -> None:
        if self.registry is not None:
            _worker.run_setups(self.registry)

    async def stop(self) -> None:
        return None

    async def run(self, spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
        timeout = spec.timeout or self.timeout
        if spec.is_async:
            return await run_async(spec, samples, timeout)
        if timeout is None:
            return await asyncio.to_thread(run_leaf, spec, samples) if self.threaded else run_leaf(spec, samples)
        # A thread cannot be killed: the call is answered TIMEOUT on time and its thread left to finish.
        done: concurrent.futures.Future[list[Outcome]] = concurrent.futures.Future()
        threading.Thread(target=_settle, args=(done, spec, samples), daemon=True,
                         name=f"rewardkit-{spec.name}").start()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(done), timeout)
        except asyncio.TimeoutError:
            return failed(spec, TIMEOUT, f"reward {spec.name!r} took longer than {timeout:g} s; its thread was "
                          "abandoned (in-process runs cannot kill it)", len(samples))


def _settle(done: "concurrent.futures.Future[list[Outcome]]", spec: RewardSpec, samples: Sequence[Sample]) -> None:
    try:
        done.set_result(run_leaf(spec, samples))
    except BaseException as exc:  # run_leaf returns failures as data; anything else still reaches the caller
        done.set_exception(exc)

"""Where and how a reward runs. The engine knows nothing of HTTP or platforms.

ProcessEngine (the server's default) runs synchronous rewards in a pool of
worker processes, one call per worker at a time, with a hard timeout: a
worker that overruns is killed and replaced, as is one that crashes. Async
rewards run on the event loop. InlineEngine runs everything in this process
(tests, `rewardkit.testing`, `--workers 0`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import multiprocessing
import signal
import sys
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from . import _worker
from ._errors import EngineBusy, SetupError
from ._invoke import OUT_OF_MEMORY, TIMEOUT, WORKER_CRASHED, Failure, Outcome, arun_leaf, run_leaf
from ._registry import Registry, RewardSpec
from ._sample import Sample
from ._settings import Settings

log = logging.getLogger("rewardkit")

STARTUP_TIMEOUT = 300.0  # seconds a worker may take to import the target and run setups
STOP_TIMEOUT = 2.0
_NEEDS_RAW = {"raw", "sample", "samples"}
# Why a worker was replaced (the label of rewardkit_worker_restarts_total).
RESTART_TIMEOUT, RESTART_CRASHED, RESTART_OUT_OF_MEMORY, RESTART_CANCELLED = "timeout", "crashed", "out_of_memory", "cancelled"


class Engine(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]: ...


def _failed(spec: RewardSpec, code: str, message: str, count: int) -> list[Outcome]:
    return [Outcome(spec.name, failure=Failure(code, message)) for _ in range(count)]


async def _run_async(spec: RewardSpec, samples: Sequence[Sample], timeout: float | None) -> list[Outcome]:
    try:
        if sys.version_info >= (3, 11):  # asyncio.timeout runs in this task; wait_for would start another
            async with asyncio.timeout(timeout):
                return await arun_leaf(spec, samples)
        return await asyncio.wait_for(arun_leaf(spec, samples), timeout)
    except asyncio.TimeoutError:
        return _failed(spec, TIMEOUT, f"reward {spec.name!r} took longer than {timeout:g} s and was cancelled", len(samples))


class InlineEngine:
    """Runs rewards in this process: async ones on the event loop, sync ones in a thread.

    With threaded=False sync rewards run in the calling thread (what
    `rewardkit.testing` uses, so signal-based timeouts in libraries work).
    No hard timeout for sync rewards: a thread cannot be killed.
    """

    def __init__(self, registry: Registry | None = None, *, threaded: bool = True, timeout: float | None = None) -> None:
        self.registry = registry
        self.threaded = threaded
        self.timeout = timeout

    async def start(self) -> None:
        if self.registry is not None:
            _worker.run_setups(self.registry)

    async def stop(self) -> None:
        return None

    async def run(self, spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
        if spec.is_async:
            return await _run_async(spec, samples, spec.timeout or self.timeout)
        if self.threaded:
            return await asyncio.to_thread(run_leaf, spec, samples)
        return run_leaf(spec, samples)


class WorkerDied(Exception):
    """The worker's end of the pipe closed: it exited or was killed."""


def _exit_description(process: BaseProcess) -> str:
    process.join(timeout=1.0)
    code = process.exitcode
    if code is None:
        return "it stopped answering"
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


class _Worker:
    """One worker process and the server's end of its pipe.

    The pipe is watched for the whole life of the worker (one epoll
    registration, not one per call); an answer resolves the pending call.
    """

    def __init__(self, process: BaseProcess, conn: Connection, loop: asyncio.AbstractEventLoop) -> None:
        self.process = process
        self.conn = conn
        self.dead = False
        self._loop = loop
        self._pending: asyncio.Future[Any] | None = None
        loop.add_reader(conn.fileno(), self._readable)

    def _readable(self) -> None:
        pending = self._pending
        try:
            message = _worker.receive(self.conn)
        except (EOFError, OSError):
            self._loop.remove_reader(self.conn.fileno())
            self.dead = True
            if pending is not None and not pending.done():
                pending.set_exception(WorkerDied(_exit_description(self.process)))
            return
        if pending is not None and not pending.done():
            pending.set_result(message)

    def send(self, message: Any) -> None:
        try:
            _worker.send(self.conn, message)
        except (OSError, ValueError) as exc:  # broken pipe: it died while idle
            raise WorkerDied(_exit_description(self.process)) from exc

    async def receive(self, timeout: float | None) -> Any:
        """The worker's next message; asyncio.TimeoutError after `timeout` seconds."""
        if self.dead:
            raise WorkerDied(_exit_description(self.process))
        answer = self._pending = self._loop.create_future()
        expiry = None
        if timeout is not None:
            expiry = self._loop.call_later(
                timeout, lambda: answer.done() or answer.set_exception(asyncio.TimeoutError())
            )
        try:
            return await answer
        finally:
            self._pending = None
            if expiry is not None:
                expiry.cancel()

    async def call(self, message: Any, timeout: float | None) -> Any:
        self.send(message)
        return await self.receive(timeout)

    def kill(self) -> None:
        if not self.dead:
            self._loop.remove_reader(self.conn.fileno())
            self.dead = True
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=STOP_TIMEOUT)
        self.conn.close()


def _context(target: str, preload: Sequence[str]) -> Any:
    """forkserver with the target and the rewards' `preload` modules imported once: every worker, and
    every replacement of a killed one, forks with them already loaded."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    module = target
    if target.endswith(".py") or "/" in target:
        path = Path(target).resolve()
        module = path.stem
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))  # the forkserver inherits sys.path when it starts
    context.set_forkserver_preload(["rewardkit._worker", module, *preload])
    return context


class ProcessEngine:
    """A pool of worker processes for synchronous rewards; async rewards run on the event loop."""

    def __init__(self, target: str, registry: Registry, settings: Settings) -> None:
        self.target = target
        self.registry = registry
        self.settings = settings
        self.size = settings.worker_count
        self.restarts = 0
        self.on_restart: Callable[[str], None] | None = None  # observability hook: called with the RESTART_* kind
        self._memory = settings.worker_memory_bytes
        preload = sorted({m for s in registry if isinstance(s, RewardSpec) for m in s.preload})
        self._context = _context(target, preload)
        self._workers: set[_Worker] = set()
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._waiting = 0
        self._running = 0
        self._respawns: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def waiting(self) -> int:
        """Reward calls waiting for a worker."""
        return self._waiting

    @property
    def running(self) -> int:
        """Reward calls running in workers."""
        return self._running

    async def start(self) -> None:
        _worker.run_setups(s for s in self.registry if isinstance(s, RewardSpec) and s.is_async)
        results = await asyncio.gather(*(self._spawn() for _ in range(self.size)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for result in results:
            if isinstance(result, _Worker):
                self._idle.put_nowait(result)
        if errors:
            await self.stop()
            raise errors[0]
        log.info("started %d worker process(es) for %s", self.size, self.target)

    async def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker.main, args=(child, self.target, self._memory), name="rewardkit-worker", daemon=True
        )
        await asyncio.to_thread(process.start)
        child.close()
        worker = _Worker(process, parent, asyncio.get_running_loop())
        try:
            kind, payload = await worker.receive(STARTUP_TIMEOUT)
        except (WorkerDied, asyncio.TimeoutError) as exc:
            worker.kill()
            raise SetupError(f"a worker process for {self.target!r} did not start: {exc or 'timed out'}") from None
        if kind == _worker.FAILED:
            worker.kill()
            raise SetupError(payload)
        self._workers.add(worker)
        return worker

    def _replace(self, worker: _Worker, kind: str, reason: str) -> None:
        self._workers.discard(worker)
        worker.kill()
        self.restarts += 1
        log.warning("worker %s replaced: %s", worker.process.pid, reason)
        if self.on_restart is not None:
            self.on_restart(kind)
        if not self._stopping:
            task = asyncio.get_running_loop().create_task(self._respawn())
            self._respawns.add(task)
            task.add_done_callback(self._respawns.discard)

    async def _respawn(self) -> None:
        delay = 0.1
        while not self._stopping:
            try:
                self._idle.put_nowait(await self._spawn())
                return
            except SetupError as exc:
                log.error("could not replace a worker (retrying in %.1f s): %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._respawns):
            task.cancel()
        for worker in list(self._workers):
            try:
                worker.send(None)
            except WorkerDied:
                pass  # already gone
        for worker in list(self._workers):
            await asyncio.to_thread(worker.process.join, STOP_TIMEOUT)
            worker.kill()
        self._workers.clear()

    async def run(self, spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
        timeout = spec.timeout or self.settings.timeout
        if spec.is_async:
            return await _run_async(spec, samples, timeout)
        if not _NEEDS_RAW & set(spec.inputs):
            samples = [dataclasses.replace(sample, raw=None) for sample in samples]  # less to pickle
        # A group fans out one call per sample across the workers (a grouped reward needs them all at once).
        jobs = [list(samples)] if spec.grouped else [[sample] for sample in samples]
        if self._waiting + len(jobs) > self.settings.max_queue + self._idle.qsize():
            raise EngineBusy(
                f"all {self.size} workers are busy and {self._waiting} reward calls are already waiting "
                f"(limit {self.settings.max_queue}); retry shortly"
            )
        if len(jobs) == 1:
            return await self._run_job(spec, jobs[0], timeout)
        results = await asyncio.gather(*(self._run_job(spec, job, timeout) for job in jobs))
        return [outcome for result in results for outcome in result]

    async def _next_worker(self) -> _Worker:
        self._waiting += 1
        try:
            while True:
                worker = await self._idle.get()
                if not worker.dead:
                    return worker
                self._replace(worker, RESTART_CRASHED, f"it exited while idle ({_exit_description(worker.process)})")
        finally:
            self._waiting -= 1

    async def _run_job(self, spec: RewardSpec, samples: list[Sample], timeout: float) -> list[Outcome]:
        worker = await self._next_worker()
        self._running += 1
        try:
            _kind, outcomes = await worker.call((spec.name, samples), timeout)
        except asyncio.TimeoutError:
            self._replace(worker, RESTART_TIMEOUT, f"reward {spec.name!r} ran over its {timeout:g} s timeout")
            return _failed(spec, TIMEOUT, f"reward {spec.name!r} took longer than {timeout:g} s; "
                           "its worker was stopped and replaced", len(samples))
        except WorkerDied as died:
            self._replace(worker, RESTART_CRASHED, f"it died running reward {spec.name!r} ({died})")
            return _failed(spec, WORKER_CRASHED, f"the worker running reward {spec.name!r} died ({died}); "
                           "it was replaced", len(samples))
        except BaseException:
            # Cancelled (the client went away) or interrupted: the call may still be running; stop it.
            self._replace(worker, RESTART_CANCELLED, f"its call to reward {spec.name!r} was cancelled")
            raise
        finally:
            self._running -= 1
        if any(o.failure is not None and o.failure.code == OUT_OF_MEMORY for o in outcomes):
            self._replace(worker, RESTART_OUT_OF_MEMORY, f"reward {spec.name!r} ran out of memory")
        else:
            self._idle.put_nowait(worker)
        return outcomes

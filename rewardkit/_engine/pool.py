"""ProcessEngine: synchronous rewards in a pool of worker processes, with hard limits.

Each worker runs one call at a time in its main thread (so signal-based
timeouts inside libraries work). The server keeps, per worker, the calls it
has sent it, in order; the first is running, and its deadline is armed when
it starts. A call that overruns is answered TIMEOUT and its worker killed
and replaced; a worker that crashes is replaced and its call answered
WORKER_CRASHED; calls it had not started go back to the head of the queue.

How many calls a worker may hold depends on how long the reward's calls
usually take, as the workers time them (a moving average):
- a *fast* reward (under FAST_CALL): up to MAX_BATCH, sent in one write, so
  calls that arrived together share one process wake-up, the largest cost of
  a trivial reward;
- a *steady* one (under STEADY_CALL): two, so the next call is already in the
  worker's pipe when the running one ends and the worker never waits for the
  server between calls;
- any other, and one not timed yet: one, so nothing waits behind a call that
  may be slow. A call that overruns makes its reward count as slow for a while.
Every call carries an id, and every answer the id of its call and the pid
of the process that sent it: an answer that is not the running call's, from
another process (a reward that forked), or that cannot be read marks the
worker broken; it is replaced and its running call answered WORKER_CRASHED,
so no call can ever get another's score. A worker's death is noticed by the
process itself (its sentinel), not only by its pipe closing: a child it left
may hold the pipe open. Each worker leads its own process group, killed
whole whenever the worker is retired (`_orphans`).

Calls go to idle workers once per event-loop turn (so the calls that arrived
together travel together), and to a busy worker when it starts the last call
it holds.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Callable, Sequence

from .._errors import EngineBusy, SetupError
from .._outcome import OUT_OF_MEMORY, TIMEOUT, WORKER_CRASHED, Outcome
from .._registry import Registry, RewardSpec
from .._sample import Sample
from .._settings import Settings
from . import orphans as _orphans
from . import worker as _worker
from .codec import FrameReader, frame, unpack_outcomes
from .inline import failed, run_async
from .invoke import call_inputs, group_inputs

log = logging.getLogger("rewardkit")

STARTUP_TIMEOUT = 300.0  # seconds a worker may take to import the target and run setups
STOP_TIMEOUT = 2.0
FAST_CALL = 0.001  # seconds: see the module docstring
STEADY_CALL = 0.1  # seconds: see the module docstring
MAX_BATCH = 16  # the most calls a worker holds
_LEARNING_RATE = 0.2  # weight of the newest call in a reward's typical duration
# Why a worker was replaced (the label of rewardkit_worker_restarts_total).
RESTART_TIMEOUT, RESTART_CRASHED = "timeout", "crashed"
RESTART_OUT_OF_MEMORY, RESTART_CANCELLED = "out_of_memory", "cancelled"
RESTART_BROKEN = "broken"  # its pipe carried something other than the answer to its running call


class WorkerDied(Exception):
    """The worker's end of the pipe closed before it said it was ready."""


# multiprocessing reads a forkserver child's exit status from its sentinel, once, without a lock; two threads
# reading it together (a retired worker's reaping, and Process.start polling every child) can leave the loser
# an end-of-file it records as exit code 255. Every read of a worker's status, and every start, hold this lock.
_STATUS_LOCK = threading.Lock()


def _start(process: BaseProcess) -> None:
    with _STATUS_LOCK:
        process.start()


def _wait_ended(processes: Sequence[BaseProcess], timeout: float) -> None:
    """Wait until each process has ended or `timeout` has passed, without reading any exit status."""
    deadline = time.monotonic() + timeout
    pending = [p.sentinel for p in processes]
    while pending and (left := deadline - time.monotonic()) > 0:
        ready = multiprocessing.connection.wait(pending, left)
        pending = [s for s in pending if s not in ready]


def _exit_description(process: BaseProcess) -> str:
    _wait_ended([process], 1.0)
    with _STATUS_LOCK:
        code = process.exitcode
    if code is None:
        return "it stopped answering"
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


class _Job:
    """One call to a worker: a reward on one sample, or on the samples of a group at once.

    Waiting while `queued` (in the engine's queue, and counted in its
    `waiting`); sent while in `worker.jobs` (running when first there); over
    once the future is done (answered, or cancelled because its request
    went away).
    """

    __slots__ = ("id", "spec", "frame", "size", "timeout", "future", "worker", "queued")

    def __init__(self, id: int, spec: RewardSpec, call: Any, size: int, timeout: float,
                 future: asyncio.Future[list[Outcome]]) -> None:
        self.id = id
        self.spec = spec
        self.frame = frame((id, spec.name, call))
        self.size = size
        self.timeout = timeout
        self.future = future
        self.worker: _Worker | None = None
        self.queued = False

    def resolve(self, outcomes: list[Outcome]) -> None:
        if not self.future.done():
            self.future.set_result(outcomes)


class _Worker(asyncio.Protocol):
    """One worker process and the server's end of its socket, read by the event loop.

    Its answers, and its death, come back to the engine as callbacks: no
    task waits per call.
    """

    def __init__(self, engine: "ProcessEngine", process: BaseProcess, peek: socket.socket) -> None:
        self.engine = engine
        self.process = process
        self._peek = peek  # the pipe, to see whether an answer is still unread when the process ends
        self.pid: int = process.pid  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
        self.sentinel = process.sentinel
        self.loop.add_reader(self.sentinel, self._exited)  # readable once the process has ended
        self.started: asyncio.Future[Any] = self.loop.create_future()  # its first message: ready, or failed
        self.jobs: deque[_Job] = deque()  # sent to it, in order; the first is running
        self.deadline: asyncio.TimerHandle | None = None  # of the running job
        self.ended: asyncio.Future[str] | None = None  # how the process ended, once retired
        self._transport: asyncio.Transport | None = None
        self._frames = FrameReader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._frames.feed(data)
        except Exception as exc:  # two writers interleaved their bytes, or a reward wrote on the pipe
            self.engine._broken(self, f"it sent bytes that are not a message ({type(exc).__name__})")
            return
        for message in messages:
            if self.retired:
                return
            if not self.started.done():
                self.started.set_result(message)
                continue
            try:
                _done, call_id, pid, packed, seconds = message
            except (TypeError, ValueError):
                self.engine._broken(self, f"it sent a message that is not an answer: {message!r:.100}")
                return
            if pid != self.pid:
                self.engine._broken(self, f"process {pid}, not the worker, answered on its pipe "
                                          "(did the reward fork a child that kept running?)")
            elif not self.jobs or self.jobs[0].id != call_id:
                running = self.jobs[0].id if self.jobs else None
                self.engine._broken(self, f"it answered call {call_id!r} while running call {running}")
            else:
                self.engine._answered(self, packed, seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self.engine._lost(self)

    def _exited(self) -> None:
        """The process ended; once its last words on the pipe are read (an answer, then exit: out of
        memory), it is lost."""
        self.loop.remove_reader(self.sentinel)
        try:
            unread = self._peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            unread = b""  # nothing to read, and something (a child it left) still holds the pipe open
        except OSError:
            unread = b""
        if unread and not self.retired:
            self.loop.call_later(0.01, self._exited)  # the transport reads it first
            return
        self.engine._lost(self)

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def run_next(self) -> None:
        """The first job starts its run (as far as the server can tell): arm its deadline."""
        job = self.jobs[0]
        self.deadline = self.loop.call_later(job.timeout, self.engine._expired, self, job)

    def finish_running(self) -> _Job:
        """Take the running job off the list (it answered, overran, or is being stopped)."""
        job = self.jobs.popleft()
        self.deadline.cancel()  # type: ignore[union-attr]
        self.deadline = None
        return job

    @property
    def retired(self) -> bool:
        return self.ended is not None

    def retire(self) -> asyncio.Future[str]:
        """Kill the process and close the pipe; the future says how the process ended, once it has."""
        if self.ended is None:
            if self.deadline is not None:
                self.deadline.cancel()
            self.loop.remove_reader(self.sentinel)
            self._peek.close()
            _orphans.kill_group(self.pid)  # the worker and everything its rewards started
            self.process.kill()
            if self._transport is not None:
                self._transport.abort()
            # Reaping can take a moment (a large heap to tear down); the event loop does not wait for it.
            self.ended = self.loop.run_in_executor(None, _exit_description, self.process)
        return self.ended


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
    # The forkserver's parent-death signal must be asked for from the thread that starts it (the engine's
    # start, on the event loop's thread): it fires when that *thread* ends.
    os.environ[_orphans.SERVER_PID_VARIABLE] = str(os.getpid())
    context.set_forkserver_preload(["rewardkit._engine.forkserver_guard", "rewardkit._engine.worker", module, *preload])
    return context


class ProcessEngine:
    """A pool of worker processes for synchronous rewards; async rewards run on the event loop.

    Calls beyond what the idle workers take wait in a queue (at most
    `max_queue`, then EngineBusy) for the next worker that finishes. A call
    that overruns its timeout, a worker that dies, and a running call whose
    request is cancelled (unless its reward is fast: then it finishes) each
    cost that worker: it is killed and a fresh one forked in its place.
    """

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
        self._idle: list[_Worker] = []
        self._queue: deque[_Job] = deque()
        self._waiting = 0  # jobs in the queue that still want an answer
        self._typical: dict[str, float] = {}  # a reward's usual call duration (a moving average), seconds
        self._dispatch_due = False
        self._tasks: set[asyncio.Task[None]] = set()  # respawns and crash reports
        self._stopping = False
        self._ids = itertools.count()

    @property
    def waiting(self) -> int:
        """Reward calls waiting for a worker."""
        return self._waiting

    @property
    def running(self) -> int:
        """Reward calls sent to workers (running, or next in line there)."""
        return sum(len(worker.jobs) for worker in self._workers)

    # ---- lifecycle -------------------------------------------------------------------

    def _ensure_forkserver(self) -> None:
        """Start the forkserver (again, if something killed it) from this thread, not an executor's: see _context."""
        if self._context.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()

    def _wake_forkserver(self) -> None:
        """SIGCONT a forkserver someone stopped: a replacement being forked waits for it in a thread, and
        the process cannot exit before that thread has finished."""
        if self._context.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
            if pid:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    async def start(self) -> None:
        _worker.run_setups(s for s in self.registry if isinstance(s, RewardSpec) and s.is_async)
        results = await asyncio.gather(*(self._spawn() for _ in range(self.size)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await self.stop()
            raise errors[0]
        self._idle.extend(results)  # type: ignore[arg-type]
        log.info("started %d worker process(es) for %s", self.size, self.target)

    async def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)  # a socketpair
        process = self._context.Process(
            target=_worker.main, args=(child, self.target, self._memory, _worker.log_setup()),
            name="rewardkit-worker", daemon=True,
        )
        self._ensure_forkserver()
        await asyncio.to_thread(_start, process)
        child.close()
        worker = _Worker(self, process, socket.socket(fileno=os.dup(parent.fileno())))
        self._workers.add(worker)
        channel = socket.socket(fileno=os.dup(parent.fileno()))  # for the event loop's own socket transport
        parent.close()
        await asyncio.get_running_loop().create_unix_connection(lambda: worker, sock=channel)
        try:
            kind, payload = await asyncio.wait_for(worker.started, STARTUP_TIMEOUT)
        except (WorkerDied, asyncio.TimeoutError):
            self._workers.discard(worker)
            died = await worker.retire()
            raise SetupError(f"a worker process for {self.target!r} did not start: {died}") from None
        if kind == _worker.FAILED:
            self._workers.discard(worker)
            worker.retire()
            raise SetupError(payload)
        return worker

    async def stop(self) -> None:
        self._stopping = True
        self._wake_forkserver()
        for task in list(self._tasks):
            task.cancel()
        workers = [w for w in self._workers if not w.retired]
        for worker in workers:
            worker.write(frame(None))  # each stops after the calls it has been sent

        await asyncio.to_thread(_wait_ended, [w.process for w in workers], STOP_TIMEOUT)
        await asyncio.gather(*(w.retire() for w in workers))
        for job in [*self._queue, *(job for w in workers for job in w.jobs)]:
            job.future.cancel()  # nothing will answer them now
        self._queue.clear()
        self._workers.clear()
        self._idle.clear()

    def _background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _replace(self, worker: _Worker, kind: str, reason: str) -> None:
        """Kill `worker` (its unstarted jobs go back to the queue) and fork a fresh one."""
        if worker.retired:
            return
        self._workers.discard(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        worker.retire()
        self._requeue(worker)
        self.restarts += 1
        log.warning("worker %s replaced: %s", worker.process.pid, reason)
        if self.on_restart is not None:
            self.on_restart(kind)
        if not self._stopping:
            self._background(self._respawn())

    async def _respawn(self) -> None:
        delay = 0.1
        while not self._stopping:
            try:
                worker = await self._spawn()
            except SetupError as exc:
                log.error("could not replace a worker (retrying in %.1f s): %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self._stopping:
                worker.retire()
            else:
                self._release(worker)
            return

    # ---- calls -----------------------------------------------------------------------

    async def run(self, spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
        timeout = spec.timeout or self.settings.timeout
        if spec.is_async:
            return await run_async(spec, samples, timeout)
        # Only what the reward asks for crosses the pipe. The samples of a request fan out one call each
        # across the workers; a grouped reward needs them all at once.
        calls = ([(group_inputs(spec, samples), len(samples))] if spec.grouped
                 else [call_inputs(spec, sample) for sample in samples])
        # A request is admitted as one, whatever its size: the calls of a group fan out as workers free up.
        # Refusing by calls would refuse a group larger than the queue forever, and the platform would retry it.
        if self._waiting >= self.settings.max_queue + len(self._idle):
            raise EngineBusy(
                f"all {self.size} workers are busy and {self._waiting} reward calls are already waiting "
                f"(limit {self.settings.max_queue}); retry shortly"
            )
        loop = asyncio.get_running_loop()
        jobs = [_Job(next(self._ids), spec, call, len(samples) if spec.grouped else 1, timeout, loop.create_future())
                for call in calls]
        for job in jobs:
            self._enqueue(job)
        if self._idle and not self._dispatch_due:
            self._dispatch_due = True
            loop.call_soon(self._dispatch)  # after the other requests of this loop turn have queued theirs
        try:
            if len(jobs) == 1:
                return await jobs[0].future
            results = await asyncio.gather(*(job.future for job in jobs))
        except asyncio.CancelledError:
            for job in jobs:  # the request went away (or the server is stopping)
                self._abandon(job)
            raise
        return [outcome for result in results for outcome in result]

    def _capacity(self, spec: RewardSpec) -> int:
        """How many calls of `spec` a worker may hold: running, then next in line."""
        typical = self._typical.get(spec.name, math.inf)
        return MAX_BATCH if typical < FAST_CALL else 2 if typical < STEADY_CALL else 1

    def _fast(self, spec: RewardSpec) -> bool:
        return self._capacity(spec) == MAX_BATCH

    def _share(self) -> int:
        """How many waiting jobs one worker takes when it asks for more: its part of the queue."""
        return math.ceil(self._waiting / len(self._workers))

    def _learn(self, spec: RewardSpec, seconds: float) -> None:
        typical = self._typical.get(spec.name)
        self._typical[spec.name] = seconds if typical is None else typical + _LEARNING_RATE * (seconds - typical)

    def _dispatch(self) -> None:
        """Share the waiting jobs among the idle workers."""
        self._dispatch_due = False
        while self._idle and self._waiting:
            worker = self._idle.pop()
            if not self._send(worker, math.ceil(self._waiting / (len(self._idle) + 1))):
                self._idle.append(worker)
                return

    def _release(self, worker: _Worker) -> None:
        """A worker has nothing left to run: it takes its share of the waiting jobs, or waits for some."""
        if not self._waiting or not self._send(worker, self._share()):
            self._idle.append(worker)

    def _send(self, worker: _Worker, limit: int) -> bool:
        """Send a worker up to `limit` waiting jobs, in order, as far as their rewards' capacity allows;
        an idle worker always gets the next one. False when nothing was sent."""
        queue, batch, held = self._queue, list[_Job](), len(worker.jobs)
        capacity = min((self._capacity(j.spec) for j in worker.jobs), default=MAX_BATCH)
        while queue and len(batch) < limit:
            job = queue[0]
            if job.future.done():  # its request was cancelled while it waited
                self._dequeue(queue.popleft())
                continue
            capacity = min(capacity, self._capacity(job.spec))
            if held + len(batch) and held + len(batch) >= capacity:
                break
            self._dequeue(queue.popleft())
            job.worker = worker
            batch.append(job)
        if not batch:
            return False
        worker.jobs.extend(batch)
        if not held:
            worker.run_next()
        worker.write(batch[0].frame if len(batch) == 1 else b"".join(job.frame for job in batch))
        return True

    def _enqueue(self, job: _Job, first: bool = False) -> None:
        job.worker, job.queued = None, True
        self._waiting += 1
        if first:
            self._queue.appendleft(job)
        else:
            self._queue.append(job)

    def _dequeue(self, job: _Job) -> None:
        """`job` no longer waits (it is sent, or nobody wants its answer); it may still be in the deque."""
        if job.queued:
            job.queued = False
            self._waiting -= 1

    def _requeue(self, worker: _Worker) -> None:
        """The jobs a retired worker had not started go back to the head of the queue."""
        jobs, worker.jobs = worker.jobs, deque()
        for job in reversed(jobs):
            job.worker = None
            if not job.future.done():
                self._enqueue(job, first=True)
        if jobs and self._idle:
            self._dispatch()

    def _answered(self, worker: _Worker, packed: list[Any], seconds: float) -> None:
        job = worker.finish_running()
        self._learn(job.spec, seconds)  # as the worker timed it: the server may be slow to read answers
        outcomes = unpack_outcomes(job.spec.name, packed)
        job.resolve(outcomes)
        if any(o.failure is not None and o.failure.code == OUT_OF_MEMORY for o in outcomes):
            self._replace(worker, RESTART_OUT_OF_MEMORY, f"reward {job.spec.name!r} ran out of memory")
        elif worker.jobs:
            worker.run_next()
            if len(worker.jobs) == 1 and self._waiting:  # its last call started: send the next ones now
                self._send(worker, self._share())
        else:
            self._release(worker)

    def _expired(self, worker: _Worker, job: _Job) -> None:
        if not worker.jobs or worker.jobs[0] is not job:
            return
        worker.finish_running()
        self._learn(job.spec, job.timeout)
        job.resolve(failed(job.spec, TIMEOUT, f"reward {job.spec.name!r} took longer than {job.timeout:g} s; "
                           "its worker was stopped and replaced", job.size))
        self._replace(worker, RESTART_TIMEOUT, f"reward {job.spec.name!r} ran over its {job.timeout:g} s timeout")

    def _abandon(self, job: _Job) -> None:
        """Its request is gone: a waiting job leaves the queue; a running one is stopped with its worker,
        unless its reward is fast (a new worker costs more than letting it finish)."""
        if job.future.done() and not job.future.cancelled():
            return  # answered already
        worker = job.worker
        if job.queued:
            self._dequeue(job)  # the deque drops it when it comes up
        elif worker is not None and worker.jobs and worker.jobs[0] is job and not self._fast(job.spec):
            worker.finish_running()
            self._replace(worker, RESTART_CANCELLED, f"its call to reward {job.spec.name!r} was cancelled")

    def _broken(self, worker: _Worker, reason: str) -> None:
        """The worker's pipe carried something other than the answer to its running call: nothing more it
        sends can be trusted. Its running call is answered WORKER_CRASHED; the calls behind go to another."""
        if worker.retired or self._stopping:
            return
        log.error("worker %s is broken: %s", worker.pid, reason)
        if not worker.started.done():
            worker.started.set_exception(WorkerDied())
            return
        job = worker.finish_running() if worker.jobs else None
        self._replace(worker, RESTART_BROKEN, f"it is broken: {reason}")
        if job is not None:
            job.resolve(failed(job.spec, WORKER_CRASHED, f"the worker running reward {job.spec.name!r} was "
                               f"stopped and replaced: {reason}", job.size))

    def _lost(self, worker: _Worker) -> None:
        """The worker ended, or its end of the pipe closed: it exited, crashed or was killed by something else."""
        if worker.retired or self._stopping:
            return  # we stopped it ourselves
        if not worker.started.done():
            worker.started.set_exception(WorkerDied())
            return
        if not worker.jobs:
            self._replace(worker, RESTART_CRASHED, "it exited while idle")
            return
        job = worker.finish_running()
        self._replace(worker, RESTART_CRASHED, f"it died running reward {job.spec.name!r}")
        self._background(self._report_crash(job, worker))

    async def _report_crash(self, job: _Job, worker: _Worker) -> None:
        died = await worker.retire()
        job.resolve(failed(job.spec, WORKER_CRASHED, f"the worker running reward {job.spec.name!r} died ({died}); "
                           "it was replaced", job.size))

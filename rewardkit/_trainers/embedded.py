"""rewardkit's engine in a trainer's process, for the in-process trainer adapters (rewardkit.trl, rewardkit.verl).

A trainer calls its reward function synchronously, batch after batch, from its own thread. The engine
`rewardkit serve` runs (`_engine.pool.ProcessEngine`: worker processes with hard time and memory limits) lives on
an event loop: the adapters keep one in a daemon thread, started on first use and stopped at exit or when
the last engine is closed. A completion that hangs or crashes a worker costs its call a TIMEOUT or
WORKER_CRASHED outcome and that worker a replacement, never the trainer's process or its next batch.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import concurrent.futures.thread  # its exit hook (no new threads) must be registered before ours: see _close_all
import contextvars
import dataclasses
import functools
import logging
import math
import multiprocessing.spawn
import os
import threading
import weakref
from typing import Any, Mapping, Protocol, Sequence

from .._engine.inline import Engine, InlineEngine, contain_task_exits
from .._engine.pipeline import evaluate
from .._errors import ENGINE_ERROR, RewardkitError
from .._loader import load_registry, resolve_target
from .._outcome import ERROR_KEY, FAILED_KEY, NO_ERROR, TIMEOUT, Failure, Outcome, schema_metrics
from .._registry import AnySpec, CompositeSpec, Registry, RewardSpec, spec_of
from .._sample import Sample
from .._settings import ENVIRONMENT, Settings, available_cpus, load_settings
from ..media.fetch import Fetcher, settings_from

log = logging.getLogger("rewardkit")

# A trainer sends its whole batch at once and waits for all of it: no call should be refused for
# queueing (the server's max_queue protects an HTTP service from a flood, not a trainer from itself).
EMBEDDED_MAX_QUEUE = 1_000_000
# Seconds added to the longest a batch can take in the engine before the trainer stops waiting for it
# (a backstop for an async reward that holds the adapter's event loop: the engine answers everything else).
BACKSTOP_SLACK = 30.0


# Set in the adapter's thread, and so in the tasks and executor threads that start worker processes.
_STARTING_WORKERS: contextvars.ContextVar[bool] = contextvars.ContextVar("rewardkit_embedded", default=False)
_PATCH_LOCK = threading.Lock()


def _keep_main_out() -> None:
    """Workers started by an adapter do not run the trainer's `__main__`.

    multiprocessing hands every process it starts (forkserver or spawn) the main module's path or name, and
    the child imports it before anything else: the training script, re-run in every worker (or, guarded by
    `if __name__ == "__main__"`, still importing torch and the trainer in each). Workers need only the reward
    target, which they import by name. So, for the processes started from the adapter's thread only (a
    context variable says so; the trainer's own DataLoader workers still get their main), the preparation
    data loses its main module."""
    with _PATCH_LOCK:
        original = multiprocessing.spawn.get_preparation_data
        if getattr(original, "_rewardkit", False):
            return

        @functools.wraps(original)
        def prepared(name: str) -> dict[str, Any]:
            data = original(name)
            if _STARTING_WORKERS.get():
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
            return data

        prepared._rewardkit = True  # type: ignore[attr-defined]
        multiprocessing.spawn.get_preparation_data = prepared


class Poster(Protocol):
    """A client of a served rewardkit's batch route (rewardkit.clients._batch.BatchClient), as the remote
    adapters use it: `wire.item(...)` builds an item, `score` posts them, `metric_keys` reads a served
    reward's declared metric keys (its GET /rewards entry)."""

    wire: Any

    def score(self, reward: str, items: Sequence[dict[str, Any]]) -> list[Outcome]: ...

    def metric_keys(self, reward: str) -> tuple[str, ...]: ...


class AdapterError(RewardkitError):
    """A trainer adapter is configured wrongly (unknown reward, a reward defined in __main__, bad option)."""


def target_of(reward: Any, target: str | None) -> tuple[str, str]:
    """(target, reward name) for `reward`: a registered name (looked up in `target`, $REWARDKIT_TARGET or the
    built-in rewards), or a decorated function, whose own module is the target its workers import."""
    if isinstance(reward, str):
        return resolve_target(target), reward
    spec = spec_of(reward)
    if target is not None:
        return target, spec.name
    module = getattr(spec.fn, "__module__", None) if isinstance(spec, RewardSpec) else None
    if isinstance(spec, CompositeSpec) or not module:
        raise AdapterError(f"cannot tell which module defines {spec.name!r}: pass target='my_rewards' "
                           "(the module or .py file that defines it) and the reward's name")
    if module == "__main__":
        raise AdapterError(f"reward {spec.name!r} is defined in the script being run (__main__): worker processes "
                           "import the module that defines a reward, and would run your training script again. "
                           "Move your rewards into a module of their own (my_rewards.py) and pass that, or its name "
                           "with target='my_rewards.py'")
    return module, spec.name


def default_workers(environ: Mapping[str, str] | None = None) -> int:
    """The CPUs this process may use, shared by the trainer's processes on this machine: torchrun and
    accelerate start one per GPU (LOCAL_WORLD_SIZE), and each scores its own share of the batch."""
    environ = os.environ if environ is None else environ
    try:
        local = max(int(environ.get("LOCAL_WORLD_SIZE", "1")), 1)
    except ValueError:
        local = 1
    return max(available_cpus() // local, 1)


def settings_for(overrides: Mapping[str, Any]) -> Settings:
    """`rewardkit serve`'s settings (environment, then the adapter's arguments), with no queue limit and,
    unless set, the workers of `default_workers`."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if "workers" not in given and not os.environ.get(ENVIRONMENT["workers"], "").strip():
        given["workers"] = default_workers()
    settings = load_settings(given)
    if overrides.get("max_queue") is None:
        settings = dataclasses.replace(settings, max_queue=EMBEDDED_MAX_QUEUE)
    return settings


class _Loop:
    """The one event loop of this process's adapters, in a daemon thread, while any engine runs on it.

    One thread for every engine: the workers' forkserver dies with the thread that started it (its
    parent-death signal, `_engine.orphans`), and takes every worker with it, so engines of different settings
    must not each own a thread. The thread stops when the last engine stops (and the forkserver with it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._users = 0
        self._pid = 0
        self._forkserver_before: int | None = None

    def acquire(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._pid != os.getpid():  # a forked child inherits no thread: start afresh
                self._loop, self._thread, self._users, self._pid = None, None, 0, os.getpid()
            if self._loop is None:
                self._forkserver_before = _forkserver_pid()
                _keep_main_out()
                ready = threading.Event()
                self._thread = threading.Thread(target=self._main, args=(ready,), name="rewardkit-embedded",
                                                daemon=True)
                self._thread.start()
                ready.wait()
            self._users += 1
            assert self._loop is not None
            return self._loop

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._loop is None or self._pid != os.getpid():
                return
            loop, stop, thread = self._loop, self._stop, self._thread
            self._loop = self._stop = self._thread = None
        assert stop is not None and thread is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        if _forkserver_pid() not in (None, self._forkserver_before):
            _stop_forkserver()


    def _main(self, ready: threading.Event) -> None:
        async def serve() -> None:
            contain_task_exits(asyncio.get_running_loop())
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await self._stop.wait()

        _STARTING_WORKERS.set(True)  # asyncio.run's task, its callbacks and to_thread copy this thread's context
        asyncio.run(serve())


_LOOP = _Loop()


def _forkserver_pid() -> int | None:
    from multiprocessing import forkserver

    return getattr(forkserver._forkserver, "_forkserver_pid", None)


def _stop_forkserver() -> None:
    """Stop the forkserver the adapters' thread started, and wait for it to be gone.

    Its thread's end already tells it to go (its parent-death signal), but an engine started right after
    could still find it alive and ask it for workers; stopping it here (as CPython's own tests do) makes
    the next engine start a fresh one."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        try:
            stop()
        except OSError:  # already gone and reaped
            pass


async def _starting_workers(coroutine: Any) -> Any:
    # A task submitted from the trainer's thread carries that thread's context: mark it as the adapter's.
    _STARTING_WORKERS.set(True)
    return await coroutine


_FETCHER: list[Fetcher] = []


def trainer_fetcher() -> Fetcher:
    """The media fetcher of a trainer's process: REWARDKIT_MEDIA_* as served, except that local files are read
    (a dataset's image paths are the trainer's own files; no request from outside names them)."""
    if not _FETCHER:
        settings = settings_from()
        _FETCHER.append(Fetcher(settings if settings.file_root else dataclasses.replace(settings, file_root=os.sep)))
    return _FETCHER[0]


class Embedded:
    """The engine of `target` (the one `rewardkit serve` builds) on the adapters' event loop thread.

    `evaluate` is thread-safe and blocking: trainers that score items from several threads at once
    (verl's reward loop runs `compute_score` in an executor) share the workers.
    """

    def __init__(self, target: str, settings: Settings) -> None:
        self.target = target
        self.settings = settings
        self.registry: Registry = load_registry(target)  # in this process too: a bad target fails here, loudly
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: Engine | None = None
        self._pid = 0
        _LIVE.add(self)

    def spec(self, name: str) -> AnySpec:
        return self.registry.get(name)  # UnknownRewardError names the known ones

    # ---- lifecycle ---------------------------------------------------------------------

    def _make_engine(self) -> Engine:
        if self.settings.worker_count > 0:
            from .._engine.pool import ProcessEngine  # multiprocessing machinery only once a reward is scored

            return ProcessEngine(self.target, self.registry, self.settings)
        return InlineEngine(self.registry, timeout=self.settings.timeout)

    def _run(self, loop: asyncio.AbstractEventLoop, coroutine: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(_starting_workers(coroutine), loop).result(timeout)

    def _start(self) -> tuple[asyncio.AbstractEventLoop, Engine]:
        """The loop and the started engine; the first caller (or the first after a fork) starts them."""
        with self._lock:
            if self._engine is not None and self._loop is not None and self._pid == os.getpid():
                return self._loop, self._engine
            loop = _LOOP.acquire()
            engine = self._make_engine()
            try:
                self._run(loop, engine.start())  # workers fork from the loop's thread: see _engine.pool._context
            except BaseException:
                _LOOP.release()
                raise
            self._loop, self._engine, self._pid = loop, engine, os.getpid()
            return loop, engine

    def close(self) -> None:
        """Stop the workers (and the loop, if no other engine uses it); the next `evaluate` starts them again."""
        with self._lock:
            loop, engine = self._loop, self._engine
            self._loop = self._engine = None
            if loop is None or engine is None or self._pid != os.getpid():
                return
            try:
                self._run(loop, engine.stop(), timeout=self.settings.grace_period + 30.0)
            finally:
                _LOOP.release()

    # ---- scoring -----------------------------------------------------------------------

    def _backstop(self, spec: AnySpec, calls: int) -> float:
        """The longest the engine can take for `calls` calls of `spec`, plus slack."""
        timeout = max((leaf.timeout or self.settings.timeout for leaf in _leaves(spec)), default=self.settings.timeout)
        waves = math.ceil(max(calls, 1) / max(self.settings.worker_count, 1))
        return timeout * waves * (2 if isinstance(spec, CompositeSpec) else 1) + BACKSTOP_SLACK

    def evaluate(self, spec: AnySpec, groups: Sequence[Sequence[Sample]]) -> list[list[Outcome]]:
        """Outcomes for each group of samples (a group is scored together: one prompt's responses for a
        grouped reward; any list of samples otherwise), all groups at once. Never raises for what a
        reward does: a failure is an Outcome; only a broken target or worker start-up raises."""
        loop, engine = self._start()

        async def run() -> list[list[Outcome]]:
            _STARTING_WORKERS.set(True)  # respawns of crashed workers start from this task's callbacks
            return list(await asyncio.gather(*(evaluate(spec, group, engine, trainer_fetcher()) for group in groups)))

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        backstop = self._backstop(spec, sum(len(g) for g in groups))
        try:
            return future.result(timeout=backstop)
        except concurrent.futures.TimeoutError:
            future.cancel()
            message = f"the batch took longer than {backstop:g} s (an async reward holding the event loop?)"
            return [[Outcome(spec.name, failure=Failure(TIMEOUT, message))] * len(g) for g in groups]
        except RewardkitError as exc:  # EngineBusy and the like: the engine's trouble, reported per item
            return [[Outcome(spec.name, failure=Failure(ENGINE_ERROR, f"{type(exc).__name__}: {exc}"))] * len(g)
                    for g in groups]


def _leaves(spec: AnySpec) -> list[RewardSpec]:
    if isinstance(spec, RewardSpec):
        return [spec]
    return [leaf for component in spec.components for leaf in _leaves(component.spec)]


# ---- one engine per target and settings, stopped at exit ---------------------------------

_LIVE: "weakref.WeakSet[Embedded]" = weakref.WeakSet()
_SHARED: dict[tuple[str, Settings], Embedded] = {}
_SHARED_LOCK = threading.Lock()


def shared(target: str, settings: Settings) -> Embedded:
    """The one Embedded of (target, settings) in this process: several reward functions of one trainer
    share its workers instead of starting a pool each."""
    with _SHARED_LOCK:
        found = _SHARED.get((target, settings))
        if found is None:
            found = _SHARED[(target, settings)] = Embedded(target, settings)
        return found


def _close_all() -> None:
    for embedded in list(_LIVE):
        embedded.close()


# Stopping the engine uses worker threads (asyncio.to_thread), which concurrent.futures refuses once its own
# exit hook has run; threading's exit hooks run in reverse order of registration, before atexit's.
_register = getattr(threading, "_register_atexit", atexit.register)
_register(_close_all)


# ---- what adapters report besides the score -----------------------------------------------



class FailureLog:
    """Warns once per (reward, error code) with the first message of that kind, so a run that fails the
    same way on every item logs one line, not one per item; `counts` keeps the tally."""

    def __init__(self, adapter: str) -> None:
        self.adapter = adapter
        self.counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def note(self, outcome: Outcome, consequence: str) -> None:
        failure = outcome.failure
        if failure is None:
            return
        key = (outcome.reward, failure.code)
        with self._lock:
            first = key not in self.counts
            self.counts[key] = self.counts.get(key, 0) + 1
        if first:
            log.warning("%s: reward %r failed with %s (%s); %s. Further %s failures of this reward are not logged "
                        "one by one.", self.adapter, outcome.reward, failure.code, failure.message, consequence,
                        failure.code)


class MetricSchema:
    """The keys of every item's dict a trainer's reward function answers, fixed before any item is scored.

    `score`, FAILED_KEY, ERROR_KEY, then the declared metric keys (`_registry.metric_keys`) of every reward the
    function may route to: an item of another reward, a failed item or one whose reward left a metric out has
    that key too, NaN. A metric a reward reports without declaring it (`@reward(metrics=[...])`) is left out,
    and logged once: trainers gather the items' dicts into one list per key, and verl takes the keys from the
    first item (verl/experimental/reward_loop/reward_loop.py, RewardLoopManager.compute_rm_score; the agent
    loop's _postprocess likewise), so a key some items lack fails the step or misaligns the lists.
    """

    def __init__(self, keys: Sequence[str], adapter: str) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        self._adapter = adapter
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def metrics(self, outcome: Outcome) -> dict[str, float]:
        """The outcome's metrics under exactly this schema's keys."""
        values, undeclared = schema_metrics(outcome, self.keys)
        if undeclared:
            self._warn(outcome.reward, undeclared)
        return values

    def row(self, outcome: Outcome, score: float) -> dict[str, Any]:
        """One item's dict: `score`, whether (and how) the reward failed, and the metrics."""
        failure = outcome.failure
        return {"score": score, FAILED_KEY: float(failure is not None),
                ERROR_KEY: NO_ERROR if failure is None else failure.code, **self.metrics(outcome)}

    def _warn(self, reward: str, names: Sequence[str]) -> None:
        with self._lock:
            new = [name for name in names if (reward, name) not in self._warned]
            self._warned.update((reward, name) for name in new)
        if new:
            log.warning("%s: reward %r reported metric(s) %s that it does not declare; left out, since every item "
                        "must carry the same keys. Declare them: @reward(metrics=[...]) with the metric names",
                        self._adapter, reward, ", ".join(new))

"""The worker process: loads the target once, runs the rewards' setups, then runs the calls it is sent.

Each call runs in the process's main thread, so libraries that time
themselves out with signal.alarm (math-verify) work. Messages on the pipe:
worker -> server ("ready", pid) | ("failed", message) | ("done", call id, pid of the sender,
outcomes packed by `_codec`, seconds the call took);
server -> worker (call id, reward_name, call) for a single or parse-then-score reward
(`_invoke.call_inputs`), (call id, reward_name, (inputs, size)) for a grouped one
(`_invoke.group_inputs`), or None to stop.

Every answer names its call and the process that sent it, so the server
never takes one call's answer for another's: a reward that forks leaves a
second process holding this pipe. A forked child that returns from the
reward into this loop exits at once, before it can read or answer anything.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import signal
import sys
import time
from multiprocessing.connection import Connection
from typing import Any, Iterable

from .._errors import RewardkitError, SetupError
from .._loader import load_registry
from .._outcome import OUT_OF_MEMORY
from .._registry import AnySpec, RewardSpec
from . import orphans as _orphans
from .codec import pack_outcomes
from .invoke import describe, run_call, run_group

READY, FAILED, DONE = "ready", "failed", "done"


# Plain pickle, not Connection.send's ForkingPickler, which builds a pickler with a copy of the dispatch
# table for every message: a tenth of the server's time per call with a trivial reward.
def send(conn: Connection, message: object) -> None:
    conn.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))


def receive(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


def run_setups(specs: Iterable[AnySpec]) -> None:
    """Run each distinct setup function once; a failure names the reward."""
    done: set[int] = set()
    for spec in specs:
        setup = getattr(spec, "setup", None)
        if setup is None or id(setup) in done:
            continue
        done.add(id(setup))
        try:
            setup()
        except Exception as exc:
            raise SetupError(f"setup of reward {spec.name!r} failed: {describe(exc)}") from exc


# The root logger's level and, for each of its handlers writing to stdout or stderr, that stream's name and
# the handler's formatter.
LogSetup = tuple[int, tuple[tuple[str, "logging.Formatter | None"], ...]]


def log_setup() -> LogSetup:
    """How the server logs, for its workers to log the same way: they are forked from the forkserver, a
    fresh interpreter with no logging set up, where a reward's warning would come out as a bare message
    amid the server's JSON lines. A formatter that cannot be pickled is left out (the handler's default)."""
    root = logging.getLogger()
    handlers = []
    for handler in root.handlers:
        stream = getattr(handler, "stream", None)
        if type(handler) is logging.StreamHandler and stream in (sys.stdout, sys.stderr):
            formatter = handler.formatter
            try:
                pickle.dumps(formatter)
            except Exception:  # a user's formatter holding a lock, a file...
                formatter = None
            handlers.append(("stdout" if stream is sys.stdout else "stderr", formatter))
    return root.level, tuple(handlers)


def log_like(setup: LogSetup) -> None:
    """In a worker: the server's handlers (see log_setup); nothing changes when it had none of them."""
    level, handlers = setup
    if not handlers:
        return
    root = logging.getLogger()
    root.handlers[:] = []
    for name, formatter in handlers:
        handler = logging.StreamHandler(getattr(sys, name))
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def limit_memory(limit: int | None) -> None:
    """Cap this process's address space, so a runaway allocation fails here, not in the container."""
    if not limit:
        return
    try:
        used = _address_space_bytes()
    except OSError:  # no /proc: cap without the check
        used = 0
    if used >= limit:
        raise SetupError(
            f"worker memory limit {limit // 2**20} MiB is below what a worker uses after loading its rewards "
            f"({used // 2**20} MiB); raise --worker-memory / REWARDKIT_WORKER_MEMORY_MB"
        )
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(conn: Connection, target: str, memory_limit: int | None, logs: LogSetup = (logging.WARNING, ())) -> None:
    _orphans.guard_worker()
    log_like(logs)
    me = os.getpid()
    # Ctrl-C in a terminal signals the whole process group; the server decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        registry = load_registry(target)
        run_setups(spec for spec in registry if isinstance(spec, RewardSpec) and not spec.is_async)
        limit_memory(memory_limit)
    except BaseException as exc:
        send(conn, (FAILED, str(exc) if isinstance(exc, RewardkitError) else describe(exc)))
        return
    send(conn, (READY, os.getpid()))
    while True:
        try:
            message = receive(conn)
        except (EOFError, OSError):  # the server is gone
            return
        if message is None:
            return
        call_id, name, payload = message
        spec = registry.get(name)
        assert isinstance(spec, RewardSpec)  # the server sends composites' components, never composites
        began = time.perf_counter()
        outcomes = run_group(spec, *payload) if spec.grouped else [run_call(spec, payload)]
        if os.getpid() != me:  # a child the reward forked, back from the reward: the call is its parent's
            os._exit(0)
        send(conn, (DONE, call_id, os.getpid(), pack_outcomes(outcomes), time.perf_counter() - began))
        if any(o.failure is not None and o.failure.code == OUT_OF_MEMORY for o in outcomes):
            return  # a heap that hit its cap is suspect: exit, and the server starts a fresh worker

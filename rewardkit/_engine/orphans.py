"""Nothing a worker starts outlives the server: process groups, parent-death signals, the forkserver's exit.

Each worker leads its own session (so its process group holds everything a
reward starts, unless that sets up a session of its own), and the server
kills the whole group whenever it retires a worker. When the server dies
without cleaning up (SIGKILL, OOM), the kernel tells the forkserver (a
parent-death signal), and the forkserver kills every worker's group before
it exits; each worker also has a parent-death signal of its own, should the
forkserver die first.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# The server's pid, for the forkserver to tell that its parent died before it could ask to be told.
SERVER_PID_VARIABLE = "REWARDKIT_SERVER_PID"
FORKSERVER_PID: int | None = None  # set in the forkserver (and so known to every worker it forks)


def die_with_parent(sig: int) -> bool:
    """Ask the kernel to send `sig` to this process when its parent exits; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0  # ctypes' default restype: a C int
    except (OSError, AttributeError):
        return False


def kill_group(pgid: int) -> None:
    """SIGKILL a process group (a worker and what its rewards started); gone already is fine."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def children() -> list[int]:
    """This process's direct children (Linux /proc; empty elsewhere)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{os.getpid()}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as listing:
                found += [int(pid) for pid in listing.read().split()]
        except OSError:
            continue
    return found


def _kill_workers() -> None:
    for pid in children():  # each worker leads its own group: this kills it and what it started
        kill_group(pid)


def _on_parent_death(signum: int, frame: object) -> None:
    _kill_workers()
    os._exit(0)


# The forkserver's parent-death signal: not SIGTERM, which the forkserver ignores. It shares the server's
# process group, and a supervisor that sends SIGTERM to the group must not stop the workers (and so fail
# their calls) while the server lets its requests finish; it exits when the server closes its alive pipe.
PARENT_DIED = signal.SIGUSR1


def guard_forkserver() -> None:
    """In the forkserver: kill every worker's group when the server dies (SIGKILLed: parent-death signal)
    or lets it go (its end of the forkserver's alive pipe closes: the forkserver exits, atexit runs)."""
    global FORKSERVER_PID
    FORKSERVER_PID = os.getpid()
    atexit.register(_kill_workers)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(PARENT_DIED, _on_parent_death)
    if die_with_parent(PARENT_DIED):
        expected = os.environ.get(SERVER_PID_VARIABLE)
        if expected and os.getppid() != int(expected):  # the server died before the signal was asked for
            _on_parent_death(PARENT_DIED, None)


def guard_worker() -> None:
    """In a worker, first thing: lead a session of its own, and die with the forkserver."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the forkserver's dispositions are not the worker's
    signal.signal(PARENT_DIED, signal.SIG_DFL)
    try:
        os.setsid()
    except OSError:  # already a leader (spawn start method on some platforms)
        pass
    if die_with_parent(signal.SIGKILL) and FORKSERVER_PID is not None and os.getppid() != FORKSERVER_PID:
        os._exit(1)  # the forkserver is already gone

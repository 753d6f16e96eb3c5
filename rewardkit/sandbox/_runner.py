"""Run a program against tests in a sandbox process tree; see `_child.py` for what happens inside.

The worker side: a fresh directory, an allow-listed environment, the child
harness forked by the worker's zygote into its own session, its results read
from a pipe only the harness can write, and the whole tree killed on every
way out.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from . import _child
from ._types import Isolation, RunResult, SandboxError, SandboxLimits, SandboxTest, TestRun

log = logging.getLogger("rewardkit.sandbox")

CHILD = str(Path(_child.__file__).resolve())
# Interpreter start, namespaces and mounts take ~50 ms; a loaded machine may take seconds.
STARTUP_SLACK = 10.0
_STDERR_CAP = 4000

# Everything the program's environment holds: no credentials, no REWARDKIT_*, no cloud metadata variables.
def _environment(workdir: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0"}


def _open_to_others(path: str) -> bool:
    """True when a user other than the owner can reach and read `path` (every directory above it searchable)."""
    current = Path(path).resolve()
    try:
        if not current.stat().st_mode & 0o004:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in current.parents)
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def interpreter(isolation: str = "require") -> str:
    """The Python that runs programs: REWARDKIT_SANDBOX_PYTHON, else this one.

    As root, the sandbox runs as nobody, who must be able to read the
    interpreter's standard library; when this one sits in a private place
    (/root/.pyenv), a system python3 that nobody can read is used instead.
    """
    chosen = os.environ.get("REWARDKIT_SANDBOX_PYTHON")
    if chosen:
        return chosen
    if isolation == "none" or os.geteuid() != 0:
        return sys.executable
    stdlib = os.path.dirname(os.__file__)
    if _open_to_others(sys.executable) and _open_to_others(stdlib):
        return sys.executable
    for candidate in ("/usr/local/bin/python3", "/usr/bin/python3"):
        if os.path.exists(candidate) and _open_to_others(candidate):
            log.info("sandbox: %s is not readable by the sandbox user (nobody); programs run with %s",
                     sys.executable, candidate)
            return candidate
    return sys.executable


def _job_test(test: SandboxTest) -> dict[str, Any]:
    if test.kind == "stdin":
        return {"kind": "stdin", "stdin": test.stdin}
    if test.kind == "call":
        if not test.fn:
            raise ValueError("a call test needs fn")
        return {"kind": "call", "fn": test.fn, "args": _child.encode(tuple(test.args))}
    if test.kind == "script":
        if test.script is None:
            raise ValueError("a script test needs script")
        return {"kind": "script", "script": test.script, "entry_point": test.entry_point}
    raise ValueError(f"unknown test kind {test.kind!r}; expected 'stdin', 'call' or 'script'")


def _check_isolation_value(isolation: str) -> None:
    if isolation not in ("require", "none"):
        raise ValueError(f"isolation must be 'require' or 'none', got {isolation!r}")


class _Zygote:
    """The worker's zygote for one interpreter (_child.zygote): it forks sandbox launchers on request.

    Talked to under a lock (run() may be called from several threads); a zygote that went away or stopped
    answering is replaced on the next start. One belongs to the process that started it: a forked copy of
    this worker starts its own rather than share the socket.
    """

    def __init__(self, python: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [python, "-I", "-B", CHILD, "--zygote", str(theirs.fileno())], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/", env=_environment("/"),
                pass_fds=(theirs.fileno(),), start_new_session=True)
        except OSError as exc:
            ours.close()
            raise SandboxError(f"cannot start the sandbox ({python}): {exc}") from None
        finally:
            theirs.close()
        ours.settimeout(STARTUP_SLACK)
        self.socket = ours
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self._said: str | None = None  # what it said on stderr, once closed

    def _ask(self, request: dict[str, Any], fds: Sequence[int] = ()) -> dict[str, Any]:
        with self.lock:
            socket.send_fds(self.socket, [json.dumps(request).encode()], list(fds))
            answer = self.socket.recv(4096)
        if not answer:
            raise ConnectionResetError("the zygote went away")
        reply: dict[str, Any] = json.loads(answer)  # the zygote answers a JSON object (_child.zygote)
        return reply

    def fork(self, setup: dict[str, Any], fds: Sequence[int]) -> int:
        """A new launcher's pid (not yet reaped: see reap)."""
        return int(self._ask({"start": setup}, fds)["pid"])

    def reap(self, pid: int) -> None:
        """After the worker killed `pid`'s group: the zygote waits for it, and only then may the pid be reused."""
        try:
            self._ask({"reap": pid})
        except (OSError, ValueError):
            self.close()  # its launchers are reparented and reaped elsewhere; ours is dead already

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None and self.socket.fileno() >= 0

    def close(self) -> str:
        """Its socket ends, so it returns; killed too, in case it is stopped or stuck. Returns what it said
        on stderr. In a forked copy of the worker: only this copy's end of the socket is closed.

        Under the lock, and once: several threads may find the same zygote dead at once, and a second
        close of its socket or stderr would close whatever file took that descriptor number meanwhile."""
        with self.lock:
            if self._said is None:
                self._said = self._close()
            return self._said

    def _close(self) -> str:
        self.socket.close()
        if self.owner != os.getpid():
            return ""
        if self.process.poll() is None:  # not reaped yet, so the group id is still its own
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
        self.process.wait()
        stderr = self.process.stderr
        if stderr is None or stderr.closed:
            return ""
        said = _read_tail(stderr.fileno())
        stderr.close()
        return said.decode("utf-8", "replace").strip()


_zygotes: dict[str, _Zygote] = {}
_zygotes_lock = threading.Lock()


def _zygote(python: str) -> _Zygote:
    with _zygotes_lock:
        current = _zygotes.get(python)
        if current is None or not current.alive():
            if current is not None:
                current.close()
            current = _zygotes[python] = _Zygote(python)
        return current


@atexit.register
def _stop_zygotes() -> None:
    with _zygotes_lock:
        for zygote in _zygotes.values():
            zygote.close()
        _zygotes.clear()


@dataclass
class _Box:
    """A started sandbox waiting for its job: built, nothing run in it yet. Its launcher is a child of the
    zygote, leads its own group, and stays unreaped until _end has killed that group."""

    pid: int
    zygote: _Zygote
    lifeline: int  # write end of the launcher's stdin: the job goes there; closing it ends the sandbox
    stderr: int  # read end of the launcher's stderr
    results: int  # read end of the pipe only the sandbox's template writes
    workdir: str
    key: tuple[str, str, int]

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)  # a zombie still answers: also ask whether it is one
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
        except OSError:
            return False


_spare: _Box | None = None
_spare_lock = threading.Lock()


# Where a service keeps Unix sockets its user may connect to; the sandbox sees them empty (_child._hide).
_SOCKET_PLACES = ("/tmp", "/var/tmp", "/run", "/dev/shm", "/dev/mqueue")


def _hidden() -> list[str]:
    places = [tempfile.gettempdir(), *_SOCKET_PLACES, os.path.expanduser("~")]
    return list(dict.fromkeys(os.path.realpath(p) for p in places if p and os.path.realpath(p) != "/"))


# ---- working directories: named after their process, so those of a dead one can be told and removed

_PREFIX = "rewardkit-sandbox-"
_prepared: int | None = None  # the pid of the process that made the preparations of _prepare_process


def _started(pid: int | str) -> str | None:
    """When process `pid` started (clock ticks since boot; a reused pid starts later), or None if none runs."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def _owner() -> str:
    """This process, as its directories' names carry it: PID namespace, pid and start time."""
    return f"{_pid_namespace()}.{os.getpid()}.{_started('self')}"


def _prepare_process() -> None:
    """Once per process (a forked copy too), before its first sandbox: stop the sandbox at its exit, and
    remove the directories of processes of this PID namespace that are gone (a worker killed with SIGKILL
    cannot remove its spare's). A live owner's are never touched; another namespace's cannot be told."""
    global _prepared
    if _prepared == os.getpid():
        return
    _prepared = os.getpid()
    _stop_at_exit()
    namespace = _pid_namespace()
    try:
        names = os.listdir(tempfile.gettempdir())
    except OSError:
        return
    for name in names:
        owner = name[len(_PREFIX):].rsplit("-", 1)[0].split(".") if name.startswith(_PREFIX) else []
        if len(owner) == 3 and owner[0] == namespace and owner[1].isdigit() and _started(owner[1]) != owner[2]:
            shutil.rmtree(os.path.join(tempfile.gettempdir(), name), ignore_errors=True)


def _start(key: tuple[str, str, int]) -> _Box:
    python, isolation, tmpfs_mb = key
    _prepare_process()
    workdir = tempfile.mkdtemp(prefix=f"{_PREFIX}{_owner()}-")
    if isolation != "none" and os.geteuid() == 0:
        os.chown(workdir, _child.NOBODY, _child.NOBODY)  # the sandbox runs as nobody when we are root
    setup = {"isolation": isolation, "workdir": workdir, "tmpfs_mb": tmpfs_mb, "hide": _hidden(),
             "env": _environment(workdir)}
    lifeline_r, lifeline_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    results_r, results_w = os.pipe()
    theirs = (lifeline_r, stderr_w, results_w)
    try:
        for attempt in (1, 2):  # a zygote that died since its last use is replaced once
            zygote = _zygote(python)
            try:
                pid = zygote.fork(setup, theirs)
                break
            except socket.timeout:
                zygote.close()
                raise SandboxError("the sandbox did not start in time (its zygote did not answer)") from None
            except (OSError, ValueError) as exc:
                said = zygote.close()
                if attempt == 2:
                    raise SandboxError(f"cannot start the sandbox ({python}): {exc}"
                                       + (f": {said[-500:]}" if said else "")) from None
    except BaseException:
        for fd in (lifeline_w, stderr_r, results_r):
            os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return _Box(pid, zygote, lifeline_w, stderr_r, results_r, workdir, key)


def _end(box: _Box) -> None:
    """Kill the launcher's group (PID 1 of the sandbox dies with the launcher, and with it the whole
    namespace), have the zygote reap it, close our ends but stderr (its last words are read after this).
    In a forked copy of the worker, the sandbox is the parent's: only this copy's pipe ends are closed."""
    if box.zygote.owner == os.getpid():
        if box.zygote.alive():  # so the launcher is unreaped: its pid is still its own
            # The launcher itself too: fresh from the fork, it may not lead its group yet (setsid), and the
            # zygote's reap would then wait for a launcher that nobody killed.
            for kill in (os.kill, os.killpg):
                try:
                    kill(box.pid, signal.SIGKILL)
                except OSError:
                    pass
            box.zygote.reap(box.pid)
        # else: closing its lifeline below makes the launcher kill its sandbox and exit (_watch_lifeline)
        shutil.rmtree(box.workdir, ignore_errors=True)
    for fd in (box.lifeline, box.results):
        os.close(fd)


def _discard(box: _Box) -> None:
    _end(box)
    os.close(box.stderr)


def _take(key: tuple[str, str, int]) -> tuple[_Box, bool]:
    """The spare when it fits, lives and is this process's, else a new sandbox; and whether it was the spare."""
    global _spare
    with _spare_lock:
        box, _spare = _spare, None
    if box is not None and box.key == key and box.zygote.owner == os.getpid() and box.alive():
        return box, True
    if box is not None:
        _discard(box)
    return _start(key), False


def _prepare_spare(key: tuple[str, str, int]) -> None:
    """Start the next submission's sandbox now, so its start overlaps this one's tests."""
    global _spare
    if os.environ.get("REWARDKIT_SANDBOX_SPARE", "1") == "0":
        return
    try:
        box = _start(key)
    except SandboxError:
        return  # the next run starts its own and reports the problem
    with _spare_lock:
        old, _spare = _spare, box
    if old is not None:
        _discard(old)


@atexit.register
def _drop_spare() -> None:
    global _spare
    with _spare_lock:
        box, _spare = _spare, None
    if box is not None:
        _discard(box)


def _stop_at_exit() -> None:
    """At the end of a multiprocessing child too (a worker), which ends with os._exit and runs no atexit
    function: its spare's directory would stay in the temp dir, its zygote until it noticed. Multiprocessing
    runs its own exit functions there (util.Finalize), and forgets a parent's in each child: asked per process."""
    from multiprocessing import util

    util.Finalize(None, _drop_spare, exitpriority=10)
    util.Finalize(None, _stop_zygotes, exitpriority=9)


def run(program: str, tests: Sequence[SandboxTest], limits: SandboxLimits = SandboxLimits(),
        isolation: Isolation = "require", python: str | None = None) -> RunResult:
    """Run the Python `program` on each test, all in one sandbox start; raise SandboxError if the sandbox fails.

    With isolation="none" the program runs without namespaces (no network or
    filesystem isolation, no PID namespace): only for programs you trust, or a
    host that cannot do better and a risk you accepted. A spare sandbox is
    started for the next call while this one runs (REWARDKIT_SANDBOX_SPARE=0: never).
    """
    _check_isolation_value(isolation)
    job_tests = [_job_test(t) for t in tests]
    job = {"program": program, "tests": job_tests, "limits": limits.to_job()}
    key = (python or interpreter(isolation), isolation, int(limits.tmpfs_mb))
    box, was_spare = _take(key)
    try:
        # The next call's spare is started once this one's job is on its way, so the two overlap.
        return _send(box, job, len(job_tests), limits, meanwhile=lambda: _prepare_spare(key))
    except SandboxError:
        if not was_spare:
            raise
    # A spare that died waiting (its parent thread ended, say): once more, on a sandbox started now.
    fresh = _start(key)
    return _send(fresh, job, len(job_tests), limits)


def _send(box: _Box, job: dict[str, Any], count: int, limits: SandboxLimits,
          meanwhile: Callable[[], None] = lambda: None) -> RunResult:
    began = time.monotonic()
    try:
        try:
            # One line; the pipe then stays open: it is the sandbox's lifeline to this worker
            # (_child._watch_lifeline).
            _write_all(box.lifeline, json.dumps(job).encode() + b"\n")
        except OSError:
            pass  # it died; what it said is on stderr, reported below
        meanwhile()
        deadline = began + limits.total_seconds + STARTUP_SLACK
        records, timed_out = _read_records(box.results, deadline)
    finally:
        _end(box)
    try:
        stderr = _read_tail(box.stderr).decode("utf-8", "replace")
    finally:
        os.close(box.stderr)
    return _result(records, count, timed_out, stderr, time.monotonic() - began)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _read_tail(fd: int) -> bytes:
    """The end of what the launcher said on stderr; every writer is dead by now, but a leftover holding the
    pipe is not waited for."""
    os.set_blocking(fd, False)
    said = bytearray()
    try:
        while chunk := os.read(fd, 1 << 16):
            said += chunk
            del said[:-_STDERR_CAP]
    except BlockingIOError:
        pass
    return bytes(said)


def _read_records(fd: int, deadline: float) -> tuple[list[dict[str, Any]], bool]:
    buffer = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return _lines(buffer), False
        buffer += chunk
    return _lines(buffer), True


def _lines(buffer: bytearray) -> list[dict[str, Any]]:
    records = []
    for line in bytes(buffer).splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pass  # a line cut by a kill
    return records


def _result(records: list[dict[str, Any]], count: int, timed_out: bool, stderr: str, seconds: float) -> RunResult:
    head = records[0] if records else {}
    for record in records:
        if "fatal" in record:
            raise SandboxError(record["fatal"])
    if "syntax_error" in head:
        return RunResult(syntax_error=head["syntax_error"], seconds=seconds)
    if not head.get("ready"):
        why = "did not start in time" if timed_out else "exited before starting"
        raise SandboxError(f"the sandbox {why}" + (f": {stderr.strip()[-500:]}" if stderr.strip() else ""))
    runs: dict[int, TestRun] = {}
    for record in records[1:]:
        if isinstance(record.get("i"), int) and 0 <= record["i"] < count:
            runs[record["i"]] = _test_run(record)
    missing = "timeout" if timed_out else "lost"
    tests = tuple(runs.get(i) or TestRun(i, missing) for i in range(count))
    return RunResult(tests=tests, isolated=bool(head.get("isolated")), seconds=seconds)


def _test_run(record: dict[str, Any]) -> TestRun:
    return TestRun(index=record["i"], status=str(record.get("status")), exit=record.get("exit"),
                   signal=record.get("signal"), stdout=record.get("stdout") or "", stderr=record.get("stderr") or "",
                   frames=tuple(f for f in record.get("frames") or () if isinstance(f, dict)),
                   seconds=float(record.get("seconds") or 0.0))


@functools.lru_cache(maxsize=None)
def _probe(python: str | None) -> str | None:
    try:
        result = run("print(1)", [SandboxTest("stdin")], SandboxLimits(timeout_seconds=10), "require", python)
    except SandboxError as exc:
        return str(exc)
    if not result.isolated or not result.tests or result.tests[0].stdout.strip() != "1":
        return f"a trial run in the sandbox did not work: {result}"
    return None


def check_isolation(python: str | None = None) -> None:
    """Raise SandboxError unless this host can run isolated sandboxes (cached per process)."""
    problem = _probe(python)
    if problem is not None:
        raise SandboxError(
            f"this host cannot isolate model code ({problem}). The sandbox needs unprivileged user, network, "
            "PID and mount namespaces (see docs/code.md). To run without network and filesystem isolation, "
            "accept it explicitly: isolation='none' (or REWARDKIT_SANDBOX_ISOLATION=none for the built-in "
            "code_tests); or send programs to a remote sandbox service (backend='sandboxfusion')."
        )


def warn_unisolated() -> None:
    log.warning("SANDBOX ISOLATION IS OFF (isolation='none'): model-written code runs with this service's "
                "network and filesystem access, as its user. Use only for code you trust.")

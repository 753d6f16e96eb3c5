"""The sandbox's inside: run as `python -I -B _child.py --zygote CHANNEL` by `rewardkit.sandbox.run`.

Standard library only, and nothing imported from rewardkit: this file is the
whole of the trusted code that shares a machine view with the model's program.

0. The zygote (this process, started once per worker and interpreter, with the
   scrubbed environment) imports everything below and the modules programs
   commonly use, then forks one launcher per submission on the worker's
   request: a sandbox start costs a fork, not an interpreter start and its
   imports (~30 ms). It never runs model code, and holds nothing but the
   standard library and the requests of its own worker.
1. The launcher first builds the sandbox, when isolation is on: it leaves the
   worker's world for a new user, network, PID, mount, IPC and UTS namespace
   (no network but a loopback that is down), a size-capped tmpfs as the
   working directory, every other mount read-only, empty directories over the
   places that hold the service's Unix sockets (temp dirs, /run, /dev/shm, its
   home), and an empty tmpfs over /proc (no other process's environ or memory
   to read). Then it waits for the job on stdin (a worker may start it ahead
   of need).
2. It forks the template, PID 1 of the new PID namespace: the kernel kills every
   process in the namespace when PID 1 dies, and PID 1 dies with the launcher
   (parent-death signal). The launcher kills it when the worker goes away (its
   stdin, the worker's lifeline, ends), and dies itself when `run` kills its group.
   The template drops every capability, compiles the program once, and forks one
   child per test, so the interpreter start is paid once per submission.
3. After each test the template kills everything else in the namespace
   (kill(-1) from PID 1), so a daemon cannot outlive its test.

Results go to a pipe only the template holds (each test child closes it).
Expected values never come here: the job carries inputs, and the caller
compares what comes back.
"""

from __future__ import annotations

import ctypes
import fcntl
import io
import json
import os
import resource
import select
import signal
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the child imports nothing it does not run
    from types import CodeType
    from typing import Any, Callable

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
NOBODY = 65534
_MOUNT_FLAGS = {"ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
                "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


class SetupFailed(Exception):
    """The sandbox could not be built; the caller reports SANDBOX_ERROR (or refuses to start)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise SetupFailed(f"{what}: {os.strerror(code)} (errno {code})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _mount_points() -> list[tuple[str, int]]:
    """(mount point, locked flags to keep) for every mount, from /proc/self/mountinfo."""
    points = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            point = fields[4].replace("\\040", " ")
            flags = 0
            for option in fields[5].split(","):
                flags |= _MOUNT_FLAGS.get(option, 0)
            points.append((point, flags))
    return points


def _no_nested_namespaces() -> None:
    """Best effort: the program may not make namespaces of its own (where it would hold capabilities again).

    The limits are per user namespace; ours may lower its own. Where the kernel refuses, nothing is lost:
    a nested namespace still sees only read-only, locked mounts, no network and no other processes.
    """
    for name in ("user", "mnt", "net", "pid", "ipc", "uts", "cgroup", "time"):
        try:
            _write(f"/proc/sys/user/max_{name}_namespaces", "0")
        except OSError:
            pass


def _needed_inside(path: str) -> list[str]:
    """The folders under `path` that the interpreter needs (its prefixes, its executable's folder), as they
    must stay visible. Not this file's: the zygote read it before any sandbox existed and nothing inside
    reads it again, so rewardkit may be installed where the sandbox user cannot look (a virtual environment
    under /root or a 0700 folder, served as root)."""
    here = os.path.realpath(path).rstrip("/") + "/"
    mine = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, os.path.dirname(sys.executable))}
    return sorted(m for m in mine if m.startswith(here) or m + "/" == here)


def _handle(path: str) -> int:
    try:
        return os.open(path, os.O_PATH | os.O_DIRECTORY)
    except PermissionError:
        raise SetupFailed(f"the sandbox user (uid {os.getuid()}) cannot reach {path}, which the interpreter "
                          f"{sys.executable} needs; give it one it can read (REWARDKIT_SANDBOX_PYTHON, a system "
                          "python3)") from None


def _hide(directories: list[str], workdir: str) -> None:
    """An empty read-only tmpfs over each directory, the way to `workdir` kept.

    A read-only mount still lets a process connect to a Unix socket file it may write (the kernel checks
    the socket's permission, not the mount's), and the service's own sockets live in places like these:
    the multiprocessing forkserver's, in the worker's temp dir, would run a pickle sent to it. What the
    interpreter needs inside one (a checkout or venv under /tmp) is bound back read-only, nothing else.
    """
    for directory in sorted(directories, key=len):  # outer first; an inner one is hidden again, inside it
        if not os.path.isdir(directory) or os.path.islink(directory):
            continue
        needed = _needed_inside(directory)
        if os.path.realpath(directory) in needed:
            continue  # the interpreter itself lives right here: nothing narrower to keep
        handles = [(path, _handle(path)) for path in needed]
        _mount("rewardkit-hidden", directory, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755")
        if workdir.startswith(directory.rstrip("/") + "/"):
            os.makedirs(workdir, exist_ok=True)
        for path, handle in handles:
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
            _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            os.close(handle)
        _mount(None, directory, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755")


def isolate(workdir: str, tmpfs_mb: int, hide: list[str]) -> None:
    """Enter new namespaces and make everything but `workdir` read-only (see the module docstring)."""
    if os.geteuid() == 0:
        # Root's processes escape RLIMIT_NPROC, and the namespace would map the sandbox to root's files:
        # run as nobody instead (the caller made `workdir` nobody's).
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # a changed uid makes /proc/self root's; the maps below need it
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare(user, net, pid, mount, ipc, uts namespaces)")
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as exc:
        raise SetupFailed(f"cannot map the user namespace: {exc}") from None
    _no_nested_namespaces()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for point, flags in _mount_points():
        if not flags & MS_RDONLY:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
    _hide(hide, workdir)
    _mount("rewardkit-sandbox", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmpfs_mb}m,mode=0700")
    _mount("none", "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges() -> None:
    """No capabilities (a new user namespace grants all of them inside it), none to regain, no ptrace."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (cap, cap))


# ------------------------------------------------------------------ values

def encode(value: Any, depth: int = 0) -> Any:
    """A plain value as JSON data; anything else (an object with its own __eq__) raises TypeError.

    Exact types, not isinstance: a subclass of int may compare equal to everything.
    """
    if depth > 100:
        raise TypeError("nested deeper than 100 levels")
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        return value if value == value and value not in (float("inf"), float("-inf")) else {"$f": repr(value)}
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind is tuple:
        return {"$t": [encode(v, depth + 1) for v in value]}
    if kind is dict:
        return {"$d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if kind is set or kind is frozenset:
        return {"$s": [encode(v, depth + 1) for v in value]}
    if kind is bytes:
        return {"$b": value.decode("latin-1")}
    if kind is complex:
        return {"$c": [encode(value.real), encode(value.imag)]}
    raise TypeError(f"{kind.__module__}.{kind.__qualname__}")


def decode(data: Any, depth: int = 0) -> Any:
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        (tag, inner), = data.items()
        if tag == "$t":
            return tuple(decode(v) for v in inner)
        if tag == "$d":
            return {decode(k): decode(v) for k, v in inner}
        if tag == "$s":
            return {decode(v) for v in inner}
        if tag == "$f":
            return float(inner)
        if tag == "$b":
            return inner.encode("latin-1")
        if tag == "$c":
            return complex(inner[0], inner[1])
        raise ValueError(f"unknown tag {tag!r}")
    return data


# ------------------------------------------------------------------ one test, in its own child

_FRAMES = 3  # the test child's frame channel: values it hands back (never a verdict)
_FD_CEILING = 1024  # what a launcher holds is below it (main() moves the zygote's channel down)


def _frame(record: dict[str, Any]) -> None:
    data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    while data:
        data = data[os.write(_FRAMES, data):]


def _frame_value(record: dict[str, Any], value: Any) -> None:
    try:
        record["value"] = encode(value)
    except (TypeError, RecursionError) as exc:
        record["unsupported"] = str(exc)
    _frame(record)


def _exception(exc: BaseException) -> dict[str, Any]:
    return {"exception": type(exc).__name__, "message": str(exc)[:300], "errno": getattr(exc, "errno", None)}


def _probe(index: int, *values: Any) -> None:
    record: dict[str, Any] = {"probe": index, "values": []}
    try:
        record["values"] = [encode(v) for v in values]
    except (TypeError, RecursionError) as exc:
        record["unsupported"] = str(exc)
    _frame(record)


def _plain_returning(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` whose results reach the test code as fresh plain values (always-equal objects fail here)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        try:
            return decode(encode(result))
        except (TypeError, RecursionError) as exc:
            _frame({"unsupported": str(exc)})
            raise TypeError(f"returned a {exc}, not a plain value") from None
    call.__name__ = getattr(fn, "__name__", "candidate")
    return call


def _target(namespace: dict[str, Any], name: str) -> Any:
    if callable(namespace.get(name)):
        return namespace[name]
    solution = namespace.get("Solution")  # LeetCode / LiveCodeBench style: a method of class Solution
    if isinstance(solution, type) and callable(getattr(solution, name, None)):
        return getattr(solution(), name)
    raise NameError(f"the program defines no function {name!r}")


def _run_test(code: CodeType, test: dict[str, Any], builtins_snapshot: dict[str, Any]) -> int:
    """Runs in the test child; returns the exit status."""
    kind = test["kind"]
    namespace: dict[str, Any] = {"__name__": "__main__" if kind == "stdin" else "solution",
                                 "__builtins__": builtins_snapshot.copy()}
    status = 0
    try:
        exec(code, namespace)
        if kind == "call":
            _frame_value({"call": True}, _target(namespace, test["fn"])(*decode(test["args"])))
        elif kind == "script":
            scope: dict[str, Any] = {**{k: _plain_returning(v) if callable(v) and not isinstance(v, type) else v
                        for k, v in namespace.items() if not k.startswith("__")},
                     "__name__": "tests", "__builtins__": builtins_snapshot.copy(), "__rk_probe__": _probe}
            exec(compile(test["script"], "<tests>", "exec"), scope)
            if test.get("entry_point"):
                scope["check"](_plain_returning(_target(namespace, test["entry_point"])))
            _frame({"done": True})
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if kind != "stdin":
            _frame({"exit": status})
    except BaseException as exc:  # the program's own failure: reported, never raised
        status = 1
        try:
            _frame(_exception(exc))
        except BaseException:
            pass
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    return status if 0 <= status < 256 else 1


def _close_from(first: int) -> None:
    """Close every descriptor from `first` up. os.closerange walks /proc/self/fd, which the sandbox hides;
    without it, it would close 65536 numbers one by one (3 ms a test)."""
    if _libc.syscall(436, first, 0xFFFFFFFF, 0) != 0:  # close_range(2), Linux 5.9
        os.closerange(first, _FD_CEILING)


def _child(code: CodeType, test: dict[str, Any], limits: dict[str, Any], fds: tuple[int, int, int, int],
           builtins_snapshot: dict[str, Any]) -> None:
    stdin, out, err, frames = fds
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # with the template, whatever kills it
        os.setpgid(0, 0)
        for source, target in ((stdin, 0), (out, 1), (err, 2), (frames, _FRAMES)):
            os.dup2(source, target)
        _close_from(_FRAMES + 1)
        _limit(resource.RLIMIT_CPU, limits["cpu_seconds"])
        _limit(resource.RLIMIT_AS, limits["memory_mb"] * 2**20)
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", write_through=True)
        status = _run_test(code, test, builtins_snapshot)
    except BaseException:
        status = 1
    os._exit(status)


def _memfd(text: str) -> int:
    fd = os.memfd_create("stdin", 0) if hasattr(os, "memfd_create") else os.open(".", os.O_TMPFILE | os.O_RDWR)
    data = text.encode()
    while data:
        data = data[os.write(fd, data):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def run_one(code: CodeType, test: dict[str, Any], limits: dict[str, Any],
            builtins_snapshot: dict[str, Any]) -> dict[str, Any]:
    stdin = _memfd(test.get("stdin") or "")
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    frames_r, frames_w = os.pipe()
    began = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(code, test, limits, (stdin, out_w, err_w, frames_w), builtins_snapshot)
    for fd in (stdin, out_w, err_w, frames_w):
        os.close(fd)
    result = _watch(pid, {out_r: bytearray(), err_r: bytearray(), frames_r: bytearray()}, out_r, err_r, frames_r,
                    limits, began)
    return result


def _watch(pid: int, buffers: dict[int, bytearray], out_r: int, err_r: int, frames_r: int, limits: dict[str, Any],
           began: float) -> dict[str, Any]:
    deadline = began + limits["wall_seconds"]
    cap = {out_r: limits["output_bytes"], err_r: 1 << 16, frames_r: limits["output_bytes"]}
    try:
        exited = os.pidfd_open(pid)
    except (AttributeError, OSError):
        exited = None
    reason = None
    ended = False
    open_fds = set(buffers)
    while not ended:
        left = deadline - time.monotonic()
        if left <= 0:
            reason = "timeout"
            break
        watched = list(open_fds) + ([exited] if exited is not None else [])
        ready, _, _ = select.select(watched, [], [], min(left, 0.005 if exited is None else left))
        for fd in ready:
            if fd == exited:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.discard(fd)
                continue
            buffers[fd] += chunk
            if len(buffers[fd]) > cap[fd]:
                if fd == err_r:
                    del buffers[fd][: len(buffers[fd]) - cap[fd]]  # keep the tail: it holds the traceback
                else:
                    reason = "output_limit"
        if reason:
            break
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            ended = True
    _kill_group(pid)  # the test's own group, leftovers included (before the reap, so the group id is still its)
    _, status = os.waitpid(pid, 0)
    for fd in list(open_fds):  # what the test wrote before it ended; a daemon holding the pipe is not waited for
        os.set_blocking(fd, False)
        try:
            while len(buffers[fd]) <= cap[fd] and (chunk := os.read(fd, 1 << 16)):
                buffers[fd] += chunk
        except BlockingIOError:
            pass
    for fd in (*buffers, *([exited] if exited is not None else [])):
        os.close(fd)
    return _describe(status, reason, buffers[out_r], buffers[err_r], buffers[frames_r], limits,
                     time.monotonic() - began)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _frames(data: bytes | bytearray, limit: int = 10000) -> list[dict[str, Any]]:
    records = []
    for line in bytes(data).splitlines()[:limit]:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _describe(status: int, reason: str | None, out: bytearray, err: bytearray, frames: bytearray,
              limits: dict[str, Any], seconds: float) -> dict[str, Any]:
    result = {"stdout": bytes(out[: limits["output_bytes"]]).decode("utf-8", "replace"),
              "stderr": bytes(err[-2000:]).decode("utf-8", "replace"), "frames": _frames(frames),
              "seconds": round(seconds, 4), "exit": None, "signal": None}
    if os.WIFSIGNALED(status):
        result["signal"] = signal.Signals(os.WTERMSIG(status)).name
    else:
        result["exit"] = os.WEXITSTATUS(status)
    if reason is None and result["signal"] == "SIGXCPU":
        reason = "timeout"
    result["status"] = reason or "finished"
    return result


# ------------------------------------------------------------------ the template

_PRELOAD = ("math", "collections", "itertools", "functools", "heapq", "bisect", "re", "string", "operator")


def _reap_others(isolated: bool) -> None:
    if isolated:  # PID 1 of its own namespace: everything else here is the programs' leftovers
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if not isolated:
                return
            time.sleep(0.001)


def _tasks_of_this_user() -> int:
    uid, count = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def template(job: dict[str, Any], result_fd: int, isolated: bool) -> None:
    limits = job["limits"]
    if isolated:
        drop_privileges()
    os.chdir(job["workdir"])
    # Counted per user: in its own user namespace that is the sandbox alone; without one, this user's
    # other processes and threads (the service's) count too, so they are added.
    _limit(resource.RLIMIT_NPROC, limits["processes"] + (0 if isolated else _tasks_of_this_user()))
    _limit(resource.RLIMIT_NOFILE, limits["open_files"])
    _limit(resource.RLIMIT_FSIZE, limits["file_size_mb"] * 2**20)
    _limit(resource.RLIMIT_CORE, 0)
    out = os.fdopen(result_fd, "w", buffering=1)
    try:
        code = compile(job["program"], "<program>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        out.write(json.dumps({"syntax_error": f"{type(exc).__name__}: {exc}"[:500]}) + "\n")
        return
    import builtins
    snapshot = dict(vars(builtins))
    # Each test child inherits these, as at interpreter start: a write past a closed pipe or the file size
    # limit fails with an error instead of killing the program. Set once here, not per test (a test is ~1.5 ms).
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    out.write(json.dumps({"ready": True, "isolated": isolated}) + "\n")
    for index, test in enumerate(job["tests"]):
        try:
            result = run_one(code, test, limits, snapshot)
        except OSError as exc:  # no fork, no pipe: the sandbox's failure, not the program's
            out.write(json.dumps({"fatal": f"cannot run test {index}: {exc}"}) + "\n")
            return
        _reap_others(isolated)
        result["i"] = index
        try:
            line = json.dumps(result)
        except (RecursionError, ValueError):  # frames the program forged to be unwritable: they count as none
            line = json.dumps({**result, "frames": []})
        out.write(line + "\n")


def _watch_lifeline(pid: int) -> int:
    """Wait for the template; kill it if the worker goes away first. Returns its wait status.

    Stdin is the lifeline: the worker holds its write end until the run is over and the kernel closes
    it if the worker dies, however it dies. (A parent-death signal would fire when the worker *thread*
    that started us ends, which in a thread pool can be mid-run of another thread's submission.)
    """
    try:
        exited = os.pidfd_open(pid)
    except (AttributeError, OSError):
        exited = None
    while True:
        watched = [0] + ([exited] if exited is not None else [])
        ready, _, _ = select.select(watched, [], [], None if exited is not None else 0.05)
        if 0 in ready and not os.read(0, 4096):
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status


def _launch(result_fd: int, setup: dict[str, Any]) -> None:
    """The launcher: build the sandbox, wait for the job on stdin, fork the template, watch the lifeline.

    The sandbox is built before the job is read, so the worker can start one
    ahead of need (a spare) and hand it the next submission ready-made.
    """
    isolated = setup["isolation"] != "none"
    try:
        if isolated:
            isolate(setup["workdir"], setup["tmpfs_mb"], setup.get("hide", []))
    except (SetupFailed, OSError) as exc:
        os.write(result_fd, (json.dumps({"fatal": f"sandbox setup failed: {exc}"}) + "\n").encode())
        os._exit(3)
    line = sys.stdin.buffer.readline()
    if not line:  # the worker went away before sending a job
        os._exit(0)
    job = {**json.loads(line), **setup}
    pid = os.fork()
    if pid == 0:
        # The template: PID 1 of the sandbox when isolated. Its parent is this single thread, so the
        # parent-death signal is exact here.
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        try:
            template(job, result_fd, isolated)
            _reap_others(isolated)
        except SetupFailed as exc:
            os.write(result_fd, (json.dumps({"fatal": f"sandbox setup failed: {exc}"}) + "\n").encode())
        os._exit(0)
    os.close(result_fd)
    os._exit(os.waitstatus_to_exitcode(_watch_lifeline(pid)) & 0xFF)


# The launcher's descriptors: 0 its lifeline (the job arrives there), 1 /dev/null, 2 its stderr pipe,
# _RESULTS the result pipe; a test child replaces 3 with its frame channel and closes from 4 up.
_RESULTS = _FRAMES + 1


def _become_launcher(fds: list[int], setup: dict[str, Any]) -> None:
    """In a fresh fork of the zygote: the received pipes in their places, nothing else of the zygote's open,
    a session of its own (the worker kills its group), the submission's environment and directory."""
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, _RESULTS + 1) for fd in fds]  # above every target: none clobbered
    lifeline, stderr, results = moved
    os.setsid()
    os.dup2(lifeline, 0)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.dup2(stderr, 2)
    os.dup2(results, _RESULTS)
    try:
        os.close(_FRAMES)
    except OSError:
        pass
    _close_from(_RESULTS + 1)  # the zygote's socket and every received copy
    os.environ.clear()
    os.environ.update(setup["env"])
    os.chdir(setup["workdir"])
    sys.argv = [sys.argv[0]]
    _launch(_RESULTS, setup)


def zygote(channel: int) -> None:
    """Fork one launcher per request from the worker on `channel`, from this warm interpreter.

    Requests (a SOCK_SEQPACKET socketpair only the worker holds the other end of):
    {"start": SETUP} with three descriptors (the lifeline's read end, stderr's and the results' write ends),
    answered {"pid": P}; {"reap": P} after the worker killed P's group, answered when P is reaped. A
    launcher stays unreaped until then, so its pid (the group the worker kills) cannot be reused.
    No model code ever runs here: it runs two forks down, in the sandbox the launcher builds; this
    process holds nothing but the standard library, started with the scrubbed environment.
    Returns when the worker goes away (the socket ends).
    """
    import socket

    sock = socket.socket(fileno=channel)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        except OSError:
            return
        if not message:
            return
        request = json.loads(message)
        if "reap" in request:
            for fd in fds:
                os.close(fd)
            try:
                os.waitpid(int(request["reap"]), 0)
            except ChildProcessError:
                pass
            sock.send(json.dumps({"reaped": request["reap"]}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            sock.detach()  # its descriptor is closed below by number; the object must never close another's
            try:
                _become_launcher(fds, request["start"])
            except BaseException as exc:  # said on the launcher's stderr, which the worker reports
                try:
                    os.write(2, f"sandbox launcher: {type(exc).__name__}: {exc}\n".encode())
                except OSError:
                    pass
            os._exit(3)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())


def main() -> None:
    """argv: --zygote CHANNEL (see zygote()). Everything a launcher or the template needs is imported
    here, once, so a submission's sandbox costs a fork, not an interpreter start."""
    for name in _PRELOAD:
        __import__(name)
    if sys.argv[1:2] != ["--zygote"]:
        raise SystemExit("usage: _child.py --zygote CHANNEL")
    passed = int(sys.argv[2])
    channel = os.dup(passed)  # the lowest free number (the worker's may be high): see _close_from
    os.close(passed)
    zygote(channel)


if __name__ == "__main__":
    main()

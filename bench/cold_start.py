"""Cold start of `rewardkit serve`: import times, process start -> healthy /health, first requests.

    python bench/cold_start.py [--repeat 5] [--workers auto 1] [--budget 300] [--top 12]

Everything is measured in fresh processes, as a scaled-to-zero instance starts:

  imports   each statement run in a fresh interpreter twice: once under `python -X importtime`
            (the figure is the sum of the cumulative times of the statement's top-level imports,
            which includes importtime's own overhead) and once timed with perf_counter around
            the statement (no profiler). Statements: `import rewardkit`, the app factory's
            module, building the app for the default target and for the light target, the
            server process's whole path before it listens, and what the worker forkserver
            imports before it forks workers (the target plus each reward's `preload`). The last
            column lists the heavy modules (sympy, math-verify, ...) the statement pulled in.
  startup   the image's command line, `rewardkit serve` with PORT, REWARDKIT_TARGET and
            REWARDKIT_HOST in the environment (REWARDKIT_WORKERS too unless --workers auto):
            Popen -> first 200 from GET /health (the moment Cloud Run's startup probe passes;
            uvicorn listens only once the worker pool is up), the first request's latency over
            the Vertex route (math_accuracy on a radical that needs sympy, or the light target's
            `constant`), the median of the next 5 (warm, each a new radical), and SIGTERM ->
            exit 0. Targets: `rewards` (the image's default) and bench/bench_rewards.py (one
            trivial reward, the light target).
  front     for each target, one more start under a launcher that calls the same entry point
            (`rewardkit._cli.main.main`) and, at exit, records which heavy modules the server process
            itself (not its workers) had imported after /health and the first request.

Bytecode: the image runs from .pyc files that pip compiled at build time. Here every process
gets PYTHONPYCACHEPREFIX pointing into a scratch folder (the checkout is left alone), and an
untimed pass of every import probe, plus the front runs, fill it before anything is timed.

The repetitions interleave the scenarios so drift on the machine hits them alike; each
figure is the median over the repetitions (min-max beside it). No new repetition starts
once --budget seconds have passed; the report says how many ran.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LIGHT = HERE / "bench_rewards.py"

VERTEX_BODY = {
    "example": {"contents": [{"role": "user", "parts": [{"text": "What is 12 * 6?"}]}], "references": {"answer": "72"}},
    "response": {"role": "model", "parts": [{"text": "12 * 6 = 72, so the answer is \\boxed{72}."}]},
    "metadata": {"step": 1, "tuning_job_id": "123"},
}


def sympy_body(n: int) -> dict:
    """math_accuracy on a radical no string comparison settles (\\frac{2\\sqrt{n}}{2} vs \\sqrt{n}), so the
    first request pays for sympy's first real work in a worker; a new n each time defeats any cache."""
    return {"example": {"contents": [], "references": {"answer": f"\\sqrt{{{n}}}"}},
            "response": {"parts": [{"text": f"So the answer is \\boxed{{\\frac{{2\\sqrt{{{n}}}}}{{2}}}}"}]}}


# Modules whose presence in a process is worth a look when it starts slowly.
HEAVY = ("sympy", "math_verify", "latex2sympy2_extended", "antlr4", "mpmath", "jsonschema", "httpx", "numpy",
         "dashscope", "yaml")
STARTUP_TIMEOUT = 60.0  # Cloud Run's startup probe window in deploy/cloudrun/service.yaml
STOP_TIMEOUT = 15.0
WARM_REQUESTS = 5
MARK = "@@cold-start-mark@@"
PYCACHE: Path | None = None  # PYTHONPYCACHEPREFIX of every process started here; set by main()


class BenchError(Exception):
    """A probe or server did not start, answer or stop as expected; the message carries its output."""


# ---- imports ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportCase:
    name: str
    code: str  # statements whose import time is measured in a fresh interpreter


@dataclass
class ImportResult:
    importtime: list[float] = field(default_factory=list)  # seconds, -X importtime sum
    inside: list[float] = field(default_factory=list)  # seconds, perf_counter around the statement
    wall: list[float] = field(default_factory=list)  # seconds, the whole process (interpreter start included)
    heavy: list[str] = field(default_factory=list)


def _preload(target: str) -> list[str]:
    """What the worker forkserver imports for `target` (rewardkit._engine.pool._context), from the target's rewards."""
    code = ("import json, rewardkit\nfrom rewardkit._loader import load_registry\n"
            f"r = load_registry({target!r})\n"
            "print(json.dumps(sorted({m for s in r if isinstance(s, rewardkit.RewardSpec) for m in s.preload})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=_clean_env())
    if done.returncode != 0:
        raise BenchError(f"preload of {target}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_cases() -> tuple[ImportCase, ...]:
    light_module = f"import sys; sys.path.insert(0, {str(HERE)!r}); "
    forkserver = lambda target, module: ", ".join(["rewardkit._engine.worker", module, *_preload(target)])  # noqa: E731
    return (
        ImportCase("python -c pass (interpreter only)", "pass"),
        ImportCase("import rewardkit", "import rewardkit"),
        ImportCase("import rewardkit._serving.app (app factory)", "import rewardkit._serving.app"),
        ImportCase("create_app() (default target: rewards)", "from rewardkit import create_app; create_app()"),
        ImportCase("create_app(light target)", f"from rewardkit import create_app; create_app({str(LIGHT)!r})"),
        # What `rewardkit serve` runs before it listens: the CLI, the app, and uvicorn's loop and protocol
        # (uvicorn.Config.load imports uvloop and httptools); the worker pool is started after this.
        ImportCase("server process before it listens (rewards)",
                   "from rewardkit._cli.main import build_parser; build_parser(); import uvicorn; "
                   "from rewardkit import create_app; uvicorn.Config(create_app(), log_config=None).load()"),
        ImportCase("worker forkserver preload (rewards)", f"import {forkserver('rewards', 'rewards')}"),
        ImportCase("worker forkserver preload (light)",
                   light_module + f"import {forkserver(str(LIGHT), LIGHT.stem)}"),
    )


_PROBE = """
import json, sys, time
started = time.perf_counter()
{code}
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed}}))
"""


def _clean_env() -> dict[str, str]:
    """This environment without rewardkit's settings and with bytecode written to and read from PYCACHE."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REWARDKIT_") and k not in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE")}
    if PYCACHE is not None:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def _parse_importtime(stderr: str) -> list[tuple[float, int, str]]:
    """(cumulative seconds, depth, module) per `-X importtime` row printed after MARK; depth 0 = top level."""
    rows = []
    seen_mark = False
    for line in stderr.splitlines():
        if line == MARK:
            seen_mark = True
            continue
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)", line)
        if seen_mark and match:
            rows.append((int(match.group(1)) / 1e6, len(match.group(2)) // 2, match.group(3)))
    if not seen_mark:
        raise BenchError(f"no importtime mark in the probe's stderr:\n{stderr[-2000:]}")
    return rows


def time_import(case: ImportCase, result: ImportResult) -> None:
    """One run of each probe for `case`, appended to `result`."""
    marked = f"import sys; sys.stderr.write({MARK!r} + '\\n'); sys.stderr.flush()\n{case.code}"
    profiled = subprocess.run([sys.executable, "-X", "importtime", "-c", marked], cwd=REPO, env=_clean_env(),
                              capture_output=True, text=True, timeout=120)
    if profiled.returncode != 0:
        raise BenchError(f"{case.name}: {profiled.stderr.strip()[-2000:]}")
    rows = _parse_importtime(profiled.stderr)
    result.importtime.append(sum(seconds for seconds, depth, _ in rows if depth == 0))
    result.heavy = sorted({name.split(".")[0] for _, _, name in rows if name.split(".")[0] in HEAVY})

    started = time.perf_counter()
    plain = subprocess.run([sys.executable, "-c", _PROBE.format(code=case.code)], cwd=REPO, env=_clean_env(),
                           capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - started
    if plain.returncode != 0:
        raise BenchError(f"{case.name}: {plain.stderr.strip()[-2000:]}")
    result.inside.append(json.loads(plain.stdout.strip().splitlines()[-1])["seconds"])
    result.wall.append(wall)


def importtime_top(code: str, count: int) -> list[tuple[float, str]]:
    """The `count` largest cumulative import times (ms) of the top-level imports of `code` and their children."""
    marked = f"import sys; sys.stderr.write({MARK!r} + '\\n'); sys.stderr.flush()\n{code}"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", marked], cwd=REPO, env=_clean_env(),
                          capture_output=True, text=True, timeout=120)
    # Deeper rows repeat their parents' time, so only the top two levels are listed.
    shallow = [(seconds * 1000, name) for seconds, depth, name in _parse_importtime(done.stderr) if depth <= 1]
    return sorted(shallow, reverse=True)[:count]


# ---- startup ---------------------------------------------------------------------------

@dataclass
class StartupCase:
    name: str
    target: str  # REWARDKIT_TARGET
    workers: str  # REWARDKIT_WORKERS, or "auto": unset, as in the image (one worker per CPU)
    reward: str
    healthy: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    stop: list[float] = field(default_factory=list)
    worker_count: str = "?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rewardkit_command() -> list[str]:
    """The console script the image runs (`rewardkit`), from this interpreter's environment."""
    script = Path(sys.executable).parent / "rewardkit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rewardkit"]


# Calls the console script's entry point; at exit (after SIGTERM) it writes the heavy modules this
# process (the server, not its workers: they are forked from a separate forkserver) had imported.
_LAUNCHER = """
import atexit, os, sys
out, pid = sys.argv[1], os.getpid()
def record():
    if os.getpid() == pid:
        with open(out, "w") as f:
            f.write("\\n".join(sorted({m.split(".")[0] for m in list(sys.modules)} & set(sys.argv[2].split(",")))))
atexit.register(record)
from rewardkit._cli.main import main
sys.exit(main(sys.argv[3:]))
"""


def _request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"content-type": "application/json"} if body else {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _wait_healthy(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if _request(port, "GET", "/health")[0] == 200:
                return
        except OSError:  # not listening yet: uvicorn binds only after the app's startup (workers ready)
            pass
        time.sleep(0.005)
    raise BenchError(f"not healthy after {STARTUP_TIMEOUT:g} s:\n{log.read_text()[-3000:]}")


def _timed_post(port: int, path: str, body: dict) -> float:
    started = time.perf_counter()
    status, content = _request(port, "POST", path, json.dumps(body).encode())
    elapsed = time.perf_counter() - started
    if status != 200 or json.loads(content).get("reward") != 1.0:
        raise BenchError(f"POST {path}: {status} {content[:500]!r}")
    return elapsed


def _image_env(case: StartupCase, port: int, write_bytecode: bool = False) -> dict[str, str]:
    """The image's environment (Dockerfile ENV), on loopback and a free port."""
    env = {**_clean_env(), "PORT": str(port), "REWARDKIT_TARGET": case.target, "REWARDKIT_HOST": "127.0.0.1",
           "PYTHONUNBUFFERED": "1", "REWARDKIT_LOG_FORMAT": "plain"}
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if case.workers != "auto":
        env["REWARDKIT_WORKERS"] = case.workers
    return env


def _bodies(case: StartupCase) -> list[dict]:
    return [sympy_body(n) if case.reward == "math_accuracy" else VERTEX_BODY for n in range(101, 102 + WARM_REQUESTS)]


def _stop(process: subprocess.Popen, log: Path) -> float:
    stopping = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=STOP_TIMEOUT)
    if code != 0:
        raise BenchError(f"exit code {code} after SIGTERM:\n{log.read_text()[-3000:]}")
    return time.perf_counter() - stopping


def run_startup(case: StartupCase, scratch: Path) -> None:
    """One cold start of `case` with the image's command line, its measurements appended to the case."""
    port = free_port()
    log = scratch / f"{case.name}-{case.workers}-{port}.log"
    with open(log, "w") as output:
        started = time.perf_counter()
        process = subprocess.Popen([*rewardkit_command(), "serve"], cwd=scratch, env=_image_env(case, port),
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(process, port, log)
        healthy = time.perf_counter() - started
        path = f"/rewards/{case.reward}"
        bodies = _bodies(case)
        first = _timed_post(port, path, bodies[0])
        warm = statistics.median(_timed_post(port, path, body) for body in bodies[1:])
        stop = _stop(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    found = re.search(r"(\d+) worker process", log.read_text())
    case.worker_count = found.group(1) if found else "?"
    case.healthy.append(healthy)
    case.first.append(first)
    case.warm.append(warm)
    case.stop.append(stop)


def front_modules(case: StartupCase, scratch: Path) -> list[str]:
    """Heavy modules the server process itself had imported after /health, the requests and SIGTERM.
    Untimed, so it also writes the bytecode of whatever the requests import for the timed runs."""
    port = free_port()
    log = scratch / f"front-{case.name}-{port}.log"
    record = scratch / f"front-{case.name}-{port}.modules"
    command = [sys.executable, "-c", _LAUNCHER, str(record), ",".join(HEAVY), "serve"]
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=scratch, env=_image_env(case, port, write_bytecode=True), stdout=output,
                                   stderr=subprocess.STDOUT)
    try:
        _wait_healthy(process, port, log)
        for body in _bodies(case):
            _timed_post(port, f"/rewards/{case.reward}", body)
        _stop(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if not record.exists():
        raise BenchError(f"the launcher wrote no module list:\n{log.read_text()[-3000:]}")
    return [m for m in record.read_text().splitlines() if m]


# ---- report ----------------------------------------------------------------------------

def _fmt(values: list[float]) -> str:
    if not values:
        return "-"
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):7.1f} ({min(ms):.0f}-{max(ms):.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of every measurement (default 5)")
    parser.add_argument("--workers", nargs="+", default=["auto"], metavar="N",
                        help="worker counts to start with (REWARDKIT_WORKERS); 'auto' leaves it unset as the image "
                        "does: one per CPU (default: auto)")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds after which no new repetition starts (default 300)")
    parser.add_argument("--top", type=int, default=12,
                        help="largest imports of the server process to list from -X importtime (default 12; 0: none)")
    args = parser.parse_args(argv)
    global PYCACHE
    if any(w != "auto" and not w.isdigit() for w in args.workers):
        parser.error("--workers takes numbers or 'auto'")

    command = "python bench/cold_start.py " + " ".join(sys.argv[1:] if argv is None else argv)
    began = time.monotonic()
    startups = [StartupCase(name, target, workers, reward)
                for workers in args.workers
                for name, target, reward in (("rewards", "rewards", "math_accuracy"),
                                             ("light", str(LIGHT), "constant"))]
    done = 0
    with tempfile.TemporaryDirectory(prefix="rewardkit-cold-start-") as scratch:
        PYCACHE = Path(scratch) / "pycache"
        cases = import_cases()
        # One untimed pass so every module has its .pyc (the image compiles them at build time).
        warmup = ImportResult()
        for case in cases:
            time_import(case, warmup)
        imports = {case.name: ImportResult() for case in cases}
        front = {s.name: front_modules(s, Path(scratch)) for s in startups if s.workers == args.workers[0]}
        for _ in range(args.repeat):
            if done and time.monotonic() - began > args.budget:
                break
            for case in cases:
                time_import(case, imports[case.name])
            for startup in startups:
                run_startup(startup, Path(scratch))
            done += 1
            print(f"repetition {done}/{args.repeat} done ({time.monotonic() - began:.0f} s)", file=sys.stderr,
                  flush=True)
        top = importtime_top(cases[5].code, args.top) if args.top else []

    print(f"\nrewardkit cold start: {command.strip()}")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPU(s), {platform.platform()}; "
          f"median of {done} run(s) (min-max), ms")
    print(f"\n{'imports (fresh interpreter)':<44} {'-X importtime':>18} {'perf_counter':>18} {'process wall':>18}"
          "  heavy modules")
    for case in cases:
        r = imports[case.name]
        print(f"{case.name:<44} {_fmt(r.importtime):>18} {_fmt(r.inside):>18} {_fmt(r.wall):>18}"
              f"  {', '.join(r.heavy) or '-'}")
    print(f"\n{'rewardkit serve (image env)':<28} {'workers':>7} {'Popen -> /health 200':>22} {'first request':>18} "
          f"{'warm request':>16} {'SIGTERM -> exit 0':>18}")
    for s in startups:
        print(f"{s.name + ' (' + s.reward + ')':<28} {s.worker_count:>7} {_fmt(s.healthy):>22} {_fmt(s.first):>18} "
              f"{_fmt(s.warm):>16} {_fmt(s.stop):>18}")
    print("\nheavy modules in the server process itself (not its workers) after /health, "
          f"{1 + WARM_REQUESTS} requests and SIGTERM:")
    for name, modules in front.items():
        print(f"  {name:<10} {', '.join(modules) or 'none'}"
              f"  (sympy: {'yes' if 'sympy' in modules else 'no'}, "
              f"math_verify: {'yes' if 'math_verify' in modules else 'no'})")
    if top:
        print("\nlargest imports of the server process before it listens (python -X importtime, cumulative ms):")
        for ms, name in top:
            print(f"  {ms:8.1f}  {name}")
    print(f"\ntotal {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

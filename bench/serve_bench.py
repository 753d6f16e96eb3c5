"""Side-by-side serving benchmark: rewardkit against a bare FastAPI ceiling and the DashScope SDK's server.

    python bench/serve_bench.py [--duration 8] [--rounds 3] [--connections 32] [--max-requests 200000]
                                [--hang-timeout 0.5] [--only NAMES] [--baseline CHECKOUT]

Every server runs on loopback at once; the rounds interleave the scenarios so
drift on the machine hits them alike, and each figure is the median over the
rounds. Load comes from wrk (Debian package `wrk`) when installed, else from a
bounded asyncio/httpx client (which is slower than the servers: ratios
then understate them). Each run stops at --duration or after --max-requests
answers, whichever comes first.

Scenarios:
  ceiling          bare FastAPI endpoint: parse the JSON body, return a fixed answer
  trivial          rewardkit, a constant sync reward, Vertex route: every call runs in one of 2 worker processes
  trivial-async    rewardkit, the same constant as an async reward (runs on the event loop, no worker round trip)
  trivial-ds       rewardkit, the same reward, DashScope route
  sdk              the dashscope SDK's reference server (its default: one process per CPU), same reward, on the
                   HTTP stack the dashscope package installs (plain uvicorn: h11 and asyncio)
  sdk-fast         the same server on rewardkit's stack (uvloop and httptools, as rewardkit installs)
  math-1w/math-2w  rewardkit math_accuracy, 1 and 2 workers, a different radical every request (sympy, ~13 ms)
  hang-clean       math_accuracy, 2 workers, --timeout HANG_TIMEOUT, no hostile traffic
  hang             the same server while one hostile request (math-verify would spend 5 s) arrives every second

--only runs the named scenarios alone (comma-separated, e.g. `ceiling,trivial`).
--baseline CHECKOUT adds the trivial scenarios served by the rewardkit in another
checkout (a folder holding `rewardkit/`, e.g. `git archive main | tar -x -C DIR`),
named `base:trivial`, ...: a change and what it changes, measured in the same
rounds on the same loaded machine.

Each round also measures the machine itself, with no server involved: two
processes against one, spinning in pure Python and doing the math scenario's
own comparisons. The second is the most two reward workers can gain over one
here: the two vCPUs may share a core's caches, and sympy's working set feels it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

VERTEX_BODY = {
    "example": {"contents": [{"role": "user", "parts": [{"text": "What is 12 * 6?"}]}], "references": {"answer": "72"}},
    "response": {"role": "model", "parts": [{"text": "12 * 6 = 72, so the answer is \\boxed{72}."}]},
    "metadata": {"step": 1, "tuning_job_id": "123"},
}
DASHSCOPE_BODY = {
    "func_type": "reward",
    "request_metadata": {"job_id": "j", "sample_id": "s", "rollout_id": "r", "attempt_id": "0"},
    "agent_output": {"messages": [{"role": "user", "content": "What is 12 * 6?"},
                                  {"role": "assistant", "content": "The answer is 72."}],
                     "rollout_extra": {"solution": "72"}},
}
HOSTILE_BODY = {
    "example": {"contents": [], "references": {"answer": "72"}},
    "response": {"parts": [{"text": "so the answer is \\boxed{9^{9^{9^{9}}}}"}]},
}

# A different radical every request, so no cache can answer and sympy must work (~13 ms a call):
# \boxed{\frac{2\sqrt{n}}{2}} against gold \sqrt{n}.
MATH_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local n = math.random(2, 1000000)
  local body = string.format('{"example": {"contents": [], "references": {"answer": "\\\\sqrt{%d}"}}, '
    .. '"response": {"parts": [{"text": "So the answer is \\\\boxed{\\\\frac{2\\\\sqrt{%d}}{2}}"}]}}', n, n)
  return wrk.format(nil, nil, nil, body)
end
"""


def math_body(n: int) -> dict:
    return {"example": {"contents": [], "references": {"answer": f"\\sqrt{{{n}}}"}},
            "response": {"parts": [{"text": f"So the answer is \\boxed{{\\frac{{2\\sqrt{{{n}}}}}{{2}}}}"}]}}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int


@dataclass
class Scenario:
    name: str
    command: list[str]
    path: str
    body: dict | None = None  # None: MATH_LUA generates the bodies
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None
    results: list[Result] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rewardkit_serve(*args: str) -> list[str]:
    return [sys.executable, "-m", "rewardkit", "serve", *args, "--host", "127.0.0.1", "--log-level", "warning",
            "--no-access-log"]


def plain_uvicorn_path() -> str:
    """A PYTHONPATH under which uvloop and httptools do not import, so uvicorn runs as the dashscope
    package installs it (it depends on plain `uvicorn`: h11 and asyncio). Uvicorn's worker processes
    inherit it."""
    folder = Path(tempfile.mkdtemp(prefix="plain-uvicorn-"))
    (folder / "sitecustomize.py").write_text(
        "import sys\nsys.modules['uvloop'] = None\nsys.modules['httptools'] = None\n")
    return os.pathsep.join([str(folder), str(HERE), str(REPO)])


def baseline_scenarios(scenarios: list[Scenario], checkout: Path) -> list[Scenario]:
    """The trivial scenarios again, served by the rewardkit in `checkout` (first on the path, workers included)."""
    if not (checkout / "rewardkit" / "__init__.py").is_file():
        raise SystemExit(f"--baseline {checkout}: no rewardkit/ package in that folder")
    path = os.pathsep.join([str(checkout), str(HERE)])
    return [Scenario(f"base:{s.name}", s.command, s.path, s.body, env={**s.env, "PYTHONPATH": path})
            for s in scenarios if s.name.startswith("trivial")]


def start(scenario: Scenario) -> None:
    scenario.port = free_port()
    command = [part.replace("{port}", str(scenario.port)) for part in scenario.command]
    if "--host" in command and "--port" not in command:
        command += ["--port", str(scenario.port)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]), **scenario.env,
           "SERVER_PORT": str(scenario.port)}
    scenario.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_ready(scenario: Scenario, timeout: float = 120) -> None:
    body = scenario.body or math_body(1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if scenario.process.poll() is not None:
            raise SystemExit(f"{scenario.name}: server exited: {scenario.process.stderr.read()[-2000:]}")
        try:
            if httpx.post(scenario.url, json=body, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{scenario.name}: not ready after {timeout} s")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


# Appended to every script: the run's bound in answers. wrk itself bounds only time, and after a thread
# stops it still waits out -d and divides by it, so the script times the answers itself (LuaJIT's ffi).
STOP_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } rk_timespec;
int clock_gettime(int clk_id, rk_timespec *tp);
]]
local function now()
  local t = ffi.new("rk_timespec")
  ffi.C.clock_gettime(1, t)  -- CLOCK_MONOTONIC
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end
local threads, answered, started = {}, 0, 0
setup = function(thread) table.insert(threads, thread) end
init = function(args) started = now() end
response = function()
  answered = answered + 1
  if answered >= {limit} then
    wrk.thread:set("active", now() - started)
    wrk.thread:set("answered", answered)
    wrk.thread:stop()
  end
end
done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("active") then
      io.write(string.format("stopped early: %d answers in %.6f s\\n", thread:get("answered"), thread:get("active")))
    end
  end
end
"""


def run_wrk(scenario: Scenario, duration: float, connections: int, max_requests: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if scenario.body is None:
            script.write(MATH_LUA)
        else:
            script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                         f"wrk.body = {json.dumps(json.dumps(scenario.body))}\n")
        script.write(STOP_LUA.replace("{limit}", str(max_requests)))
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
                              "--timeout", "30s",
                              "-s", script.name, scenario.url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    if "Requests/sec" not in out or "99%" not in out:
        raise SystemExit(f"{scenario.name}: unexpected wrk output:\n{out}")
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    early = re.search(r"stopped early: (\d+) answers in ([\d.]+) s", out)
    rps = (int(early.group(1)) / float(early.group(2)) if early
           else float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
    return Result(
        rps=rps,
        p50_ms=_ms(percentiles["50"]), p99_ms=_ms(percentiles["99"]), max_ms=_ms(latency.group(3)),
        errors=((int(errors.group(1)) if errors else 0)
                + (sum(map(int, socket_errors.groups())) if socket_errors else 0)),
    )


def run_httpx(scenario: Scenario, duration: float, connections: int, max_requests: int) -> Result:
    async def main() -> Result:
        latencies: list[float] = []
        errors = 0
        deadline = time.monotonic() + duration
        counter = iter(range(1, 10**9))

        async def user(client: httpx.AsyncClient) -> None:
            nonlocal errors
            while time.monotonic() < deadline and len(latencies) < max_requests:
                body = scenario.body or math_body(next(counter))
                began = time.perf_counter()
                answer = await client.post(scenario.url, json=body)
                latencies.append((time.perf_counter() - began) * 1000)
                errors += answer.status_code != 200

        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=connections)) as client:
            started = time.monotonic()
            await asyncio.gather(*(user(client) for _ in range(connections)))
            elapsed = time.monotonic() - started
        latencies.sort()
        return Result(len(latencies) / elapsed, latencies[len(latencies) // 2],
                      latencies[int(len(latencies) * 0.99)], latencies[-1], errors)

    return asyncio.run(main())


class HostileTraffic:
    """One hostile request a second, in a thread, recording each latency and answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self.codes: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _one(self) -> None:
        began = time.perf_counter()
        try:
            answer = httpx.post(self.url, json=HOSTILE_BODY, timeout=60)
            code = answer.json().get("error_code", answer.status_code)
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        self.latencies.append(time.perf_counter() - began)
        self.codes.append(str(code))

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            thread = threading.Thread(target=self._one)
            thread.start()
            self._threads.append(thread)

    def __enter__(self) -> "HostileTraffic":
        self._sender = threading.Thread(target=self._loop)
        self._sender.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sender.join()
        for thread in self._threads:
            thread.join()


def _spin(seconds: float) -> int:
    """Pure-Python work for `seconds`: how many loop rounds it got done."""
    rounds, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(10_000):
            pass
        rounds += 1
    return rounds


def _compare(seconds: float) -> int:
    """The math scenario's work without a server: how many of its comparisons get done in `seconds`."""
    import random

    sys.path.insert(0, str(REPO))
    from rewards.math._equivalence import answers_equivalent

    answers_equivalent("\\sqrt{2}", "\\frac{2\\sqrt{2}}{2}", timeout_seconds=5)  # first-call set-up, not timed
    rng, done, deadline = random.Random(), 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        n = rng.randint(2, 1_000_000)
        answers_equivalent(f"\\sqrt{{{n}}}", f"\\frac{{2\\sqrt{{{n}}}}}{{2}}", timeout_seconds=5)
        done += 1
    return done


def cpu_scaling(work: Callable[[float], int], seconds: float = 2.0) -> float:
    """How much two busy processes get done against one, on this machine, now (virtual CPUs can be
    hyperthreads of one core, and neighbours share them)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        one = pool.apply(work, (seconds,))
        two = sum(pool.map(work, [seconds, seconds]))
    return two / one


def median(results: list[Result], attribute: str) -> float:
    return statistics.median(getattr(r, attribute) for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="answers after which a measurement stops early (default 200000)")
    parser.add_argument("--hang-timeout", type=float, default=0.5,
                        help="rewardkit --timeout in the hostile-traffic scenario (default 0.5 s)")
    parser.add_argument("--only", default=None, metavar="NAMES",
                        help="comma-separated scenarios to run (default all; `hang` and the CPU scaling run with "
                        "hang-clean and math-2w)")
    parser.add_argument("--baseline", default=None, metavar="CHECKOUT",
                        help="also serve the trivial scenarios from the rewardkit in this folder (base:trivial...)")
    args = parser.parse_args()
    generator = run_wrk if shutil.which("wrk") else run_httpx

    def load(scenario: Scenario, duration: float, connections: int) -> Result:
        return generator(scenario, duration, connections, args.max_requests)

    print(f"load generator: {'wrk' if generator is run_wrk else 'httpx (install wrk for exact figures)'}; "
          f"{os.cpu_count()} CPUs; {args.rounds} rounds x {args.duration:g} s, {args.connections} connections")

    scenarios = [
        Scenario("ceiling", [sys.executable, "-m", "uvicorn", "bench_apps:ceiling", "--host", "127.0.0.1",
                             "--log-level", "warning", "--no-access-log"], "/", VERTEX_BODY),
        Scenario("trivial", rewardkit_serve(str(HERE / "bench_rewards.py"), "--workers", "2"), "/rewards/constant",
                 VERTEX_BODY),
        Scenario("trivial-async", rewardkit_serve(str(HERE / "bench_rewards.py"), "--workers", "2"),
                 "/rewards/constant_async", VERTEX_BODY),
        Scenario("trivial-ds", rewardkit_serve(str(HERE / "bench_rewards.py"), "--workers", "2"),
                 "/rewards/constant/api/v1", DASHSCOPE_BODY),
        Scenario("math-1w", rewardkit_serve("rewards", "--workers", "1"), "/rewards/math_accuracy"),
        Scenario("math-2w", rewardkit_serve("rewards", "--workers", "2"), "/rewards/math_accuracy"),
        Scenario("hang-clean", rewardkit_serve("rewards", "--workers", "2", "--timeout", str(args.hang_timeout)),
                 "/rewards/math_accuracy"),
    ]
    sys.path.insert(0, str(HERE))
    from bench_apps import ConstantProcessor

    if ConstantProcessor is not None:
        sdk = [sys.executable, "-m", "dashscope.finetune.reinforcement.component.server.server"]
        sdk_env = {"FUNC_TYPE": "reward", "PROCESSOR_CLASS": "bench_apps.ConstantProcessor", "ENABLE_LOGGING": "false"}
        scenarios[4:4] = [
            Scenario("sdk", sdk, "/api/v1", DASHSCOPE_BODY, env={**sdk_env, "PYTHONPATH": plain_uvicorn_path()}),
            Scenario("sdk-fast", sdk, "/api/v1", DASHSCOPE_BODY, env=sdk_env),
        ]
    else:
        print("dashscope not installed: the SDK reference server is skipped")
    hang = next(s for s in scenarios if s.name == "hang-clean")
    if args.baseline:
        scenarios += baseline_scenarios(scenarios, Path(args.baseline).resolve())
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in scenarios}
        if unknown:
            raise SystemExit(f"--only: no scenario named {', '.join(sorted(unknown))}; "
                             f"scenarios: {', '.join(s.name for s in scenarios)}")
        scenarios = [s for s in scenarios if s.name in wanted]
    hang_results: list[Result] = []
    hostile_latencies: list[float] = []
    hostile_codes: list[str] = []
    scaling: dict[str, list[float]] = {"spin": [], "math": []}
    try:
        for scenario in scenarios:
            start(scenario)
        for scenario in scenarios:
            wait_ready(scenario)
            load(scenario, 2.0, args.connections)  # warm-up
        for round_number in range(1, args.rounds + 1):
            for scenario in scenarios:
                scenario.results.append(load(scenario, args.duration, args.connections))
            if hang in scenarios:
                with HostileTraffic(hang.url) as hostile:
                    hang_results.append(load(hang, args.duration, args.connections))
                hostile_latencies += hostile.latencies
                hostile_codes += hostile.codes
            if any(s.name == "math-2w" for s in scenarios):
                scaling["spin"].append(cpu_scaling(_spin))  # the servers are idle meanwhile
                scaling["math"].append(cpu_scaling(_compare))
            print(f"round {round_number} done", file=sys.stderr)
    finally:
        for scenario in scenarios:
            if scenario.process is not None:
                scenario.process.terminate()
                scenario.process.wait(timeout=20)

    print(f"\n{'scenario':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} {'errors':>7}")
    rows = [(s.name, s.results) for s in scenarios] + ([("hang", hang_results)] if hang_results else [])
    for name, results in rows:
        print(f"{name:<12} {median(results, 'rps'):>9.0f} {median(results, 'p50_ms'):>8.2f} "
              f"{median(results, 'p99_ms'):>8.2f} {max(r.max_ms for r in results):>9.1f} "
              f"{sum(r.errors for r in results):>7}")
    rps = {name: median(results, "rps") for name, results in rows}
    print("\nratios of medians (target):")
    ratios = [("trivial", "ceiling", ">= 0.8"), ("trivial-async", "ceiling", ">= 0.8"),
              ("trivial-ds", "sdk", ">= 2; each as its package installs it"),
              ("trivial-ds", "sdk-fast", "same HTTP stack")]
    ratios += [(f"base:{name}", below, f"{target}; the baseline checkout") for name, below, target in ratios
               if f"base:{name}" in rps]
    for name, below, target in ratios:
        if name in rps and below in rps:
            print(f"  {name + ' / ' + below:<28} {rps[name] / rps[below]:.2f}  ({target})")
    if "math-2w" in rps and "math-1w" in rps:
        print(f"  math-2w / math-1w        {rps['math-2w'] / rps['math-1w']:.2f}  (>= 1.6; this machine's own "
              f"2-process scaling, no server: {statistics.median(scaling['math']):.2f} for the same comparisons, "
              f"{statistics.median(scaling['spin']):.2f} for pure-Python spinning)")
    if hang_results and "hang-clean" in rps:
        print(f"  hang / hang-clean        {rps['hang'] / rps['hang-clean']:.2f}  (>= 0.5)")
        bound = args.hang_timeout + 1.0
        worst_good = max(r.max_ms for r in hang_results) / 1000
        worst_hostile = max(hostile_latencies, default=0.0)
        print(f"  slowest good request under hostile traffic: {worst_good:.2f} s (<= timeout + 1 = {bound:g} s)")
        print(f"  slowest hostile request: {worst_hostile:.2f} s (<= {bound:g} s); "
              f"{len(hostile_codes)} sent, answers: {sorted(set(hostile_codes))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Step-shaped bursts across several `rewardkit serve` instances behind a round-robin proxy.

    python bench/scale_bench.py [--instances 1,2,4] [--families math,judge,code] [--burst 512] [--steps 3]
                                [--warmup 1] [--idle 2] [--workers 2] [--judge-latency 0.05] [--judge-rpm 3000]
                                [--redis] [--json FILE]

A tuning job asks for every reward of a step at once and then waits for its trainer: --burst calls
(samples_per_prompt x batch_size: 16 x 32 = 512) sent together, answered, then --idle seconds of nothing,
--steps times after --warmup unmeasured steps. The calls go to a small round-robin proxy (this file, run
as its own process) in front of N real `rewardkit serve` processes on loopback, each with --workers
worker processes and REWARDKIT_MAX_QUEUE large enough for the whole burst (what `rewardkit config
capacity` sizes). For each family and instance count it reports the step's wall time and the calls'
latency p50 / p99 / max over the measured steps, and failures (any answer that is not a score).

Families (bench/scale_rewards.py): `math` (math_accuracy, a different fraction in each call), `code`
(code_tests, a small stdin program against four cases in the sandbox), `judge` (a judge reward against
tests/judge_server.py answering after --judge-latency seconds, limited to --judge-rpm requests a minute
per instance). For the judge the fake judge's own count gives the rate it saw: over the whole step and
its busiest second. Without shared limits each instance paces itself, so the judge sees about N times
--judge-rpm.

--redis starts a redis-server on a loopback port (Debian's package; refused when it is not installed) and
gives every instance REWARDKIT_REDIS_URL, which shares the judge's limits across instances where the
installed rewardkit supports it; the judge's observed rate then stays near --judge-rpm whatever N is.

The machine's cores are shared by every instance, the proxy and this client: on 2 cores more instances
add no CPU, so the CPU-bound families show the proxy's and the processes' overhead rather than scaling;
the judge family, bound by the judge's latency and limits, shows what crossing instances does.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.judge_server import running as judge_running  # noqa: E402
from tests.served import free_port, serve, wait_healthy  # noqa: E402

TARGET = str(REPO / "bench" / "scale_rewards.py")
FAMILIES = {"math": "math_accuracy", "judge": "judged", "code": "code_tests"}
ADD_PROGRAM = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
ADD_TESTS = json.dumps({"inputs": ["1 2\n", "10 5\n", "-4 6\n", "0 0\n"], "outputs": ["3\n", "15\n", "2\n", "0\n"]})


# ---- the proxy (run as `scale_bench.py proxy --port P --backend URL...`) -------------------------

def proxy_app(backends: list[str]) -> Any:
    """A plain ASGI app sending each request to the next backend in turn, body and status as they are."""
    turn = itertools.cycle(backends)
    limits = httpx.Limits(max_connections=2048, max_keepalive_connections=2048)
    client = httpx.AsyncClient(limits=limits, timeout=600)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"host", b"content-length")]
        path = scope["path"] + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        try:
            answer = await client.request(scope["method"], next(turn) + path, content=body, headers=headers)
            status, content = answer.status_code, answer.content
            kept = [(k.encode(), v.encode()) for k, v in answer.headers.items()
                    if k.lower() in ("content-type", "retry-after")]
        except httpx.HTTPError as exc:
            status, content, kept = 502, f"proxy: {type(exc).__name__}: {exc}".encode(), []
        await send({"type": "http.response.start", "status": status,
                    "headers": kept + [(b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})

    return app


def run_proxy(argv: list[str]) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="scale_bench.py proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", action="append", required=True)
    args = parser.parse_args(argv)
    uvicorn.run(proxy_app(args.backend), host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                backlog=4096)


@contextlib.contextmanager
def proxy(backends: list[str]) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, __file__, "proxy", "--port", str(port), *(f"--backend={b}" for b in backends)]
    with tempfile.NamedTemporaryFile("w+", prefix="scale-proxy-", suffix=".log") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(process, url, 60, "the proxy", lambda: Path(log.name).read_text())
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)


# ---- redis ---------------------------------------------------------------------------------

@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a loopback port, no persistence; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--redis needs redis-server (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="scale-redis-") as folder:
        process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", folder], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=15)


# ---- the bursts ----------------------------------------------------------------------------

def body(family: str, step: int, call: int) -> dict[str, Any]:
    """One Vertex call; every call of every step differs, so no cache answers it."""
    if family == "math":
        n = step * 100_000 + call + 1
        prompt, references = f"What is {n}/{n + 1}?", {"answer": f"\\frac{{{n}}}{{{n + 1}}}"}
        text = f"Dividing, the result is $\\boxed{{\\dfrac{{{n}}}{{{n + 1}}}}}$."
    elif family == "code":
        prompt, references, text = "Write the program.", {"tests": ADD_TESTS}, ADD_PROGRAM + f"\n# {step}.{call}"
    else:
        prompt, references, text = f"Question {step}.{call}", {}, f"Answer {step}.{call}: it is {call * 7}."
    return {"example": {"contents": [{"role": "user", "parts": [{"text": prompt}]}], "references": references},
            "response": {"role": "model", "parts": [{"text": text}]}, "metadata": {"step": step, "tuning_job_id": "28"}}


async def one(client: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> tuple[float, str | None]:
    started = time.perf_counter()
    try:
        answer = await client.post(path, json=payload)
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, f"{type(exc).__name__}"
    latency = time.perf_counter() - started
    try:
        data = answer.json()
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    if answer.status_code == 200 and isinstance(data.get("reward"), (int, float)):
        return latency, None
    return latency, f"HTTP {answer.status_code} {data.get('error_code') or ''}".strip()  # Vertex's failure body


async def judge_sampler(judge: str, samples: list[tuple[float, int]], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            try:  # a kept-alive connection the judge closed as it was reused: the next tick asks again
                stats = (await client.get(f"{judge}/stats")).json()
                samples.append((time.perf_counter(), stats["requests"]))
            except httpx.HTTPError:
                pass
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)


def busiest_second(samples: list[tuple[float, int]]) -> float:
    """The most judge requests within any one second of the samples."""
    best = 0.0
    for i, (start, count) in enumerate(samples):
        for end, later in samples[i + 1:]:
            if end - start >= 1.0:
                best = max(best, (later - count) / (end - start))
                break
    if not best and len(samples) > 1 and samples[-1][0] > samples[0][0]:  # a step shorter than a second
        best = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
    return best


async def burst(url: str, family: str, step: int, size: int, judge: str | None) -> dict[str, Any]:
    path = f"/rewards/{FAMILIES[family]}"
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    samples: list[tuple[float, int]] = []
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=600) as client:
        sampler = asyncio.create_task(judge_sampler(judge, samples, stop)) if judge else None
        await asyncio.sleep(0.15 if judge else 0)
        started = time.perf_counter()
        results = await asyncio.gather(*(one(client, path, body(family, step, n)) for n in range(size)))
        wall = time.perf_counter() - started
        stop.set()
        if sampler:
            await sampler
    out: dict[str, Any] = {"wall": wall, "latencies": [r[0] for r in results],
                           "failures": [r[1] for r in results if r[1]]}
    if judge and len(samples) > 1:
        out["judge_requests"] = samples[-1][1] - samples[0][1]
        out["judge_peak"] = busiest_second(samples)
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * share)) - 1]


def measure(family: str, instances: int, args: argparse.Namespace, judge: str | None, redis: str | None) -> dict:
    env = {"REWARDKIT_MAX_QUEUE": str(args.burst), "SCALE_JUDGE_RPM": str(args.judge_rpm),
           "SCALE_JUDGE_CAP": str(args.judge_cap), "OPENAI_API_KEY": "bench"}
    if judge:
        env.update({"REWARDKIT_JUDGE_BASE_URL": f"{judge}/v1", "REWARDKIT_JUDGE_MODEL": "fake-judge"})
    if redis:
        env["REWARDKIT_REDIS_URL"] = redis
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(serve([TARGET, "--workers", str(args.workers), "--log-level", "warning",
                                           "--no-access-log"], env=env, timeout=120)).url
                for _ in range(instances)]
        front = stack.enter_context(proxy(urls))
        steps = []
        for step in range(args.warmup + args.steps):
            result = asyncio.run(burst(front, family, step, args.burst, judge))
            if step >= args.warmup:
                steps.append(result)
            print(f"  {family} x{instances} step {step}{' (warm-up)' if step < args.warmup else ''}: "
                  f"{result['wall']:.2f} s, {len(result['failures'])} failed"
                  + (f", judge {result['judge_requests'] / result['wall']:.0f}/s" if 'judge_requests' in result
                     else ""), file=sys.stderr, flush=True)
            time.sleep(args.idle)
    latencies = [value for s in steps for value in s["latencies"]]
    row = {"family": family, "instances": instances, "redis": bool(redis), "calls": len(latencies),
           "step_s": statistics.median(s["wall"] for s in steps), "p50_ms": percentile(latencies, 0.5) * 1000,
           "p99_ms": percentile(latencies, 0.99) * 1000, "max_ms": max(latencies) * 1000,
           "failed": sum(len(s["failures"]) for s in steps),
           "failures": dict(collections.Counter(kind for s in steps for kind in s["failures"])),
           "calls_per_s": len(latencies) / sum(s["wall"] for s in steps)}
    if judge:
        row["judge_rate"] = sum(s.get("judge_requests", 0) for s in steps) / sum(s["wall"] for s in steps)
        row["judge_peak"] = max(s.get("judge_peak", 0.0) for s in steps)
    return row


def failures(row: dict[str, Any]) -> str:
    """What the failed calls answered: ` (HTTP 500 TIMEOUT x3)`."""
    kinds = row.get("failures") or {}
    return f" ({', '.join(f'{kind} x{count}' for kind, count in kinds.items())})" if kinds else ""


def table(rows: list[dict[str, Any]], rpm: float) -> str:
    lines = ["| family | instances | redis | step (median) | calls/s | p50 ms | p99 ms | max ms | failed "
             "| judge req/s (step, busiest second) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        judged = (f"{r['judge_rate']:.0f}, {r['judge_peak']:.0f} (limit {rpm / 60:.0f}/s per instance)"
                  if "judge_rate" in r else "")
        lines.append(f"| {r['family']} | {r['instances']} | {'yes' if r['redis'] else 'no'} | {r['step_s']:.2f} s | "
                     f"{r['calls_per_s']:.0f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['max_ms']:.0f} | "
                     f"{r['failed']}{failures(r)} | {judged} |")
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["proxy"]:
        return run_proxy(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="1,2,4", help="instance counts to measure (default 1,2,4)")
    parser.add_argument("--families", default="math,judge,code", help="reward families (default math,judge,code)")
    parser.add_argument("--burst", type=int, default=512, help="calls per step, sent at once (default 512)")
    parser.add_argument("--steps", type=int, default=3, help="measured steps (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured steps first (default 1)")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds between steps (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per instance (default 2)")
    parser.add_argument("--judge-latency", type=float, default=0.05, help="the fake judge's seconds per answer")
    parser.add_argument("--judge-rpm", type=float, default=3000, help="the judge reward's requests a minute, per "
                        "instance unless shared (default 3000: 50/s)")
    parser.add_argument("--judge-cap", type=int, default=32, help="the judge reward's requests in flight (default 32)")
    parser.add_argument("--redis", action="store_true", help="run the instances with REWARDKIT_REDIS_URL set too")
    parser.add_argument("--json", default=None, help="write the rows as JSON to this file")
    args = parser.parse_args()
    counts = [int(n) for n in args.instances.split(",")]
    families = args.families.split(",")
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise SystemExit(f"unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    print(f"{os.cpu_count()} CPUs; {args.burst} calls per step, {args.steps} steps (+{args.warmup} warm-up), "
          f"{args.workers} workers per instance", file=sys.stderr)
    rows = []
    with contextlib.ExitStack() as stack:
        judge = stack.enter_context(judge_running()) if "judge" in families else None
        if judge:
            script = {"latency": args.judge_latency, "default": "Score: 4"}
            httpx.post(f"{judge}/control", json=script).raise_for_status()
        redis_modes = [None, stack.enter_context(redis_server())] if args.redis else [None]
        for family in families:
            for redis in redis_modes if family == "judge" else [None]:
                for count in counts:
                    rows.append(measure(family, count, args, judge if family == "judge" else None, redis))
                    print(table(rows[-1:], args.judge_rpm).splitlines()[-1], file=sys.stderr, flush=True)
                    if args.json:  # as it goes: a long run that stops early keeps what it measured
                        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows, args.judge_rpm))


if __name__ == "__main__":
    main()

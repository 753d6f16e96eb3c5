"""What rewardkit costs before a reward runs: import time, and the judge client's own time per call.

    python bench/overhead_bench.py [--against REV] [--rounds 7] [--calls 400] [--redis-url URL]

Measures this checkout and, with --against, the tree of a git revision (`git archive` into a
temporary folder, imported through PYTHONPATH), side by side in one run, rounds interleaved:

- import: `python -X importtime -c "import rewardkit"` and `... "import rewardkit.clients.judge"`,
  the cumulative microseconds of the top module (median over --rounds fresh interpreters);
- per call, judge path: microseconds per `AsyncJudge.complete` (a) answered from the memory cache,
  (b) sent to tests/judge_server.py (no latency) with the cache off, (c) the same with a
  requests-per-minute limit that never waits (the limiter's cost), and the client's overhead: (b)
  less a bare aiohttp POST of the same body on the same server (median over --rounds of --calls
  calls each). With --redis-url (or REWARDKIT_REDIS_URL), (d) a hit from the Redis cache (the memory
  cache emptied before each call) and (e) (c) with the limit and the concurrency cap shared through
  that Redis (this checkout only: an older tree has no Redis).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.judge_server import running  # noqa: E402

# Runs in a fresh interpreter whose PYTHONPATH starts with the tree measured; prints one JSON object.
PER_CALL = r'''
import asyncio, json, os, statistics, sys, time
import aiohttp
import rewardkit
from rewardkit.clients.judge import AsyncJudge, JudgeLimits

url, calls, redis_url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
assert rewardkit.__file__.startswith(sys.argv[4]), rewardkit.__file__


def judge(**options):
    return AsyncJudge("m", base_url=url + "/v1", api_key_env=None, **options)


async def per_call(client, vary, forget=False):
    times = []
    for i in range(calls):
        messages = [{"role": "user", "content": f"answer {i if vary else 0}"}]
        if forget:  # this process's memory forgets: the hit comes from Redis
            client._memory.clear()
        started = time.perf_counter()
        await client.complete(messages)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


async def bare():
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "answer 0"}],
                       "temperature": 0.0}).encode()
    times = []
    async with aiohttp.ClientSession() as session:
        for _ in range(calls):
            started = time.perf_counter()
            async with session.post(url + "/v1/chat/completions", data=body,
                                    headers={"Content-Type": "application/json"}) as answer:
                await answer.text()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


async def main():
    hit = judge()
    await hit.complete([{"role": "user", "content": "answer 0"}])
    out = {"hit": await per_call(hit, False), "miss": await per_call(judge(cache=False), True),
           "limited": await per_call(judge(cache=False, limits=JudgeLimits(requests_per_minute=1e9)), True),
           "bare": await bare()}
    if redis_url:
        shared = judge(limits=JudgeLimits(redis_url=redis_url))
        await shared.complete([{"role": "user", "content": "answer 0"}])
        out["redis hit"] = await per_call(shared, False, forget=True)
        out["redis limited"] = await per_call(
            judge(cache=False, limits=JudgeLimits(requests_per_minute=1e9, redis_url=redis_url)), True)
    print(json.dumps(out))

asyncio.run(main())
'''


def tree_of(revision: str, folder: Path) -> Path:
    """The files of `revision`, extracted under `folder`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def environment(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}


def import_micros(tree: Path, module: str) -> int:
    """Cumulative microseconds `import module` took in a fresh interpreter (its line in -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], env=environment(tree),
                          capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    for line in reversed(done.stderr.splitlines()):
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+(\S+)\s*$", line)
        if found and found.group(2) == module:
            return int(found.group(1))
    raise SystemExit(f"no import time for {module} in:\n{done.stderr[-2000:]}")


def per_call(tree: Path, judge_url: str, calls: int, redis_url: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", PER_CALL, judge_url, str(calls), redis_url, str(tree)],
                          env=environment(tree), capture_output=True, text=True, cwd=tempfile.gettempdir())
    if done.returncode:
        raise SystemExit(f"the per-call bench failed in {tree}:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["overhead"] = figures["miss"] - figures["bare"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="a git revision to measure beside this checkout (e.g. main)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--redis-url", default=os.environ.get("REWARDKIT_REDIS_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="overhead-bench-") as folder, running() as judge_url:
        trees = {"this checkout": REPO}
        if args.against:
            trees = {args.against: tree_of(args.against, Path(folder)), **trees}
        results: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                figures: dict[str, Any] = {"import rewardkit (ms)": import_micros(tree, "rewardkit") / 1000,
                                           "import rewardkit.clients.judge (ms)":
                                               import_micros(tree, "rewardkit.clients.judge") / 1000}
                redis_url = args.redis_url if tree is REPO else ""
                for key, value in per_call(tree, judge_url, args.calls, redis_url).items():
                    figures[f"judge call, {key} (us)"] = value
                for key, value in figures.items():
                    results[name].setdefault(key, []).append(value)
    rows = sorted({key for figures in results.values() for key in figures}, key=lambda k: (not k.startswith("import"),
                                                                                           k))
    print(f"medians of {args.rounds} rounds, {args.calls} calls a round")
    print(f"{'':44}" + "".join(f"{name:>18}" for name in trees))
    for row in rows:
        cells = [results[name].get(row) for name in trees]
        print(f"{row:44}" + "".join(f"{statistics.median(c):18.1f}" if c else f"{'n/a':>18}" for c in cells))


if __name__ == "__main__":
    main()

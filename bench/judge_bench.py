"""LLM-judge throughput: rewardkit's judge rewards against one-at-a-time judging, and the HTTP clients themselves.

    python bench/judge_bench.py [--latency 0.2] [--prompts 64] [--group 8] [--caps 32,64,128] [--rounds 3]
                                [--serial 24] [--sections throughput,clients,checklists]

The judge is tests/judge_server.py (the OpenAI chat completions protocol on uvicorn) answering
each request after --latency seconds. A GRPO-shaped step is --prompts group requests of --group
responses each, all sent at once to a real `rewardkit serve` whose `quality` judge reward
(tests/judge_rewards.py) has its concurrency cap set to each of --caps. The baseline asks the
judge for one sample at a time, as a plain TRL reward function does (--serial samples, then the
rate). "replay" sends the same step again: every verdict comes from the cache. The judge server
reports the most requests it saw in flight; it must never pass the cap.

The client section sends --prompts x --group requests straight to the judge with at most CAP in
flight, through: httpx.AsyncClient with its default pool limits (100 connections, 20 kept
alive), httpx with the pool sized to the cap, aiohttp (what AsyncJudge uses),
and a raw asyncio HTTP/1.1 client (one kept-alive connection per slot) as the floor.
Figures are medians over --rounds; the rounds interleave the scenarios.

The checklist section scores a step of rows with 8 judged criteria each (tests/checklist_rewards.py,
the cap the first of --caps): `checklist` asks one call per row, `checklist_each` one call per
criterion; then the same step through one judge (`graded`) and a three-judge panel (`panel`,
three models, each member with that cap). It reports wall time, judge requests, tokens the
judge reported, and the most requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rewardkit.testing import group_request  # noqa: E402
from tests.judge_server import running  # noqa: E402
from tests.served import serve  # noqa: E402

JUDGE_REWARDS = str(REPO / "tests" / "judge_rewards.py")
CHECKLIST_REWARDS = str(REPO / "tests" / "checklist_rewards.py")
EIGHT = [f"criterion {n} [{'Y' if n % 3 else 'N'}]" for n in range(1, 9)]


def step(prompts: int, size: int, tag: str) -> list[dict[str, Any]]:
    return [group_request([f"{tag} answer {p}.{r}: it is {p * r}" for r in range(size)], prompt=f"{tag} question {p}")
            for p in range(prompts)]


def script(url: str, **settings: Any) -> None:
    httpx.post(f"{url}/control", json=settings).raise_for_status()


def judge_stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/stats").json()


# ---- rewardkit through `rewardkit serve` ------------------------------------------------------

async def send_step(url: str, bodies: list[dict[str, Any]], reward: str = "quality") -> float:
    return (await send_answers(url, bodies, reward))[0]


async def send_answers(url: str, bodies: list[dict[str, Any]], reward: str) -> tuple[float, list[dict[str, Any]]]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        started = time.perf_counter()
        answers = await asyncio.gather(*(client.post(f"{url}/rewards/{reward}/api/v1", json=b) for b in bodies))
        elapsed = time.perf_counter() - started
    for answer in answers:
        if answer.status_code != 200 or answer.json()["status"] != "success":
            raise SystemExit(f"a judged step failed: {answer.text[:300]}")
    return elapsed, [a.json() for a in answers]


def tokens(answers: list[dict[str, Any]], reward: str) -> float:
    """The judge tokens a step's answers report (DashScope reward_metrics `<reward>.judge_tokens`)."""
    return sum(r["reward_metrics"].get(f"{reward}.judge_tokens", 0.0) for a in answers for r in a["reward"]["rewards"])


def checklists(judge_url: str, args: argparse.Namespace, cap: int) -> None:
    """One call per row against one call per criterion, and one judge against a panel of three, at one cap."""
    samples = args.prompts * args.group
    print(f"\nchecklists and panels, cap {cap}, {samples} samples a step     wall s  judge requests  judge tokens"
          "  max in flight")
    env = {"REWARDKIT_JUDGE_BASE_URL": f"{judge_url}/v1", "REWARDKIT_JUDGE_MODEL": "judge",
           "OPENAI_API_KEY": "sk-bench", "JUDGE_CAP": str(cap), "JUDGE_TIMEOUT": "120"}
    panel = {"judge-a": {"default": "Score: 5"}, "judge-b": {"default": "Score: 3"}, "judge-c": {"default": "Score: 4"}}
    runs = [("checklist", "one call per row (8 criteria)", {"checklist": {"[Y]": "yes", "[N]": "no"}}),
            ("checklist_each", "one call per criterion (8)", {"checklist": {"[Y]": "yes", "[N]": "no"}}),
            ("graded", "one judge", {"default": "Score: 4"}),
            ("panel", "three-judge panel (mean)", {"models": panel})]
    with serve([CHECKLIST_REWARDS, "--workers", "1", "--timeout", "120"], env=env) as served:
        for reward, label, judge_script in runs:
            walls, requests, spent, peaks = [], [], [], []
            for r in range(args.rounds):
                bodies = [group_request([f"{reward} round {r} answer {p}.{i}" for i in range(args.group)],
                                        prompt=f"question {p}", rollout_extra={"rubric": EIGHT})
                          for p in range(args.prompts)]
                script(judge_url, latency=args.latency, **judge_script)
                wall, answers = asyncio.run(send_answers(served.url, bodies, reward))
                seen = judge_stats(judge_url)
                walls.append(wall)
                requests.append(seen["requests"])
                peaks.append(seen["max_in_flight"])
                spent.append(tokens(answers, reward))
            print(f"  {reward:15} {label:40} {statistics.median(walls):7.2f} {statistics.median(requests):15.0f} "
                  f"{statistics.median(spent):13.0f} {max(peaks):14d}")


def serial(judge_url: str, count: int) -> float:
    """Seconds for `count` samples judged one after another with a plain synchronous client."""
    body = {"model": "m", "messages": [{"role": "user", "content": ""}], "temperature": 0.0}
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        for i in range(count):
            body["messages"][0]["content"] = f"serial answer {i}"
            client.post(f"{judge_url}/v1/chat/completions", json=body).raise_for_status()
        return time.perf_counter() - started


# ---- the clients alone --------------------------------------------------------------------------

def _chat(i: int) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": f"client answer {i}"}]}).encode()


async def _bounded(count: int, cap: int, one: Callable[[int], Awaitable[None]]) -> list[float]:
    slots = asyncio.Semaphore(cap)
    latencies: list[float] = []

    async def timed(i: int) -> None:
        async with slots:
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(timed(i) for i in range(count)))
    return latencies


async def httpx_client(url: str, count: int, cap: int, tuned: bool) -> list[float]:
    limits = httpx.Limits(max_connections=cap, max_keepalive_connections=cap) if tuned else httpx.Limits(
        max_connections=100, max_keepalive_connections=20)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def one(i: int) -> None:
            (await client.post(f"{url}/v1/chat/completions", content=_chat(i),
                               headers={"content-type": "application/json"})).raise_for_status()
        return await _bounded(count, cap, one)


async def aiohttp_client(url: str, count: int, cap: int) -> list[float]:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=cap)) as session:
        async def one(i: int) -> None:
            async with session.post(f"{url}/v1/chat/completions", data=_chat(i),
                                    headers={"content-type": "application/json"}) as answer:
                answer.raise_for_status()
                await answer.read()
        return await _bounded(count, cap, one)


async def raw_client(url: str, count: int, cap: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(cap):
        free.put_nowait(await asyncio.open_connection(host, int(port)))

    async def one(i: int) -> None:
        reader, writer = await free.get()
        body = _chat(i)
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body))
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"raw client: {head[:80]!r}")
        free.put_nowait((reader, writer))

    try:
        return await _bounded(count, cap, one)
    finally:
        while not free.empty():
            free.get_nowait()[1].close()


def clients() -> dict[str, Callable[[str, int, int], Awaitable[list[float]]]]:
    found: dict[str, Callable[[str, int, int], Awaitable[list[float]]]] = {
        "httpx default pool": lambda u, n, c: httpx_client(u, n, c, tuned=False),
        "httpx pool = cap": lambda u, n, c: httpx_client(u, n, c, tuned=True),
    }
    try:
        import aiohttp  # noqa: F401

        found["aiohttp"] = aiohttp_client
    except ImportError:
        pass
    found["raw asyncio"] = raw_client
    return found


# ---- report ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(
        description="LLM-judge throughput, rewardkit vs one at a time, and the HTTP clients")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--caps", default="32,64,128")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serial", type=int, default=24, help="samples judged one at a time for the baseline")
    parser.add_argument("--sections", default="throughput,clients,checklists",
                        help="which parts to run, comma-separated: throughput, clients, checklists")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    caps = [int(c) for c in args.caps.split(",")]
    samples = args.prompts * args.group
    print(f"judge latency {args.latency * 1000:.0f} ms; a step is {args.prompts} prompts x {args.group} responses "
          f"= {samples} samples; medians of {args.rounds} rounds; {os.cpu_count()} CPUs\n")
    with running() as judge_url:
        if "checklists" in sections:
            checklists(judge_url, args, caps[0])
        if "throughput" in sections:
            throughput(judge_url, args, caps)
        if "clients" in sections:
            client_table(judge_url, args, caps)


def throughput(judge_url: str, args: argparse.Namespace, caps: list[int]) -> None:
    samples = args.prompts * args.group
    script(judge_url, latency=args.latency, default="Score: 4")
    base = statistics.median(args.serial / serial(judge_url, args.serial) for _ in range(args.rounds))
    print(f"one at a time (sync httpx.Client, like a plain TRL reward): {base:7.1f} samples/s\n")
    print(f"{'rewardkit serve, quality judge':34} {'samples/s':>10} {'x serial':>9} {'max in flight':>14} "
          f"{'replay samples/s':>17} {'replay requests':>16}")
    for cap in caps:
        env = {"REWARDKIT_JUDGE_BASE_URL": f"{judge_url}/v1", "REWARDKIT_JUDGE_MODEL": "judge",
               "OPENAI_API_KEY": "sk-bench", "JUDGE_CAP": str(cap)}
        with serve([JUDGE_REWARDS, "--workers", "1", "--timeout", "120"], env=env) as served:
            rates, replays, peaks, replayed = [], [], [], []
            for r in range(args.rounds):
                bodies = step(args.prompts, args.group, f"cap{cap}-round{r}")
                script(judge_url, latency=args.latency, default="Score: 4")
                rates.append(samples / asyncio.run(send_step(served.url, bodies)))
                peaks.append(judge_stats(judge_url)["max_in_flight"])
                script(judge_url, latency=args.latency, default="Score: 4")
                replays.append(samples / asyncio.run(send_step(served.url, bodies)))
                replayed.append(judge_stats(judge_url)["requests"])
        rate = statistics.median(rates)
        flag = "" if max(peaks) <= cap else "  OVER THE CAP"
        print(f"  cap {cap:<29} {rate:10.1f} {rate / base:8.1f}x {max(peaks):14d} "
              f"{statistics.median(replays):17.1f} {max(replayed):16d}{flag}")


def client_table(judge_url: str, args: argparse.Namespace, caps: list[int]) -> None:
    samples = args.prompts * args.group
    print(f"\n{'client alone, ' + str(samples) + ' requests':34} {'cap':>5} {'req/s':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8}")
    table: dict[tuple[str, int], list[list[float]]] = {}
    for _ in range(args.rounds):
        for cap in caps:
            for name, client in clients().items():
                script(judge_url, latency=args.latency, default="Score: 4")
                started = time.perf_counter()
                latencies = asyncio.run(client(judge_url, samples, cap))
                elapsed = time.perf_counter() - started
                table.setdefault((name, cap), []).append([samples / elapsed, *_quantiles(latencies)])
    for (name, cap), runs in table.items():
        rate, p50, p99, worst = (statistics.median(run[k] for run in runs) for k in range(4))
        print(f"  {name:32} {cap:5d} {rate:8.1f} {p50 * 1000:8.0f} {p99 * 1000:8.0f} {worst * 1000:8.0f}")


def _quantiles(latencies: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


if __name__ == "__main__":
    main()
